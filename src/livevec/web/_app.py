"""`create_app()`: the shop's HTTP API, its live change stream and the page, on one database."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .._database import connect
from .._errors import StorageError, ValidationError
from ..demo import Product
from ..recommend import Recommender
from ._events import ChangeBroadcaster
from ._identity import ShopperAccess
from ._models import problems
from ._security import LOOPBACK, Guard, Hosts, check_token, documented_content_type, inline_script_policy
from ._shop import Shop
from ._streams import MemoryRelease, MessageCache, StreamSlots
from ._workers import Workers
from .routes import events, products, search, service, shoppers

STATIC = Path(str(resources.files("livevec.web") / "static"))
MAX_BODY = 1_000_000  # bytes of a request body: a product is a few kB
MAX_IMPORT = 50_000_000  # bytes of an import's body
# Swagger UI for the API docs page (5.x, which reads OpenAPI 3.1), from an installed package, so an
# offline install shows it too: fastapi-offline's copy of its files, served by the shop itself
SWAGGER = "/static/swagger"
SWAGGER_FILES = Path(str(resources.files("fastapi_offline") / "static"))


def create_app(
    db_url: str | Path,
    *,
    token: str | None = None,
    allowed_hosts: Iterable[str] = LOOPBACK,
    max_body: int = MAX_BODY,
    max_import: int = MAX_IMPORT,
    poll_interval: float = 0.2,
    max_streams: int = 500,
    max_streams_per_client: int = 20,
    message_cache_bytes: int = 16_000_000,
) -> FastAPI:
    """The shop on the database at `db_url`, as a FastAPI app to mount or run under any ASGI server.

    The database is opened, and its `products` table created if missing, when the app starts.
    `app.openapi()` is the document the docs' HTTP API reference is made from.

    Usage:
        ```python
        import uvicorn
        from livevec.web import create_app

        app = create_app("shop.db", token=os.environ["LIVEVEC_TOKEN"], allowed_hosts=["shop.example.com"])
        uvicorn.run(app, host="127.0.0.1", port=8000)
        ```

    Parameters:
        db_url: a SQLite file or a `postgresql://` URL.
        token: catalog writes need `Authorization: Bearer <token>` (without one, anyone who reaches
            the server may write).
        allowed_hosts: the names and addresses (or networks, "10.0.0.0/8") the Host header may name;
            loopback ones by default.
        max_body: bytes any request body but an import's may hold.
        max_import: bytes an import's body may hold.
        poll_interval: how often, in seconds, the change feed is read for `/events` (on PostgreSQL a
            notification of a commit by any process wakes the reader at once).
        max_streams: open event and recommendation streams in all (503 beyond).
        max_streams_per_client: the same per client address (429 beyond).
        message_cache_bytes: bounds the stream messages kept for streams that share a query.

    Returns:
        The FastAPI app.

    Raises:
        LivevecError: a token that is not visible ASCII.
    """
    check_token(token)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = await asyncio.to_thread(connect, db_url)
        table = await asyncio.to_thread(db.create_table, Product, if_exists="skip")
        # load the model now rather than on the first shopper's request
        await asyncio.to_thread(table.embedding_function("description_vec").embed_query, "warm up")
        recommender = await asyncio.to_thread(Recommender, table)
        workers = Workers()
        broadcaster = ChangeBroadcaster(
            db, table, recommender=recommender, poll_interval=poll_interval, workers=workers
        )
        streams = StreamSlots(per_client=max_streams_per_client, total=max_streams)
        memory = MemoryRelease(workers)
        app.state.shop = Shop(
            db, table, recommender, broadcaster, workers, streams, MessageCache(message_cache_bytes), memory
        )
        tasks = [asyncio.create_task(broadcaster.run()), asyncio.create_task(memory.run())]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            workers.shutdown()
            db.close()

    app = FastAPI(
        title="livevec shop",
        summary="Products whose recommendations follow the catalog as it changes.",
        lifespan=lifespan,
        docs_url=None,  # served below, with a Content-Security-Policy that lets Swagger UI run
        redoc_url=None,
        dependencies=[Depends(documented_content_type)],
    )
    app.state.token = token
    app.state.access = ShopperAccess(token)
    app.add_middleware(Guard, hosts=Hosts(allowed_hosts), max_body=max_body, max_import=max_import)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(ValidationError, _value_invalid)
    app.add_exception_handler(StorageError, _storage_unavailable)
    app.add_exception_handler(HTTPException, _refused)
    app.mount(SWAGGER, StaticFiles(directory=SWAGGER_FILES), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Host, Origin, the head's size and the database can refuse any request
    anywhere = problems(400, 403, 431, 503)
    for router in (products.reads, products.writes, search.router, shoppers.router, events.router):
        app.include_router(router, responses=anywhere)
    app.include_router(service.router, responses=problems(400, 403, 431))
    app.include_router(products.imports, responses=anywhere)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        html = get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} API",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )
        html.headers["Content-Security-Policy"] = inline_script_policy(html.body.decode())
        return html

    return app


class _ErrorJSON(JSONResponse):
    """An error's JSON, in ASCII: it may quote input that is not valid UTF-8 text (a lone surrogate)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without the rejected input, which may not even be JSON (NaN) or UTF-8 text."""
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return _ErrorJSON({"detail": errors}, status_code=422)


async def _value_invalid(request: Request, exc: Exception) -> JSONResponse:
    """A livevec ValidationError as FastAPI's own 422: the field and the reason."""
    assert isinstance(exc, ValidationError)
    loc = ["body", exc.field] if exc.field else ["body"]
    message = str(exc).removeprefix(f"{exc.field}: ")
    return _ErrorJSON({"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422)


async def _storage_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is locked by a long write, restarting or unreachable: a 503 to retry, not a 500."""
    return _ErrorJSON({"detail": str(exc)}, status_code=503, headers={"Retry-After": "1"})


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return _ErrorJSON({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
