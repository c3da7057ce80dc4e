"""The service itself: is the process up, can it reach its database, does it want a token for writes."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from .._models import AuthStatus, Status, problems
from .._security import OPTIONAL_TOKEN, Credentials, holds_token
from .._shop import ShopDep
from .._workers import run

router = APIRouter(tags=["service"])
READY_TIMEOUT = 5.0  # seconds the database has to answer /readyz


@router.get("/healthz", response_model=Status)
def healthz() -> dict[str, Any]:
    """The process is up and answers (for a supervisor's liveness check: restart it when this fails)."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Status, responses=problems(503))
async def readyz(shop: ShopDep) -> dict[str, Any]:
    """The database answers a cheap query (where its change log ends) within 5 s; 503 while it does not."""
    try:
        await asyncio.wait_for(run(shop.workers.probe, shop.db.last_change), READY_TIMEOUT)
    except TimeoutError:
        raise HTTPException(503, f"the database does not answer within {READY_TIMEOUT:g} s") from None
    except Exception as exc:  # whatever the reason, not ready: say which
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise HTTPException(503, f"the database does not answer: {reason}") from None
    return {"status": "ready"}


@router.get("/auth", response_model=AuthStatus, openapi_extra=OPTIONAL_TOKEN)
def auth(request: Request, credentials: Credentials) -> dict[str, Any]:
    """Whether catalog writes need the server's token, and whether this request's `Authorization` holds it.

    The page asks before it shows the admin panel's form.
    """
    required = request.app.state.token is not None
    return {"token_required": required, "authorized": not required or holds_token(request, credentials)}
