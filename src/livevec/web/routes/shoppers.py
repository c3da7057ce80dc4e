"""Shoppers: their profiles and events. Open to every client, as a shop's visitors are."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam

from .._models import EventIn, EventOut, ProfileIn, UserOut, problems
from .._shop import ShopDep, existing_user

router = APIRouter(prefix="/users", tags=["shoppers"])

UserId = Annotated[str, PathParam(min_length=1, max_length=200)]


@router.get("", response_model=list[UserOut])
def list_users(shop: ShopDep) -> list[dict[str, Any]]:
    """Every shopper, by id."""
    return [asdict(user) for user in shop.recommender.users()]


@router.get("/{user_id}", response_model=UserOut, responses=problems(404))
def get_user(shop: ShopDep, user_id: UserId) -> dict[str, Any]:
    return asdict(existing_user(shop.recommender, user_id))


@router.put("/{user_id}", response_model=UserOut, responses=problems(413, 415))
def set_profile(shop: ShopDep, user_id: UserId, body: ProfileIn) -> dict[str, Any]:
    """Create the shopper, or change what they like (`null` clears it)."""
    return asdict(shop.recommender.set_profile(user_id, body.profile))


@router.get("/{user_id}/events", response_model=list[EventOut], responses=problems(404))
def list_user_events(
    shop: ShopDep, user_id: UserId, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """The shopper's newest events, newest first."""
    existing_user(shop.recommender, user_id)
    return [asdict(event) for event in shop.recommender.events(user_id, limit)]


@router.post("/{user_id}/events", response_model=EventOut, status_code=201, responses=problems(413, 415))
def record_event(shop: ShopDep, user_id: UserId, event: EventIn) -> dict[str, Any]:
    """The shopper viewed, liked, carted, bought or dismissed a product; a new shopper is created.

    Their next recommendations already reflect it.
    """
    return asdict(shop.recommender.record(user_id, event.product_id, event.kind))
