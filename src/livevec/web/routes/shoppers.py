"""Shoppers: their profiles and events, each for the shop's backend or that shopper alone.

A shopper's routes want the service token or a shopper token naming them (`_identity`); the list of
shoppers and minting tokens, the service token only. A server without a token (the loopback demo)
leaves them open.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam

from .._identity import DEFAULT_TTL, MAX_TTL, shopper_in_path
from .._models import EventIn, EventOut, ProfileIn, ShopperToken, UserOut, problems
from .._security import OPTIONAL_TOKEN, service_only
from .._shop import ShopDep, existing_user

router = APIRouter(prefix="/users", tags=["shoppers"])

UserId = Annotated[str, PathParam(min_length=1, max_length=200)]
# the shopper's own routes: the service token, a shopper token for them, or nothing on an open server
ForShopper = {"dependencies": [Depends(shopper_in_path)], "openapi_extra": OPTIONAL_TOKEN}
ServiceOnly = {"dependencies": [Depends(service_only)], "openapi_extra": OPTIONAL_TOKEN}


@router.get("", response_model=list[UserOut], responses=problems(401), **ServiceOnly)
def list_users(
    shop: ShopDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
    after: Annotated[
        str | None,
        Query(
            min_length=1, max_length=200, description="the ids after this one: the last of the page before"
        ),
    ] = None,
) -> list[dict[str, Any]]:
    """The shoppers by id, a page at a time: ask again with `after` set to the last id until a page
    is shorter than `limit`. For the shop's backend (the service token)."""
    return [asdict(user) for user in shop.recommender.users(limit=limit, after=after)]


@router.post("/{user_id}/token", response_model=ShopperToken, responses=problems(401), **ServiceOnly)
def mint_token(
    request: Request,
    user_id: UserId,
    ttl: Annotated[int, Query(ge=1, le=MAX_TTL, description="seconds the token is good for")] = DEFAULT_TTL,
) -> dict[str, Any]:
    """A shopper token for this shopper, for the shop's backend (the service token) to hand to their
    page: it reads and changes their profile, events, recommendations and activity stream, and
    nothing else, until `expires_at` (unix seconds). Send it as `Authorization: Bearer <token>`, or
    as `?token=` where a browser cannot send headers (EventSource)."""
    return request.app.state.access.mint(user_id, ttl)


@router.get("/{user_id}", response_model=UserOut, responses=problems(401, 404), **ForShopper)
def get_user(shop: ShopDep, user_id: UserId) -> dict[str, Any]:
    """The shopper's profile."""
    return asdict(existing_user(shop.recommender, user_id))


@router.put("/{user_id}", response_model=UserOut, responses=problems(401, 413, 415), **ForShopper)
def set_profile(shop: ShopDep, user_id: UserId, body: ProfileIn) -> dict[str, Any]:
    """Create the shopper, or change what they like (`null` clears it)."""
    return asdict(shop.recommender.set_profile(user_id, body.profile))


@router.get("/{user_id}/events", response_model=list[EventOut], responses=problems(401, 404), **ForShopper)
def list_user_events(
    shop: ShopDep, user_id: UserId, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The shopper's newest events, newest first."""
    existing_user(shop.recommender, user_id)
    return [asdict(event) for event in shop.recommender.events(user_id, limit)]


@router.post(
    "/{user_id}/events",
    response_model=EventOut,
    status_code=201,
    responses=problems(401, 413, 415),
    **ForShopper,
)
def record_event(shop: ShopDep, user_id: UserId, event: EventIn) -> dict[str, Any]:
    """The shopper viewed, liked, carted, bought or dismissed a product; a new shopper is created.

    Their next recommendations already reflect it.
    """
    return asdict(shop.recommender.record(user_id, event.product_id, event.kind))
