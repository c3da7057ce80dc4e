"""`/events`: every product change as it is committed, and a shopper's activity to whom may see it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from .._events import visible
from .._identity import QueryToken, for_shopper
from .._models import INT64_MAX, problems
from .._security import OPTIONAL_TOKEN, Credentials, holds_token
from .._shop import ShopDep, StreamSlot

router = APIRouter(tags=["events"])

Seq = Annotated[int | None, Query(ge=0, le=INT64_MAX, description="replay changes after this seq")]


def _shopper_followed(
    request: Request,
    credentials: Credentials,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=200, description="also this shopper's activity")
    ] = None,
    token: QueryToken = None,
) -> str | None:
    # a dependency: a 401 comes before the stream starts
    if user_id is not None:
        for_shopper(request, credentials, user_id, token)
    return user_id


@router.get(
    "/events",
    response_class=EventSourceResponse,
    openapi_extra=OPTIONAL_TOKEN,
    responses={
        200: {"description": "one event per product change or shopper activity; `id` is the change's seq"},
        **problems(401, 429, 503),
    },
    dependencies=[StreamSlot],
)
async def events(
    shop: ShopDep,
    request: Request,
    credentials: Credentials,
    since: Seq = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=INT64_MAX)] = None,
    user_id: Annotated[str | None, Depends(_shopper_followed)] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every product change as it is committed, by any client or process: Server-Sent Events.

    Each event's data is `{"seq", "op": created|updated|deleted|reset, "id", "product", "at"}`;
    `product` is null for a deletion. A shopper's event or new profile is
    `{"seq", "op": "activity", "user_id", "kind": view|like|cart|purchase|dismiss|profile, "id", "at"}`
    (`id` is the product, null for a profile), sent only to streams that ask for that shopper
    (`?user_id=`, with the service token or a shopper token for them: `?token=` from a browser) or
    bring the service token; the others get `{"seq", "op": "shoppers", "at"}` for a
    new shopper or profile (the list at `GET /users` changed), with that shopper's `user_id` on a
    server without a token (where anyone may list them). A reconnecting browser resumes after its
    `Last-Event-ID`.
    """
    everything = holds_token(request, credentials)
    may_list = everything or request.app.state.token is None  # as GET /users allows
    queue = shop.changes.subscribe()
    try:
        # the first line says the stream is following (a client may write after seeing it);
        # `retry` asks a browser to reconnect one second after a lost connection
        yield ServerSentEvent(comment="following product changes", retry=1000)
        async for event in shop.changes.stream(queue, since if since is not None else last_event_id):
            shown = visible(event, user_id, everything, may_list)
            if shown is not None:
                yield ServerSentEvent(data=shown, id=str(event["seq"]))
    finally:
        shop.changes.unsubscribe(queue)
