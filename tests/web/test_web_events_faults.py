"""The `/events` reader outlives failed reads of the change feed (a locked, unreachable or restarting
database): it backs off, reads again from the last change it published, and the open streams get
every change. Backend independent: the faults are injected into the Database object."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest

import livevec
from livevec.web._events import ChangeBroadcaster

from ..models import Product
from ..test_postgres import PrivateServer
from .conftest import run


def _product(key: int) -> dict:
    vector = np.random.default_rng(key).normal(size=384)  # brings its own vector: nothing is embedded
    return dict(
        id=key,
        name=f"Product {key}",
        description="a thing",
        category="things",
        price=1.0,
        description_vec=(vector / np.linalg.norm(vector)).tolist(),
    )


class Faults:
    """Makes the next `left` calls of the wrapped Database methods raise a StorageError."""

    def __init__(self, db: livevec.Database, monkeypatch: pytest.MonkeyPatch) -> None:
        self.left = 0
        self.calls = 0
        for name in ("changes", "wait_for_change", "last_change"):
            monkeypatch.setattr(db, name, self._wrap(getattr(db, name)))

    def _wrap(self, method):
        def call(*args):
            self.calls += 1
            if self.left:
                self.left -= 1
                raise livevec.StorageError("connection to the server lost")
            return method(*args)

        return call


def test_the_events_reader_outlives_failed_reads_and_misses_nothing(db, monkeypatch, caplog):
    table = db.create_table(schema=Product)
    faults = Faults(db, monkeypatch)
    broadcaster = ChangeBroadcaster(db, table, poll_interval=0.05)
    caplog.set_level(logging.WARNING, logger="livevec.web._events")

    async def scenario() -> list[dict]:
        queue = broadcaster.subscribe()
        stream = broadcaster.stream(queue)
        faults.left = 2  # even finding where the feed ends fails at first
        reader = asyncio.create_task(broadcaster.run())
        try:
            for _ in range(200):  # 10 s at most
                if not faults.left and faults.calls >= 5:  # it is following the feed now
                    break
                await asyncio.sleep(0.05)
            received = []
            for outage in range(3):
                faults.left = 3  # the next reads and waits fail, whichever comes first
                await asyncio.to_thread(table.insert, [_product(2 * outage + 1), _product(2 * outage + 2)])
                received += [await asyncio.wait_for(anext(stream), 15) for _ in range(2)]
            assert not reader.done()
            return received
        finally:
            reader.cancel()

    received = run(scenario())
    assert [(e["op"], e["id"]) for e in received] == [("created", key) for key in range(1, 7)]
    seqs = [e["seq"] for e in received]
    assert seqs == sorted(seqs)
    failed = [r for r in caplog.records if "change feed failed" in r.getMessage()]
    assert len(failed) == 4  # once per outage (the first at start), not once per attempt


def test_the_events_reader_outlives_a_postgres_restart():
    with PrivateServer() as server, livevec.connect(server.url) as db:
        table = db.create_table(schema=Product)
        broadcaster = ChangeBroadcaster(db, table, poll_interval=0.2)

        async def scenario() -> list[dict]:
            stream = broadcaster.stream(broadcaster.subscribe())
            reader = asyncio.create_task(broadcaster.run())
            try:
                await asyncio.sleep(0.5)  # it has found where the feed ends
                await asyncio.to_thread(table.insert, _product(1))
                received = [await asyncio.wait_for(anext(stream), 15)]
                await asyncio.to_thread(server.stop)
                await asyncio.sleep(1)  # the reader fails meanwhile
                await asyncio.to_thread(server.start)
                # the first write after the restart goes through: the pool hands out no dead connection
                await asyncio.to_thread(table.insert, _product(2))
                received.append(await asyncio.wait_for(anext(stream), 20))
                assert not reader.done()
                return received
            finally:
                reader.cancel()

        received = run(scenario())
    assert [(e["op"], e["id"]) for e in received] == [("created", 1), ("created", 2)]
