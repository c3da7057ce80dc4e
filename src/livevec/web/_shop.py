"""The shop a request works on: the database, its tables and the change feed, shared by the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from .._database import Database
from .._table import Table
from ..demo import Product
from ..recommend import Recommender, User
from ._events import ChangeBroadcaster
from ._streams import MemoryRelease, MessageCache, StreamSlots
from ._workers import Workers


@dataclass
class Shop:
    db: Database
    table: Table
    recommender: Recommender
    changes: ChangeBroadcaster
    workers: Workers
    streams: StreamSlots
    messages: MessageCache
    memory: MemoryRelease


def _shop(request: Request) -> Shop:
    return request.app.state.shop


ShopDep = Annotated[Shop, Depends(_shop)]


async def _stream_slot(request: Request, shop: ShopDep) -> AsyncIterator[None]:
    """A stream's place among the client's and the server's open streams, from before the answer
    starts (429 or 503 instead) until the stream has ended, however it ends."""
    client = request.client.host if request.client else ""
    shop.streams.take(client)
    try:
        yield
    finally:
        if shop.streams.give_back(client):  # the last open stream closed
            shop.memory.request()


StreamSlot = Depends(_stream_slot)


def existing_product(table: Table, product_id: str) -> Product:
    product = table.get(product_id)
    if product is None:
        raise HTTPException(404, f"no product with id {product_id!r}")
    return product


def existing_user(recommender: Recommender, user_id: str) -> User:
    user = recommender.user(user_id)
    if user is None:
        raise HTTPException(404, f"no shopper with id {user_id!r}")
    return user
