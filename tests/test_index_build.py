"""`db.wait_for_indexes()` means what it says in every state (issue 25): never loaded, loaded while a
build runs, rows waiting after a build; and a search at any point of a build returns what an exact
scan returns."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, IndexOptions, TableModel
from livevec.storage import _sqlite_index
from livevec.storage.vector_index import ExactIndex, HnswIndex, distances

from . import given_vectors
from .foreign_clients import delete_without_a_log_entry

exec(given_vectors.source("given16b", 16))

# a graph from 500 rows; f32 and a wide search, so that the graph answers as an exact scan would
OPTIONS = IndexOptions(ann_min_rows=500, precision="f32", expansion_search=256)
pytestmark = pytest.mark.backends("sqlite")


class Point(TableModel):
    __tablename__ = "points"
    id: int = Field(primary_key=True)
    vec: list[float] | None = EmbeddingFunction("given16b/x").VectorField(None)


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, 16)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def column(db):
    ((_, index),) = db.backend._indexes.items()
    return index


def exact_ids(vectors: np.ndarray, query: np.ndarray, k: int, start: int = 0) -> list[int]:
    found = distances(query, vectors, "cosine")
    order = np.lexsort((np.arange(len(found)), found))[:k]
    return [start + int(i) for i in order]


def half_in_a_graph(db_path, total: int):
    """(db, table, vectors, rng): `total` seeded unit vectors, the first half in the table and its
    graph complete, the rest for the test to write."""
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    rng = np.random.default_rng(4)
    vectors = unit(rng, total)
    table.insert([{"id": i, "vec": v} for i, v in enumerate(vectors[: total // 2])])
    db.wait_for_indexes()
    return db, table, vectors, rng


def pause_builds_off_the_lock(monkeypatch, index) -> tuple[threading.Event, threading.Event]:
    """(building, release): a graph grown off the lock (not the one searches use) sets `building`
    and waits for `release` before its rows are added."""
    building, release = threading.Event(), threading.Event()
    add = HnswIndex.upsert

    def paused_add(graph, ids, vecs, stopping=None):
        if graph is not index.main:
            building.set()
            release.wait(30)
        return add(graph, ids, vecs, stopping)

    monkeypatch.setattr(HnswIndex, "upsert", paused_add)
    return building, release


def test_wait_for_indexes_after_writes_completes_the_graph(db_path):
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    rng = np.random.default_rng(0)
    vectors = unit(rng, 3000)
    for start in range(0, 3000, 1000):
        table.insert([{"id": start + i, "vec": v} for i, v in enumerate(vectors[start : start + 1000])])
    db.wait_for_indexes()  # nothing searched yet
    index = column(db)
    assert index.is_graph and index.pending == 0 and len(index.main) == 3000
    query = unit(rng, 1)[0]
    assert [r["id"] for r in table.search(query).limit(10).to_list()] == exact_ids(vectors, query, 10)
    db.close()


def test_wait_for_indexes_loads_a_column_this_process_never_touched(db_path):
    rng = np.random.default_rng(1)
    vectors = unit(rng, 2000)
    with livevec.connect(db_path, index_options=livevec.IndexOptions(persist=False)) as db:
        db.create_table(Point).insert([{"id": i, "vec": v} for i, v in enumerate(vectors)])
    db = livevec.connect(db_path, index_options=OPTIONS)
    assert db.backend._indexes == {}
    db.wait_for_indexes()  # before any search: it loads, then builds
    index = column(db)
    assert index.is_graph and index.pending == 0 and len(index.main) == 2000
    db.wait_for_indexes()  # and again, with nothing to do
    db.close()


def test_searches_during_a_build_equal_an_exact_scan(db_path):
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    rng = np.random.default_rng(2)
    vectors = unit(rng, 6000)
    queries = unit(rng, 30)
    stop = threading.Event()
    mismatches: list = []
    committed, begun = [0], [0]  # rows whose insert returned; rows whose insert began
    during: list[bool] = []  # for each search: were rows waiting for the graph?

    def search_all_the_time() -> None:
        rounds = 0
        while not stop.is_set():
            low = committed[0]
            q = queries[rounds % len(queries)]
            got = [r["id"] for r in table.search(q).limit(5).to_list()]
            high = begun[0]
            # the search saw the rows of some whole number of batches between the two
            if got not in [exact_ids(vectors[:n], q, 5) for n in range(low, high + 1, 600)]:
                mismatches.append((low, high, got))
            rounds += 1
            during.append(column(db).pending > 0)

    searcher = threading.Thread(target=search_all_the_time)
    table.insert([{"id": i, "vec": v} for i, v in enumerate(vectors[:600])])
    committed[0] = begun[0] = 600
    searcher.start()
    for start in range(600, 6000, 600):
        begun[0] = start + 600
        table.insert([{"id": start + i, "vec": v} for i, v in enumerate(vectors[start : start + 600])])
        committed[0] = start + 600
    db.wait_for_indexes()
    stop.set()
    searcher.join(60)
    assert not mismatches, mismatches[:3]
    assert any(during), "no search ran while rows waited for the graph"
    for q in queries:
        assert [r["id"] for r in table.search(q).limit(5).to_list()] == exact_ids(vectors, q, 5)
    db.close()


def test_a_large_write_grows_the_graph_in_the_writing_process_without_a_search(db_path):
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    rng = np.random.default_rng(3)
    vectors = unit(rng, 6000)
    table.insert([{"id": 0, "vec": vectors[0]}])
    assert db.backend._indexes == {}  # one row loads nothing
    for start in range(0, 6000, 2000):
        table.insert(
            [{"id": start + i, "vec": v} for i, v in enumerate(vectors[start : start + 2000]) if start + i]
        )
    index = column(db)  # loaded by the writes, and grown by the builder meanwhile
    assert index.seq >= 0 and index.is_graph
    deadline = threading.Event()
    for _ in range(600):  # the builder alone, no wait_for_indexes: up to 60 s on a busy machine
        if index.pending == 0 and len(index.main) == 6000:
            break
        deadline.wait(0.1)
    assert index.pending == 0 and len(index.main) == 6000
    query = unit(rng, 1)[0]
    assert [r["id"] for r in table.search(query).limit(10).to_list()] == exact_ids(vectors, query, 10)
    db.close()


def test_many_small_writes_load_the_column_in_the_writing_process(db_path):
    """A load in batches smaller than LOAD_ON_WRITE_ROWS grows its graph too, once the batches add
    up to that many rows (peers.py loads in batches of 1,000)."""
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    vectors = unit(np.random.default_rng(4), 3000)
    for start in range(0, 1500, 500):
        table.insert([{"id": start + i, "vec": v} for i, v in enumerate(vectors[start : start + 500])])
    assert db.backend._indexes == {}  # 1,500 rows written: not yet
    for start in range(1500, 3000, 500):
        table.insert([{"id": start + i, "vec": v} for i, v in enumerate(vectors[start : start + 500])])
    index = column(db)  # 2,000 rows and more: loaded by the writes
    assert index.seq >= 0
    db.wait_for_indexes()
    assert index.pending == 0 and len(index.main) == 3000
    query = vectors[7]
    assert [r["id"] for r in table.search(query).limit(10).to_list()] == exact_ids(vectors, query, 10)
    db.close()


def test_rows_changed_while_a_graph_grows_off_the_lock_are_found_as_they_are_now(db_path, monkeypatch):
    db, table, vectors, rng = half_in_a_graph(db_path, 8000)
    graph_before = column(db).main
    # the next 4,000 rows are added to a copy of this graph off the lock; once they are in it,
    # other writes change and delete rows that the copy holds from the old graph and from the batch
    changed = {5: unit(rng, 1)[0], 4100: unit(rng, 1)[0]}
    deleted = [7, 4200]
    grow = HnswIndex.upsert
    fired: list[int] = []

    def grow_then_write(self, ids, new_vectors, stopping=None):
        grown = grow(self, ids, new_vectors, stopping)
        if not fired and self is not graph_before and len(self) > 4000:
            fired.append(len(self))
            for key, vector in changed.items():
                table.update(values={"vec": vector}, filters={"id": key})
            table.delete({"id": {"$in": deleted}})
        return grown

    monkeypatch.setattr(HnswIndex, "upsert", grow_then_write)
    table.insert([{"id": 4000 + i, "vec": v} for i, v in enumerate(vectors[4000:])])
    db.wait_for_indexes()
    assert fired, "the rows were not added to a copy of the graph"
    index = column(db)
    assert index.main is not graph_before and index.pending == 0
    # the graph holds each row once, as it is now: no entry of a deleted row, none outdated
    assert len(index) == len(index.main) == 7998 and not index.main.contains(np.array(deleted)).any()
    now = {i: vectors[i] for i in range(8000) if i not in deleted} | changed
    keys = np.array(sorted(now))
    matrix = np.stack([now[k] for k in keys])
    for query in [*changed.values(), *unit(rng, 20)]:
        got = [r["id"] for r in table.search(query).limit(5).to_list()]
        assert got == [int(keys[i]) for i in exact_ids(matrix, query, 5)]
    assert table.count() == 7998
    db.close()


def test_a_loaded_column_follows_another_processs_load_without_a_search(db_path):
    rng = np.random.default_rng(5)
    vectors = unit(rng, 6000)
    reader = livevec.connect(db_path, index_options=OPTIONS)  # the shop, say
    points = reader.create_table(Point)
    points.insert([{"id": i, "vec": v} for i, v in enumerate(vectors[:600])])
    assert len(points.search(vectors[0]).limit(1).to_list()) == 1  # loads the column here
    index = column(reader)
    with livevec.connect(db_path, index_options=OPTIONS) as loader:  # another client of the file
        table = loader.open_table("points")
        for start in range(600, 6000, 1800):
            table.insert([{"id": start + i, "vec": v} for i, v in enumerate(vectors[start : start + 1800])])
    waited = threading.Event()
    for _ in range(600):  # the builder alone follows and builds: no search, no wait_for_indexes
        if len(index.main) == 6000 and index.pending == 0:
            break
        waited.wait(0.1)
    assert len(index.main) == 6000 and index.pending == 0
    query = unit(rng, 1)[0]
    assert [r["id"] for r in points.search(query).limit(10).to_list()] == exact_ids(vectors, query, 10)
    reader.close()


def test_a_row_found_gone_during_a_build_stays_out_of_the_graph_that_build_makes(
    db_path, caplog, monkeypatch
):
    db, table, vectors, rng = half_in_a_graph(db_path, 6000)
    index = column(db)
    building, release = pause_builds_off_the_lock(monkeypatch, index)
    try:
        table.insert([{"id": 3000 + i, "vec": v} for i, v in enumerate(vectors[3000:])])
        assert building.wait(30), "no build off the lock started"
        delete_without_a_log_entry(db_path, "points", "id = 5")  # a row the graph being built copied
        assert 5 not in [r["id"] for r in table.search(vectors[5]).limit(5).to_list()]
        assert caplog.text.count("gone without a change-log entry") == 1
    finally:
        release.set()
    db.wait_for_indexes()
    assert index.pending == 0 and len(index.main) == 5999
    kept = np.delete(vectors, 5, axis=0)
    for q in [vectors[5], *unit(rng, 5)]:
        want = [i if i < 5 else i + 1 for i in exact_ids(kept, q, 5)]
        assert [r["id"] for r in table.search(q).limit(5).to_list()] == want
    assert caplog.text.count("gone without a change-log entry") == 1  # not found again in the new graph
    db.close()


def test_wait_for_indexes_is_not_fooled_by_a_graph_swap_in_progress(db_path, monkeypatch):
    # the builder swaps in a graph it grew off the lock while rows changed: between its steps, the
    # index's parts are not in step, and a wait that read them then returned with rows still waiting
    db, table, vectors, _ = half_in_a_graph(db_path, 6000)
    index = column(db)
    building, release = pause_builds_off_the_lock(monkeypatch, index)
    refill = ExactIndex.upsert

    def slow_refill(exact, ids, vecs):  # the swap's step that refills the waiting rows takes long
        if threading.current_thread().name == "livevec-index-builder" and not len(exact) and len(ids):
            time.sleep(0.3)
        return refill(exact, ids, vecs)

    monkeypatch.setattr(ExactIndex, "upsert", slow_refill)
    try:
        table.insert([{"id": 3000 + i, "vec": v} for i, v in enumerate(vectors[3000:5500])])
        assert building.wait(30), "no build off the lock started"
        # rows written during the build: still waiting when its graph is swapped in
        table.insert([{"id": 5500 + i, "vec": v} for i, v in enumerate(vectors[5500:])])
    finally:
        release.set()
    db.wait_for_indexes()
    assert index.pending == 0 and len(index.main) == 6000
    db.close()


def test_a_stop_interrupts_a_graph_add_and_leaves_the_graph_usable():
    graph = HnswIndex(16, "cosine", OPTIONS)
    vectors = unit(np.random.default_rng(6), 20_000)
    asked: list[int] = []

    def stopping() -> bool:
        asked.append(1)
        return len(asked) > 50

    assert graph.upsert(np.arange(20_000), vectors, stopping) is False
    assert 50 <= len(graph) < 20_000  # stopped early: one core adds a row per question
    assert graph.upsert(np.arange(20_000), vectors) is True  # and the graph takes the rest
    assert len(graph) == 20_000 and graph.search(vectors[7], 1)[0][0] == 7


def test_closing_during_a_build_stops_it_midway(db_path, monkeypatch):
    db, table, vectors, _ = half_in_a_graph(db_path, 40_000)
    index, builder = column(db), db.backend._builder
    adding, results = threading.Event(), []
    add = HnswIndex.upsert

    def gated_add(graph, ids, vecs, stopping=None):
        if graph is index.main or stopping is None:
            return add(graph, ids, vecs, stopping)

        def asked_once_closing_began() -> bool:  # the add's first question waits for close()
            adding.set()
            for _ in range(1000):
                if builder._stopped:
                    break
                time.sleep(0.01)
            return stopping()

        results.append(add(graph, ids, vecs, asked_once_closing_began))
        return results[-1]

    monkeypatch.setattr(HnswIndex, "upsert", gated_add)
    table.insert([{"id": 20_000 + i, "vec": v} for i, v in enumerate(vectors[20_000:])])
    assert adding.wait(30), "no build off the lock started"
    closing = threading.Thread(target=db.close)
    closing.start()
    closing.join(60)
    assert not closing.is_alive() and results == [False]
    with livevec.connect(db_path, index_options=OPTIONS) as again:  # nothing lost: rebuilt at open
        assert again.open_table("points").count() == 40_000
        again.wait_for_indexes()
        assert len(column(again)) == 40_000


@pytest.fixture
def rebuild_from_3000_rows(monkeypatch):
    """Graphs of 3,000 rows or more, mostly grown in steps, are rebuilt (150,000 in a real store)."""
    monkeypatch.setattr(_sqlite_index, "_REBUILD_ROWS", 3000)


def load_in_steps(db_path, total: int, seed: int):
    """(db, table, vectors): `total` rows written in batches of 600 into a loaded column, each
    moved into its graph in slices before the next (as a live table's writes are), so that the
    graph grows in many steps."""
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    vectors = unit(np.random.default_rng(seed), total)
    table.insert([{"id": 0, "vec": vectors[0]}])
    assert len(table.search(vectors[0]).limit(1).to_list()) == 1  # the column is loaded
    for start in range(1, total, 600):
        stop = min(total, start + 600)
        table.insert([{"id": start + i, "vec": v} for i, v in enumerate(vectors[start:stop])])
        table.search(vectors[0]).limit(1).to_list()  # caught up: the rows wait in the delta
        index = column(db)
        while index.pending:  # fewer than _BULK_BUILD_ROWS wait: moved in slices
            index.build_step(eager=True)
    assert column(db)._grown >= total // 2
    return db, table, vectors


def test_a_graph_grown_in_steps_is_rebuilt_in_one_call_with_writes_during_it_kept(
    db_path, rebuild_from_3000_rows, monkeypatch
):
    db, table, vectors = load_in_steps(db_path, 6000, seed=7)
    index = column(db)
    add = HnswIndex.upsert
    building, release, whole = threading.Event(), threading.Event(), []

    def paused_rebuild(graph, ids, vecs, stopping=None):
        if len(graph) == 0 and len(ids) >= 5000:  # a new graph given every row: the rebuild
            whole.append(len(ids))
            building.set()
            release.wait(30)
        return add(graph, ids, vecs, stopping)

    monkeypatch.setattr(HnswIndex, "upsert", paused_rebuild)
    waiting = threading.Thread(target=db.wait_for_indexes)  # the rows into the graph, then the rebuild
    waiting.start()
    try:
        assert building.wait(30), "the graph grown in steps was not rebuilt"
        before = index.main
        # while the new graph is built, the old one answers, and writes go on
        changed = unit(np.random.default_rng(8), 2)
        table.update(values={"vec": changed[0]}, filters={"id": 10})
        table.delete({"id": 20})
        table.insert([{"id": 6000, "vec": changed[1]}])
        assert index.main is before
        now = {i: vectors[i] for i in range(6000) if i != 20} | {10: changed[0], 6000: changed[1]}
        keys = np.array(sorted(now))
        matrix = np.stack([now[k] for k in keys])
        for query in [changed[0], changed[1], vectors[20], *unit(np.random.default_rng(9), 10)]:
            got = [r["id"] for r in table.search(query).limit(5).to_list()]
            assert got == [int(keys[i]) for i in exact_ids(matrix, query, 5)]
    finally:
        release.set()
    waiting.join(60)
    db.wait_for_indexes()
    assert whole == [6000] and index.main is not before and index._grown < 100
    assert index.pending == 0 and len(index) == len(index.main) == 6000
    assert not index.main.contains(np.array([20]))[0]
    for query in [changed[0], *unit(np.random.default_rng(10), 10)]:
        got = [r["id"] for r in table.search(query).limit(5).to_list()]
        assert got == [int(keys[i]) for i in exact_ids(matrix, query, 5)]
    db.close()


def test_wait_for_indexes_writes_a_save_that_is_due_before_it_returns(db_path, rebuild_from_3000_rows):
    """Nothing is left for the builder after the wait: the rebuilt graph is written before it
    returns (a save of a million rows takes seconds, and would slow the searches right after)."""
    db, _, vectors = load_in_steps(db_path, 4000, seed=13)
    db.backend._builder.stop()  # from here only the wait can rebuild and save
    index = column(db)
    db.wait_for_indexes()
    assert index.pending == 0 and index._grown == 0 and len(index.main) == 4000
    assert not index._save_due and index._saved_seq == index._main_seq[0] and index.file.path.exists()
    db.close()
    with livevec.connect(db_path, index_options=OPTIONS) as again:  # the saved graph is used
        query = unit(np.random.default_rng(14), 1)[0]
        got = [r["id"] for r in again.open_table("points").search(query).limit(5).to_list()]
        assert got == exact_ids(vectors, query, 5)


def test_the_builder_rebuilds_a_quiet_column_by_itself_and_saves_the_new_graph(
    db_path, rebuild_from_3000_rows, monkeypatch
):
    monkeypatch.setattr(_sqlite_index, "_REBUILD_QUIET_SECONDS", 0.2)
    db, _, vectors = load_in_steps(db_path, 4000, seed=11)
    index = column(db)
    pause = threading.Event()
    for _ in range(300):  # no wait_for_indexes, no search: the builder alone
        if index.pending == 0 and index._grown == 0 and not index._save_due:
            break
        pause.wait(0.1)
    assert index.pending == 0 and index._grown == 0 and len(index.main) == 4000
    assert not index._save_due and index.file.path.exists()  # saved without _SAVE_EVERY changes
    db.close()
    with livevec.connect(db_path, index_options=OPTIONS) as again:  # the saved graph is used
        query = unit(np.random.default_rng(12), 1)[0]
        got = [r["id"] for r in again.open_table("points").search(query).limit(5).to_list()]
        assert got == exact_ids(vectors, query, 5)
        assert len(column(again).main) == 4000 and column(again).pending == 0


def test_a_build_that_would_leave_a_graph_mostly_grown_builds_it_anew_instead(
    db_path, rebuild_from_3000_rows, monkeypatch
):
    """A load's builds: the waiting rows go to a copy of the graph while the graph stays mostly
    built in one call; when they would make it mostly grown (and so due a rebuild), the graph is
    built anew with them, in one call, and nothing is rebuilt after it."""
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    db.backend._builder.stop()  # only this test's build steps grow the graph
    vectors = unit(np.random.default_rng(16), 7000)
    add, calls = HnswIndex.upsert, []

    def recorded(graph, ids, vecs, stopping=None):
        if len(ids) >= 1000:
            calls.append((len(graph), len(ids)))
        return add(graph, ids, vecs, stopping)

    monkeypatch.setattr(HnswIndex, "upsert", recorded)
    index = None
    for start, stop, expected, grown in [
        (0, 2500, (0, 2500), 0),  # a new graph, in one call
        (2500, 5000, (0, 5000), 0),  # grown by 2,500 it would be half grown: anew, with every row
        (5000, 7000, (5000, 2000), 2000),  # 2,000 of 7,000 grown: a copy grows
    ]:
        table.insert([{"id": i, "vec": v} for i, v in enumerate(vectors[start:stop], start)])
        query = unit(np.random.default_rng(start), 1)[0]
        assert [r["id"] for r in table.search(query).limit(5).to_list()] == exact_ids(
            vectors[:stop], query, 5
        )
        index = column(db)
        assert index.pending == stop - len(index.main) and index.build_step(eager=True)
        assert calls[-1] == expected and index._grown == grown and index.pending == 0
        for query in unit(np.random.default_rng(stop), 5):
            got = [r["id"] for r in table.search(query).limit(5).to_list()]
            assert got == exact_ids(vectors[:stop], query, 5)
    made = len(calls)
    db.wait_for_indexes()  # no rebuild is due
    assert len(calls) == made and len(index.main) == 7000 and index._grown == 2000
    db.close()


def test_a_wait_stops_a_build_whose_graph_would_be_built_anew_after_it(
    db_path, rebuild_from_3000_rows, monkeypatch
):
    """A load's last build, still running when the load ends, grows a graph that the rows which
    arrived meanwhile would make mostly grown: the wait stops it and builds the graph anew with
    every row, rather than finishing work it would throw away."""
    db = livevec.connect(db_path, index_options=OPTIONS)
    table = db.create_table(Point)
    db.backend._builder.stop()  # only this test's steps and the wait build
    vectors = unit(np.random.default_rng(19), 7500)
    index = None

    def write(start, stop):
        nonlocal index
        table.insert([{"id": i, "vec": v} for i, v in enumerate(vectors[start:stop], start)])
        table.search(vectors[0]).limit(1).to_list()  # caught up
        index = column(db)

    write(0, 2500)
    assert index.build_step(eager=True) and len(index.main) == 2500 and index._grown == 0
    add, calls, paused, stopped = HnswIndex.upsert, [], threading.Event(), []

    def recorded(graph, ids, vecs, stopping=None):
        calls.append((len(graph), len(ids)))
        if len(calls) == 1:  # the copy grown by 2,000 rows: held until told to stop
            paused.set()
            for _ in range(3000):
                if stopping():
                    stopped.append(len(ids))
                    return False
                time.sleep(0.01)
        return add(graph, ids, vecs, stopping)

    monkeypatch.setattr(HnswIndex, "upsert", recorded)
    write(2500, 4500)  # 2,000 of 4,500 grown: a copy grows
    building = threading.Thread(target=index.build_step, kwargs={"eager": True})
    building.start()
    assert paused.wait(30)
    write(4500, 7500)  # then 5,000 of 7,500 would be grown: that graph would be built anew
    db.wait_for_indexes()
    building.join(30)
    assert stopped == [2000] and calls == [(2500, 2000), (0, 7500)]
    assert len(index.main) == 7500 and index.pending == 0 and index._grown == 0
    for query in unit(np.random.default_rng(20), 10):
        assert [r["id"] for r in table.search(query).limit(5).to_list()] == exact_ids(vectors, query, 5)
    db.close()


@pytest.mark.parametrize("precision", ["f16", "i8"])
def test_a_graph_joined_with_rows_holds_its_nodes_and_the_rows_which_replace_their_ids(precision):
    graph = HnswIndex(16, "cosine", IndexOptions(precision=precision))
    vectors = unit(np.random.default_rng(17), 3000)
    graph.upsert(np.arange(3000), vectors)
    _, held = graph.contents()
    rows = unit(np.random.default_rng(18), 1000)
    ids = np.arange(2500, 3500)[np.random.default_rng(19).permutation(1000)]  # 500 replace nodes, 500 new
    parts = graph.joined(ids, rows)
    if precision == "f16":  # one part, by id, the rows rounded as the graph would
        ((joined_ids, joined),) = parts
        assert joined_ids.tolist() == list(range(3500)) and joined.dtype == np.float16
        assert np.array_equal(joined[:2500], held[:2500])
        assert np.array_equal(joined[2500:], rows[np.argsort(ids)].astype(np.float16))
    else:  # the nodes, in the graph's int8, then the rows, for usearch to round
        (node_ids, nodes), (row_ids, given) = parts
        assert node_ids.tolist() == list(range(2500)) and np.array_equal(nodes, held[:2500])
        assert row_ids.tolist() == ids.tolist() and np.array_equal(given, rows)
    anew = HnswIndex(16, "cosine", IndexOptions(precision=precision))
    for part in parts:
        anew.upsert(*part)
    assert len(anew) == 3500
    found = [int(anew.search(v, 1)[0][0]) for v in rows[:50]]
    assert found == ids[:50].tolist()
    in_order = graph.joined(np.arange(3000, 3200), rows[:200])  # after the graph's: kept as given
    assert in_order[-1][0].tolist()[-200:] == list(range(3000, 3200))


def test_a_graphs_contents_come_by_id_in_the_graphs_own_type():
    graph = HnswIndex(16, "cosine", IndexOptions(precision="f16"))
    vectors = unit(np.random.default_rng(13), 3000)
    order = np.random.default_rng(14).permutation(3000)
    graph.upsert(order + 100, vectors[order])
    ids, held = graph.contents()
    assert ids.tolist() == list(range(100, 3100)) and held.dtype == np.float16
    assert np.allclose(held.astype(np.float32), vectors, atol=1e-3)


def test_other_threads_run_while_a_graph_is_saved(tmp_path):
    # usearch holds the GIL while it writes a graph (2 s at a million rows that every search waited
    # for); the save lets other threads in every 1,024 nodes
    graph = HnswIndex(16, "cosine", OPTIONS)
    graph.upsert(np.arange(50_000), unit(np.random.default_rng(15), 50_000))
    stamps: list[float] = []
    done = threading.Event()

    def busy() -> None:  # a thread that runs whenever it gets the GIL
        while not done.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0)

    other = threading.Thread(target=busy)
    other.start()
    time.sleep(0.05)
    started = time.perf_counter()
    graph.save(tmp_path / "graph.usearch")
    ended = time.perf_counter()
    done.set()
    other.join(10)
    # without the yields it gets in once, as the save returns; with them, between its parts
    assert sum(started < t < ended for t in stamps) >= 10
    copy = HnswIndex(16, "cosine", OPTIONS)
    copy.load(tmp_path / "graph.usearch")
    assert len(copy) == 50_000
