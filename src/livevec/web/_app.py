"""`create_app()`: the shop's HTTP API, its live change stream and the page, on one database."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import pydantic
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from fastapi.staticfiles import StaticFiles

from .._database import Database, connect
from .._errors import DuplicateKeyError, ValidationError
from .._table import Table
from ..demo import Product
from ..recommend import Recommendation, Recommender
from ..search import SearchType
from ._events import ChangeBroadcaster
from ._models import (
    EDITABLE,
    EventIn,
    EventOut,
    ImportResult,
    ProductCreate,
    ProductOut,
    ProductPage,
    ProductUpdate,
    ProfileIn,
    RecommendedProduct,
    ScoredProduct,
    UserOut,
)

STATIC = Path(str(resources.files("livevec.web") / "static"))
MAX_IMPORT_ERRORS = 20


@dataclass
class Shop:
    db: Database
    table: Table
    recommender: Recommender
    changes: ChangeBroadcaster


def create_app(db_url: str | Path, *, poll_interval: float = 0.2) -> FastAPI:
    """The shop on the database at `db_url` (a SQLite file or a URL); creates its `products` table if missing.

    `poll_interval` is how often, in seconds, the change feed is read for `/events` (on PostgreSQL a
    notification of a commit by any process wakes the reader at once).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = await asyncio.to_thread(connect, db_url)
        table = await asyncio.to_thread(db.create_table, Product, if_exists="skip")
        # load the model now rather than on the first shopper's request
        await asyncio.to_thread(table.embedding_function("description_vec").embed_query, "warm up")
        recommender = await asyncio.to_thread(Recommender, table)
        broadcaster = ChangeBroadcaster(db, table, recommender=recommender, poll_interval=poll_interval)
        app.state.shop = Shop(db, table, recommender, broadcaster)
        poller = asyncio.create_task(broadcaster.run())
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            db.close()

    app = FastAPI(
        title="livevec shop",
        summary="Products whose recommendations follow the catalog as it changes.",
        lifespan=lifespan,
    )
    app.add_exception_handler(ValidationError, _validation_error)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _routes(app)
    return app


def _shop(request: Request) -> Shop:
    return request.app.state.shop


ShopDep = Annotated[Shop, Depends(_shop)]


@dataclass(frozen=True)
class NearestOptions:
    """The options /recommendations and /search share."""

    limit: int
    distance_threshold: float | None
    filters: dict[str, Any]


def _nearest_options(
    limit: Annotated[int, Query(ge=1, le=100, description="how many products")] = 10,
    distance_threshold: Annotated[
        float | None, Query(ge=0, le=2, description="keep products at most this cosine distance away")
    ] = None,
    category: Annotated[str | None, Query(description="only this category")] = None,
    min_price: Annotated[float | None, Query(ge=0)] = None,
    max_price: Annotated[float | None, Query(ge=0)] = None,
) -> NearestOptions:
    return NearestOptions(limit, distance_threshold, _product_filters(category, min_price, max_price))


def _product_filters(category: str | None, min_price: float | None, max_price: float | None) -> dict:
    filters: dict[str, Any] = {}
    if category is not None:
        filters["category"] = category
    price = {op: v for op, v in (("$gte", min_price), ("$lte", max_price)) if v is not None}
    if price:
        filters["price"] = price
    return filters


def _nearest(
    table: Table, text: str, options: NearestOptions, search_type: SearchType = "vector"
) -> list[dict[str, Any]]:
    search = table.search(text, search_type=search_type).limit(options.limit).filter(options.filters)
    if options.distance_threshold is not None:
        search = search.distance_threshold(options.distance_threshold)
    return [
        {**row, "distance": row["_distance"], "match_score": row.get("_match_score"), "score": row["_score"]}
        for row in search.to_list()
    ]


def _not_blank(text: str | None) -> str | None:
    if text is not None and not text.strip():
        raise ValueError("is blank: give some text to compare products with")
    return text


SearchText = Annotated[str, Query(min_length=1, max_length=2000), pydantic.AfterValidator(_not_blank)]
ProfileText = Annotated[
    str | None,
    Query(min_length=1, max_length=2000, description="what the shopper likes, in words"),
    pydantic.AfterValidator(_not_blank),
]
UserId = Annotated[str, PathParam(min_length=1, max_length=200)]


def _recommended(recommendation: Recommendation) -> dict[str, Any]:
    by_similarity = recommendation.because in ("interest", "product")
    return {
        **recommendation.product,
        "score": recommendation.score,
        "distance": 1.0 - recommendation.score if by_similarity else None,
        "reason": recommendation.reason,
        "because": recommendation.because,
        "because_product": recommendation.because_product,
    }


def _within(rows: list[dict[str, Any]], distance_threshold: float | None) -> list[dict[str, Any]]:
    """The rows at most `distance_threshold` away; popular picks have no distance and stay."""
    if distance_threshold is None:
        return rows
    return [r for r in rows if r["distance"] is None or r["distance"] <= distance_threshold]


def _routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/recommendations", response_model=list[RecommendedProduct], tags=["recommendations"])
    def recommendations(
        shop: ShopDep,
        options: Annotated[NearestOptions, Depends(_nearest_options)],
        profile: ProfileText = None,
        user_id: Annotated[
            str | None, Query(min_length=1, max_length=200, description="a shopper: profile and events")
        ] = None,
        diversity: Annotated[
            float, Query(ge=0, le=1, description="with user_id: 0 ranks by similarity alone, 1 by variety")
        ] = 0.3,
    ) -> list[dict[str, Any]]:
        """Products for a shopper (`user_id`) or a profile text (`profile`), best first, each with why.

        A shopper's results blend their profile with what they viewed, liked, put in the cart and
        bought, leave out what they dismissed or already saw, and change with their very next event.
        """
        if (profile is None) == (user_id is None):
            raise RequestValidationError(
                [{"loc": ["query", "profile"], "msg": "give either profile or user_id", "type": "missing"}]
            )
        if profile is not None:
            reason = f"matches “{' '.join(profile.split())}”"
            rows = _nearest(shop.table, profile, options)
            return [{**row, "reason": reason, "because": "interest"} for row in rows]
        results = shop.recommender.for_user(
            user_id, limit=options.limit, filters=options.filters, diversity=diversity
        )
        return _within([_recommended(r) for r in results], options.distance_threshold)

    @app.get(
        "/products/{product_id}/similar", response_model=list[RecommendedProduct], tags=["recommendations"]
    )
    def similar_products(
        shop: ShopDep, product_id: str, options: Annotated[NearestOptions, Depends(_nearest_options)]
    ) -> list[dict[str, Any]]:
        """ "More like this": the products nearest to this one, itself left out."""
        _existing(shop.table, product_id)
        results = shop.recommender.similar(product_id, limit=options.limit, filters=options.filters)
        return _within([_recommended(r) for r in results], options.distance_threshold)

    @app.get("/users", response_model=list[UserOut], tags=["shoppers"])
    def list_users(shop: ShopDep) -> list[dict[str, Any]]:
        """Every shopper, by id."""
        return [asdict(user) for user in shop.recommender.users()]

    @app.get("/users/{user_id}", response_model=UserOut, tags=["shoppers"])
    def get_user(shop: ShopDep, user_id: UserId) -> dict[str, Any]:
        return asdict(_existing_user(shop.recommender, user_id))

    @app.put("/users/{user_id}", response_model=UserOut, tags=["shoppers"])
    def set_profile(shop: ShopDep, user_id: UserId, body: ProfileIn) -> dict[str, Any]:
        """Create the shopper, or change what they like (`null` clears it)."""
        return asdict(shop.recommender.set_profile(user_id, body.profile))

    @app.get("/users/{user_id}/events", response_model=list[EventOut], tags=["shoppers"])
    def list_user_events(
        shop: ShopDep, user_id: UserId, limit: Annotated[int, Query(ge=1, le=500)] = 50
    ) -> list[dict[str, Any]]:
        """The shopper's newest events, newest first."""
        _existing_user(shop.recommender, user_id)
        return [asdict(event) for event in shop.recommender.events(user_id, limit)]

    @app.post("/users/{user_id}/events", response_model=EventOut, status_code=201, tags=["shoppers"])
    def record_event(shop: ShopDep, user_id: UserId, event: EventIn) -> dict[str, Any]:
        """The shopper viewed, liked, carted, bought or dismissed a product; a new shopper is created.

        Their next recommendations already reflect it.
        """
        return asdict(shop.recommender.record(user_id, event.product_id, event.kind))

    @app.get("/search", response_model=list[ScoredProduct], tags=["recommendations"])
    def search(
        shop: ShopDep,
        options: Annotated[NearestOptions, Depends(_nearest_options)],
        q: SearchText,
        search_type: Annotated[
            SearchType,
            Query(
                description="vector: nearest in meaning to the description; fulltext: BM25 on the name and "
                "description; hybrid: both rankings fused (reciprocal rank fusion)"
            ),
        ] = "vector",
    ) -> list[dict[str, Any]]:
        """Products ranked for the search text: by meaning, by its words, or by both."""
        return _nearest(shop.table, q, options, search_type)

    @app.get("/products", response_model=ProductPage, tags=["products"])
    def list_products(
        shop: ShopDep,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        category: str | None = None,
        min_price: Annotated[float | None, Query(ge=0)] = None,
        max_price: Annotated[float | None, Query(ge=0)] = None,
        order_by: Literal["id", "name", "category", "price", "-price"] = "id",
    ) -> dict[str, Any]:
        """A page of products, filtered and ordered; `total` counts every match."""
        filters = _product_filters(category, min_price, max_price)
        rows = shop.table.query(filters, order_by=order_by, limit=limit, offset=offset).to_list()
        return {"items": rows, "total": shop.table.count(filters), "offset": offset, "limit": limit}

    @app.get("/products/{product_id}", response_model=ProductOut, tags=["products"])
    def get_product(shop: ShopDep, product_id: str) -> Any:
        return _existing(shop.table, product_id)

    @app.post("/products", response_model=ProductOut, status_code=201, tags=["products"])
    def create_product(shop: ShopDep, product: ProductCreate) -> Any:
        """Add a product; its description is embedded before the call returns."""
        row = _with_id(product.model_dump())
        try:
            return shop.table.insert(row)
        except DuplicateKeyError:
            raise HTTPException(409, f"a product with id {row['id']!r} already exists") from None

    @app.patch("/products/{product_id}", response_model=ProductOut, tags=["products"])
    def update_product(shop: ShopDep, product_id: str, changes: ProductUpdate) -> Any:
        """Change some fields of a product; a new description is embedded again."""
        values = changes.model_dump(exclude_unset=True)
        if not values:
            raise ValidationError(f"give at least one of the fields {list(EDITABLE)}")
        if shop.table.update(values, {"id": product_id}) == 0:
            raise HTTPException(404, f"no product with id {product_id!r}")
        return _existing(shop.table, product_id)

    @app.delete("/products/{product_id}", status_code=204, tags=["products"])
    def delete_product(shop: ShopDep, product_id: str) -> Response:
        if shop.table.delete({"id": product_id}) == 0:
            raise HTTPException(404, f"no product with id {product_id!r}")
        return Response(status_code=204)

    @app.post(
        "/products/import",
        response_model=ImportResult,
        tags=["products"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-ndjson": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def import_products(
        shop: ShopDep,
        request: Request,
        file_format: Annotated[
            Literal["jsonl", "csv"] | None,
            Query(alias="format", description="jsonl or csv; by default from the Content-Type"),
        ] = None,
        content_type: Annotated[str, Header()] = "",
    ) -> dict[str, int]:
        """Add or replace many products: JSON lines or CSV with the product fields. All of them or none."""
        kind = file_format or (
            "csv" if "csv" in content_type else "jsonl" if "json" in content_type else None
        )
        if kind is None:
            message = "send Content-Type text/csv or application/x-ndjson, or pass ?format=csv|jsonl"
            raise RequestValidationError([{"loc": ["query", "format"], "msg": message, "type": "missing"}])
        text = (await request.body()).decode("utf-8-sig", errors="replace")
        rows = _parse_import(text, kind)
        if not rows:
            raise ValidationError("no products in the body")
        await asyncio.to_thread(shop.table.upsert, rows)
        return {"imported": len(rows)}

    @app.get(
        "/events",
        response_class=EventSourceResponse,
        tags=["events"],
        responses={
            200: {"description": "one event per product change or shopper activity; `id` is the change's seq"}
        },
    )
    async def events(
        shop: ShopDep,
        since: Annotated[int | None, Query(ge=0, description="replay changes after this seq")] = None,
        last_event_id: Annotated[int | None, Header(ge=0)] = None,
    ) -> AsyncIterator[ServerSentEvent]:
        """Every product change as it is committed, by any client or process: Server-Sent Events.

        Each event's data is `{"seq", "op": created|updated|deleted|reset, "id", "product", "at"}`;
        `product` is null for a deletion. A shopper's event or new profile is
        `{"seq", "op": "activity", "user_id", "kind": view|like|cart|purchase|dismiss|profile, "id", "at"}`
        (`id` is the product, null for a profile). A reconnecting browser resumes after its `Last-Event-ID`.
        """
        queue = shop.changes.subscribe()
        try:
            # the first line says the stream is following (a client may write after seeing it);
            # `retry` asks a browser to reconnect one second after a lost connection
            yield ServerSentEvent(comment="following product changes", retry=1000)
            async for event in shop.changes.stream(queue, since if since is not None else last_event_id):
                yield ServerSentEvent(data=event, id=str(event["seq"]))
        finally:
            shop.changes.unsubscribe(queue)


def _with_id(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "id": row["id"] or uuid.uuid4().hex[:12]}


def _existing_user(recommender: Recommender, user_id: str):
    user = recommender.user(user_id)
    if user is None:
        raise HTTPException(404, f"no shopper with id {user_id!r}")
    return user


def _existing(table: Table, product_id: str) -> Product:
    product = table.get(product_id)
    if product is None:
        raise HTTPException(404, f"no product with id {product_id!r}")
    return product


def _parse_import(text: str, kind: str) -> list[dict[str, Any]]:
    """Validated product dicts; a 422 that names the line and field of each bad row."""
    if kind == "csv":
        # cells beyond the header are an error naming "extra cells"; an empty cell is a missing value
        reader = csv.DictReader(io.StringIO(text), restkey="extra cells")
        items = [(reader.line_num, {k: (v or None) for k, v in row.items()}) for row in reader]
    else:
        items = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((number, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise RequestValidationError(
                        [
                            {
                                "loc": ["body", f"line {number}"],
                                "msg": f"not JSON: {exc.msg}",
                                "type": "json_invalid",
                            }
                        ]
                    ) from None
    rows, errors = [], []
    for number, item in items:
        try:
            row = ProductCreate.model_validate(item).model_dump()
        except pydantic.ValidationError as exc:
            errors += [
                {**e, "loc": ["body", f"line {number}", *e["loc"]]} for e in exc.errors(include_url=False)
            ]
            continue
        rows.append(_with_id(row))
    if errors:
        raise RequestValidationError(errors[:MAX_IMPORT_ERRORS])
    return rows


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """A livevec ValidationError as FastAPI's own 422: the field and the reason."""
    assert isinstance(exc, ValidationError)
    loc = ["body", exc.field] if exc.field else ["body"]
    message = str(exc).removeprefix(f"{exc.field}: ")
    return JSONResponse({"detail": [{"loc": loc, "msg": message, "type": "value_error"}]}, status_code=422)
