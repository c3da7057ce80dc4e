"""The change log as a contract (issue 21): a follower never misses a write silently nor shows one
that did not happen, and nothing a live query opens outlives it. One test per finding of the review,
each failing on the code before it; on both backends where the finding is not SQLite's own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec.live import live_queries
from livevec.storage import _changelog

from . import given_vectors
from .foreign_clients import delete_without_a_log_entry

exec(given_vectors.source("given8", 8))

ORIGIN = np.eye(8, dtype=np.float32)[0]


class Point(TableModel):
    __tablename__ = "points"
    id: int = Field(primary_key=True)
    kind: str = Field(index=True)
    vec: list[float] | None = EmbeddingFunction("given8/x").VectorField(None)


class Sku(TableModel):
    """A table keyed by text, as the shop's products are: its rowids are not its keys."""

    __tablename__ = "skus"
    id: str = Field(primary_key=True)
    vec: list[float] | None = EmbeddingFunction("given8/x").VectorField(None)


def far(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unit vectors far from ORIGIN (negative first coordinate)."""
    x = rng.standard_normal((n, 8)).astype(np.float32)
    x[:, 0] = -np.abs(x[:, 0]) - 2
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def settle(table) -> None:
    assert live_queries(table.backend).settle(timeout=30)


def ids(rows) -> list:
    return [row["id"] for row in rows]


# --- 1. a transaction bigger than the log -----------------------------------------------------


def test_a_transaction_bigger_than_the_log_reaches_a_live_query(db, monkeypatch):
    monkeypatch.setattr(_changelog, "KEEP", 50)
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": far(np.random.default_rng(1), 1)[0]}])
    with table.search(ORIGIN).limit(1).live() as live:
        assert ids(live.result) == [1]
        rng = np.random.default_rng(2)
        with db.transaction():  # the matching row first, then three times the log's size
            table.insert([{"id": 1000, "kind": "a", "vec": ORIGIN}])
            table.insert([{"id": 2000 + i, "kind": "b", "vec": v} for i, v in enumerate(far(rng, 150))])
        settle(table)
        assert ids(live.result) == [1000] == ids(table.search(ORIGIN).limit(1).to_list())


def test_a_follower_the_log_was_pruned_past_is_told_and_starts_over(db, monkeypatch):
    monkeypatch.setattr(_changelog, "KEEP", 50)
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": far(np.random.default_rng(1), 1)[0]}])
    since = db.last_change()
    with table.search(ORIGIN).limit(1).live() as live:
        registry = live_queries(table.backend)
        # a follower that stopped publishing (another process, gone quiet): pruning need not spare it
        monkeypatch.setattr(db.backend.followers, "lowest", lambda: None)
        gaps = registry.gaps
        rng = np.random.default_rng(3)
        with db.transaction():
            table.insert([{"id": 1000, "kind": "a", "vec": ORIGIN}])
            table.insert([{"id": 2000 + i, "kind": "b", "vec": v} for i, v in enumerate(far(rng, 120))])
        for i in range(3):  # later commits prune the big transaction's first entries
            table.insert([{"id": 5000 + i, "kind": "b", "vec": far(rng, 1)[0]}])
        with pytest.raises(livevec.ChangeLogGapError) as caught:
            db.changes(since)
        assert caught.value.since == since and caught.value.pruned_through > since
        settle(table)
        assert ids(live.result) == [1000]
        assert registry.gaps >= gaps  # whether it saw the gap depends on timing; the result never does


def test_pruning_spares_a_registered_follower_and_then_catches_up(db, monkeypatch):
    monkeypatch.setattr(_changelog, "KEEP", 20)
    table = db.create_table(Point)
    follower = db.backend.followers.register(db.last_change())
    since = db.last_change()
    rng = np.random.default_rng(4)
    for i in range(60):
        table.insert([{"id": i, "kind": "a", "vec": far(rng, 1)[0]}])
    seen = db.changes(since, 1000)
    assert [c.key for c in seen if c.op == "insert"] == list(range(60))  # none pruned
    db.backend.followers.move(follower, seen[-1].seq)
    table.insert([{"id": 100, "kind": "a", "vec": far(rng, 1)[0]}])
    with pytest.raises(livevec.ChangeLogGapError):
        db.changes(since)  # released by the follower: pruned now
    db.backend.followers.release(follower)


# --- 2. REPLACE by another client ------------------------------------------------------------


@pytest.mark.backends("sqlite")
def test_insert_or_replace_by_another_client_leaves_no_ghost(db, db_path):
    table = db.create_table(Sku)
    rng = np.random.default_rng(5)
    table.insert([{"id": f"sku-{i}", "vec": v} for i, v in enumerate(far(rng, 10))])
    query = far(rng, 1)[0]
    with table.search(query).limit(3).live() as live:
        other = sqlite3.connect(db_path, isolation_level=None)
        for i in range(5):
            vector = np.asarray(far(rng, 1)[0], "<f4").tobytes()
            other.execute("INSERT OR REPLACE INTO skus (id, vec) VALUES (?, ?)", (f"sku-{i}", vector))
        other.execute("UPDATE OR REPLACE skus SET id = 'sku-9' WHERE id = 'sku-8'")  # sku-9 is replaced
        other.close()
        exact = sorted(table.query(), key=lambda r: float(1 - np.dot(query, r["vec"])))
        expected = [r["id"] for r in exact[:3]]
        assert ids(table.search(query).limit(3).to_list()) == expected
        assert ids(table.search(query).limit(20).to_list()) == [r["id"] for r in exact]
        assert table.count() == 9
        settle(table)
        assert ids(live.result) == expected


# --- 3. only committed state in live results ---------------------------------------------------


def test_a_live_query_cannot_be_opened_inside_a_transaction(db):
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": ORIGIN}])
    with pytest.raises(livevec.ValidationError, match=r"outside db\.transaction"):  # noqa: SIM117
        with db.transaction():
            table.insert([{"id": 99, "kind": "a", "vec": ORIGIN}])
            table.search(ORIGIN).limit(2).live()
    assert table.get(99) is None
    with table.search(ORIGIN).limit(2).live() as live:
        assert ids(live.result) == [1]


# --- 4. no evaluation under the registry's lock -------------------------------------------------


def test_a_slow_evaluation_blocks_no_other_live_query(db):
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": ORIGIN}])
    registry = live_queries(db.backend)
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        assert release.wait(30)
        return "slow"

    opened: list = []
    thread = threading.Thread(target=lambda: opened.append(registry.open("slow", slow, lambda c, r: False)))
    thread.start()
    assert started.wait(30)
    done = threading.Event()

    def writer_opens():  # a thread that writes meanwhile, then opens another query
        with db.transaction():
            table.insert([{"id": 2, "kind": "a", "vec": ORIGIN}])
        with table.search(ORIGIN).limit(2).live() as live:
            assert ids(live.result) == [1, 2]
        done.set()

    other = threading.Thread(target=writer_opens)
    other.start()
    assert done.wait(30), "a live query waited for another one's evaluation"
    release.set()
    thread.join(30)
    other.join(30)
    opened[0].close()


# --- 5. lifetimes --------------------------------------------------------------------------------


def test_a_closed_handle_calls_no_callback(db):
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": ORIGIN}])
    calls: list = []
    kept = table.search(ORIGIN).limit(2).live()  # another handle keeps the query open
    live = table.search(ORIGIN).limit(2).live()
    live.on_change(calls.append)
    live.close()
    table.insert([{"id": 2, "kind": "a", "vec": ORIGIN}])
    settle(table)
    assert ids(kept.result) == [1, 2] and calls == []
    with pytest.raises(livevec.DatabaseClosedError):
        live.on_change(calls.append)
    kept.close()
    assert live_queries(db.backend).size == 0


def test_cancelled_async_waits_leave_no_futures(db):
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": ORIGIN}])

    async def cycles(n: int) -> int:
        with table.search(ORIGIN).limit(2).live() as live:
            for _ in range(n):
                stream = live.changes()
                task = asyncio.ensure_future(_second(stream))
                await asyncio.sleep(0)
                await asyncio.sleep(0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await stream.aclose()
            return len(live._entry.futures)

    assert asyncio.run(cycles(2000)) == 0


async def _second(stream):
    await anext(stream)
    return await anext(stream)


def test_a_closed_database_refuses_use_and_keeps_no_connection(db_path):
    db = livevec.connect(db_path)
    table = db.create_table(Point)
    table.insert([{"id": 1, "kind": "a", "vec": ORIGIN}])
    assert table.count() == 1
    live = table.search(ORIGIN).limit(1).live()
    db.close()
    assert live.closed
    for use in (table.count, lambda: table.insert([{"id": 2, "kind": "a", "vec": ORIGIN}]), db.tables):
        with pytest.raises(livevec.DatabaseClosedError, match="closed"):
            use()
    with pytest.raises(livevec.DatabaseClosedError):
        table.search(ORIGIN).limit(1).live()
    readers = getattr(db.backend, "_readers", None)
    assert readers is None or len(readers) == 0


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("rows", [20, 300])  # an exact index, and a graph (ann_min_rows=100)
def test_a_row_gone_without_a_log_entry_never_leaves_a_page_short(db_path, rows, caplog):
    db = livevec.connect(db_path, index_options=livevec.IndexOptions(ann_min_rows=100))
    table = db.create_table(Point)
    rng = np.random.default_rng(6)
    table.insert([{"id": i, "kind": "a", "vec": v} for i, v in enumerate(far(rng, rows))])
    table.insert([{"id": 1000 + i, "kind": "a", "vec": ORIGIN} for i in range(3)])
    assert ids(table.search(ORIGIN).limit(5).to_list())[:3] == [1000, 1001, 1002]
    delete_without_a_log_entry(db_path, "points", "id IN (1000, 1001)")
    found = table.search(ORIGIN).limit(5).to_list()
    assert len(found) == 5 and 1000 not in ids(found) and ids(found)[0] == 1002
    assert "gone without a change-log entry" in caplog.text
    with db.transaction():  # inside a transaction too
        assert len(table.search(ORIGIN).limit(5).to_list()) == 5
    db.close()
