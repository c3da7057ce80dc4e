"""Live queries: kept equal to a fresh search through any writes, evaluated again only when a change
can alter them, shared between handles, and fed by other processes' writes; on both backends."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, TableModel
from livevec.live import live_queries

from . import given_vectors

GIVEN = given_vectors.source("given16", 16)
exec(GIVEN)


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    name: str
    category: str = Field(index=True)
    price: float
    vec: list[float] | None = EmbeddingFunction("given16/x").VectorField(None)


def unit(rng: np.random.Generator, n: int = 1) -> np.ndarray:
    x = rng.standard_normal((n, 16)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def item(rng: np.random.Generator, key: int) -> dict:
    return {
        "id": key,
        "name": f"item {key}",
        "category": rng.choice(["a", "b", "c"]),
        "price": float(rng.integers(1, 100)),
        "vec": unit(rng)[0],
    }


@pytest.fixture
def items(db):
    rng = np.random.default_rng(0)
    table = db.create_table(Item)
    table.insert([item(rng, k) for k in range(200)])
    return table


def settle(table) -> None:
    assert live_queries(table.backend).settle(timeout=30)


def searches(table, rng):
    """Live searches of every shape: plain, filtered, bounded, small and large pages."""
    queries = unit(rng, 6)
    return [
        table.search(queries[0]).limit(5),
        table.search(queries[1]).filter({"category": "a"}).limit(10),
        table.search(queries[2]).filter({"price": {"$lt": 30}, "category": {"$in": ["b", "c"]}}).limit(3),
        table.search(queries[3]).distance_threshold(0.6).limit(20),
        table.search(queries[4]).distance_range(0.2, 0.9).filter({"category": {"$ne": "c"}}).limit(7),
        table.search(queries[5]).limit(1),
    ]


def test_live_searches_equal_fresh_searches_after_random_writes(items):
    rng = np.random.default_rng(1)
    built = searches(items, rng)
    handles = [s.live() for s in built]
    assert [h.result for h in handles] == [s.to_list() for s in built]
    next_key = 1000
    for _ in range(12):  # batches of random writes of every kind
        with items.backend.transaction():
            for _ in range(int(rng.integers(1, 8))):
                action = rng.choice(["insert", "price", "vector", "delete", "category"])
                key = int(rng.integers(0, 200))
                if action == "insert":
                    items.insert(item(rng, next_key))
                    next_key += 1
                elif action == "price":
                    items.update(values={"price": float(rng.integers(1, 100))}, filters={"id": key})
                elif action == "vector":
                    items.update(values={"vec": unit(rng)[0]}, filters={"id": key})
                elif action == "category":
                    items.update(values={"category": rng.choice(["a", "b", "c"])}, filters={"id": key})
                else:
                    items.delete({"id": key})
        settle(items)
        for handle, search in zip(handles, built, strict=True):
            assert handle.result == search.to_list()
    for handle in handles:
        handle.close()


def test_a_change_that_cannot_alter_a_result_is_not_evaluated_again(items):
    rng = np.random.default_rng(2)
    query = unit(rng)[0]
    live = items.search(query).filter({"category": "a"}).limit(5).live()
    registry = live_queries(items.backend)
    settle(items)
    evaluations, version = registry.evaluations, live.version
    # a row the filter leaves out, and a row far from the query: neither can enter the result
    items.insert({"id": 900, "name": "far", "category": "b", "price": 1.0, "vec": query})
    items.insert({"id": 901, "name": "far", "category": "a", "price": 1.0, "vec": -query})
    items.update(values={"price": 2.0}, filters={"id": 900})
    settle(items)
    assert registry.evaluations == evaluations and live.version == version
    # a row nearer than the last one enters: evaluated again, and a new result
    items.insert({"id": 902, "name": "near", "category": "a", "price": 1.0, "vec": query})
    settle(items)
    assert registry.evaluations == evaluations + 1 and live.version == version + 1
    assert (
        live.result[0]["id"] == 902
        and live.result == items.search(query).filter({"category": "a"}).limit(5).to_list()
    )
    # a price change of a row in the result is evaluated again, and the row leaves when it fails the filter
    items.update(values={"category": "b"}, filters={"id": 902})
    settle(items)
    assert 902 not in [r["id"] for r in live.result] and live.version == version + 2
    live.close()


def test_a_change_that_leaves_the_result_as_it_was_notifies_nobody(items):
    rng = np.random.default_rng(3)
    query = unit(rng)[0]
    live = items.search(query).limit(3).live()
    last = live.result[-1]
    # in the result's reach (nearer than the last row) but filtered... here: an update that rewrites
    # a shown row with the same values is evaluated again, and the result is unchanged
    items.update(values={"price": last["price"]}, filters={"id": last["id"]})
    settle(items)
    assert live.version == 1
    live.close()


def test_live_queries_with_the_same_parameters_are_evaluated_once(items):
    rng = np.random.default_rng(4)
    query = unit(rng)[0]
    registry = live_queries(items.backend)
    before = registry.evaluations
    first = items.search(query).filter({"category": "a"}).limit(4).live()
    second = items.search(query).filter({"category": "a"}).limit(4).live()
    other = items.search(query).filter({"category": "b"}).limit(4).live()
    assert registry.evaluations == before + 2  # the third one differs by its filter
    items.insert({"id": 903, "name": "near", "category": "a", "price": 1.0, "vec": query})
    settle(items)
    assert registry.evaluations == before + 3  # one evaluation for both handles; `other` skipped
    assert first.result == second.result and first.result[0]["id"] == 903
    assert first.version == second.version == 2 and other.version == 1
    first.close()
    assert second.result[0]["id"] == 903  # the query stays while a handle has it
    for handle in (second, other):
        handle.close()


def test_waiting_iterating_callbacks_and_async(items):
    rng = np.random.default_rng(5)
    query = unit(rng)[0]
    live = items.search(query).limit(2).live()
    waiter = items.search(query).limit(2).live()  # each handle has its own place in the results
    seen = []
    live.on_change(seen.append)
    assert waiter.wait(timeout=0.05) is None  # nothing new yet

    async def follow():
        stream = live.changes()
        first = await anext(stream)
        items.insert({"id": 904, "name": "near", "category": "a", "price": 1.0, "vec": query})
        second = await asyncio.wait_for(anext(stream), timeout=30)
        return first, second

    first, second = asyncio.run(follow())
    assert 904 not in [r["id"] for r in first] and second[0]["id"] == 904
    assert waiter.wait(timeout=30)[0]["id"] == 904 and live.result[0]["id"] == 904
    assert seen and seen[-1][0]["id"] == 904
    live.close()
    waiter.close()
    assert list(live) == []  # a closed handle ends its iteration


WRITER = GIVEN + textwrap.dedent(
    """
    import json, sys
    import livevec
    db = livevec.connect(sys.argv[1])
    db.open_table("items").insert(json.loads(sys.argv[2]))
    db.close()
    """
)


def test_writes_of_another_process_reach_a_live_query(items, db_path):
    query = unit(np.random.default_rng(6))[0]
    live = items.search(query).limit(3).live()
    row = {"id": 905, "name": "from afar", "category": "c", "price": 5.0, "vec": query.tolist()}
    subprocess.run([sys.executable, "-c", WRITER, str(db_path), json.dumps(row)], check=True)
    result = live.wait(timeout=30)
    assert result is not None and result[0]["id"] == 905 and result[0]["name"] == "from afar"
    live.close()


def test_live_recommendations_follow_events_profiles_and_the_catalog(items):
    rec = livevec.Recommender(items, label_field="name")
    rng = np.random.default_rng(7)
    rec.record("ann", 1, "like")
    rec.record("bob", 2, "like")
    live = rec.live_for_user("ann", limit=5, diversity=0.0)
    registry = live_queries(items.backend)
    settle(items)
    evaluations, version = registry.evaluations, live.version
    assert [r.product["id"] for r in live.result] == [
        r.product["id"] for r in rec.for_user("ann", 5, diversity=0.0)
    ]
    rec.record("bob", 3, "like")  # another shopper: not evaluated again
    far = -np.asarray(items.get(1).vec, dtype=np.float32)
    items.insert({"id": 906, "name": "far", "category": "a", "price": 1.0, "vec": far})  # too far to enter
    settle(items)
    assert registry.evaluations == evaluations and live.version == version
    near = np.asarray(items.get(1).vec, dtype=np.float32) + 0.01 * unit(rng)[0]
    items.insert({"id": 907, "name": "near", "category": "a", "price": 1.0, "vec": near})  # enters
    settle(items)
    assert live.result[0].product["id"] == 907 and live.version == version + 1
    rec.record("ann", 907, "dismiss")  # her own event: it leaves
    settle(items)
    assert 907 not in [r.product["id"] for r in live.result]
    for _ in range(3):
        items.update(values={"price": float(rng.integers(1, 50))}, filters={"id": int(rng.integers(0, 200))})
    settle(items)
    assert [(r.product, r.reason) for r in live.result] == [
        (r.product, r.reason) for r in rec.for_user("ann", 5, diversity=0.0)
    ]
    live.close()


def test_random_writes_and_events_keep_every_live_query_fresh(items):
    """Many handles over a few distinct queries, and shoppers, through random catalog writes and
    events: after quiescence each handle's result equals a fresh evaluation."""
    rng = np.random.default_rng(8)
    rec = livevec.Recommender(items, label_field="name")
    built = searches(items, rng)
    picks = [int(rng.integers(0, len(built))) for _ in range(20)]
    handles = [built[i].live() for i in picks]
    shoppers = ["u1", "u2", "u3"]
    for shopper in shoppers:
        rec.record(shopper, int(rng.integers(0, 200)), "like")
    recs = {shopper: rec.live_for_user(shopper, limit=6) for shopper in shoppers}
    keys = list(range(200))
    for step in range(40):
        action = random.Random(step).choice(["insert", "price", "vector", "delete", "event"])
        key = keys[int(rng.integers(0, len(keys)))]
        if action == "insert":
            keys.append(2000 + step)
            items.insert(item(rng, 2000 + step))
        elif action == "price":
            items.update(values={"price": float(rng.integers(1, 100))}, filters={"id": key})
        elif action == "vector":
            items.update(values={"vec": unit(rng)[0]}, filters={"id": key})
        elif action == "delete":
            items.delete({"id": key})
            keys.remove(key)
        else:
            kind = ["view", "like", "cart", "purchase", "dismiss"][int(rng.integers(0, 5))]
            rec.record(shoppers[int(rng.integers(0, 3))], key, kind)
    settle(items)
    for handle, i in zip(handles, picks, strict=True):
        assert handle.result == built[i].to_list()
        handle.close()
    for shopper, live in recs.items():
        fresh = rec.for_user(shopper, limit=6)
        assert [(r.product, round(r.score, 3)) for r in live.result] == [
            (r.product, round(r.score, 3)) for r in fresh
        ]
        live.close()
