"""Faults the SQLite store must survive: kill -9 mid-write and mid-save, damaged index files, vetoed
and failed commits, full disks, other processes writing and locking, rows the graph could lose.

After each: no acknowledged write is lost, no batch is half there, and search agrees with an exact
scan of the table. Sizes and durations are bounded so the file runs in well under a minute.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, IndexOptions, TableModel
from livevec.storage import _sqlite_index
from livevec.storage.vector_index import HnswIndex

from . import given_vectors

pytestmark = pytest.mark.backends("sqlite")

DIM = 32  # small vectors: usearch builds fast, and loses nodes in parallel adds as at 384-d
OPTIONS = IndexOptions(ann_min_rows=500)

# the rows bring their vectors: a provider that only knows their length (every process registers it)
GIVEN = given_vectors.source("given", 32)
exec(GIVEN)


class Point(TableModel):
    __tablename__ = "points"
    id: int = Field(primary_key=True)
    batch: int = Field(index=True)
    vec: list[float] | None = EmbeddingFunction("given/32").VectorField(None)


def vectors(n: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def points(vecs: np.ndarray, start: int = 0, batch: int = 0) -> list[dict]:
    return [{"id": start + i, "batch": batch, "vec": v} for i, v in enumerate(vecs)]


def column(db: livevec.Database):
    return db.backend._indexes[("points", "vec")]


def stored(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) as the table holds them, read with plain sqlite3."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT id, vec FROM points ORDER BY id").fetchall()
    ids = np.array([r for r, _ in rows], dtype=np.int64)
    vecs = np.frombuffer(b"".join(v for _, v in rows), dtype="<f4").reshape(len(rows), DIM)
    return ids, vecs


def assert_search_agrees_with_a_scan(db: livevec.Database, path: Path, queries: int = 10) -> None:
    """The 10 nearest of random queries are those of an exact scan; every sampled row's own vector
    finds it at distance ~0."""
    table = db.open_table("points")
    ids, vecs = stored(path)
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    for q in vectors(queries, seed=99):
        got = table.search(q).limit(10).to_list()
        want = ids[np.argsort(1 - unit @ q, kind="stable")[:10]]
        assert len({r["id"] for r in got} & set(want.tolist())) >= 9  # the graph is approximate
    sample = np.random.default_rng(1).choice(len(ids), size=min(50, len(ids)), replace=False)
    for i in sample:
        hit = table.search(vecs[i]).limit(1).to_list()[0]
        assert hit["id"] == ids[i] and hit["_distance"] < 1e-5


# --- every row stays reachable ---------------------------------------------------------------


def not_found_by_own_vector(graph: HnswIndex, ids: np.ndarray, vecs: np.ndarray) -> set[int]:
    """The ids a wide search for their own vector misses: the check the links walk stands in for."""
    graph._index.expansion_search = 512
    found = graph._index.search(vecs.astype(np.float32), 10, threads=1).keys.reshape(len(ids), -1)
    return set(ids[~(found == ids[:, None].astype(np.uint64)).any(axis=1)].tolist())


def own_vectors_found(graph: HnswIndex, ids: np.ndarray, vecs: np.ndarray) -> None:
    assert len(graph.unreachable(ids, vecs)) == 0
    assert not_found_by_own_vector(graph, ids, vecs) == set()


def lossy_build(n: int, seed: int) -> tuple[HnswIndex, np.ndarray, np.ndarray]:
    """A graph added on every core without the check, that lost some nodes (skips if none did)."""
    ids = np.arange(n)
    for attempt in range(8):  # usearch loses nodes at random: find a build that lost some
        vecs = vectors(n, seed=seed + attempt)
        graph = HnswIndex(DIM, "cosine", OPTIONS)
        graph._index.add(ids.astype(np.uint64), vecs, threads=0)  # unchecked
        if len(graph.unreachable(ids, vecs)):
            return graph, ids, vecs
    pytest.skip("usearch lost no node in eight parallel builds")


def test_a_parallel_build_leaves_no_row_unreachable():
    # usearch's multi-threaded add leaves a few nodes per 10,000 unreachable (1 to 8 of 8,000 in
    # repeated runs at 32-d); upsert checks and adds those again alone
    ids, vecs = np.arange(8000), vectors(8000, seed=3)
    graph = HnswIndex(DIM, "cosine", OPTIONS)
    graph.upsert(ids, vecs)
    own_vectors_found(graph, ids, vecs)


def test_the_links_walk_finds_the_nodes_a_search_for_their_own_vector_misses():
    graph, ids, vecs = lossy_build(8000, seed=10)
    walked = set(graph.unreachable(ids, vecs).tolist())
    assert walked and walked == not_found_by_own_vector(graph, ids, vecs)


def test_repair_adds_unreachable_nodes_again():
    graph, ids, vecs = lossy_build(8000, seed=0)
    assert graph.repair(ids, vecs) > 0
    own_vectors_found(graph, ids, vecs)
    assert len(graph) == len(ids)


def test_repair_mends_nodes_of_earlier_adds_with_the_vectors_the_graph_holds():
    # the walk sees the whole graph: nodes lost by an earlier add are mended with a later one's rows
    graph, ids, vecs = lossy_build(8000, seed=20)
    later_ids, later = np.arange(8000, 9200), vectors(1200, seed=99)  # enough to walk the graph
    graph._index.add(later_ids.astype(np.uint64), later, threads=1)
    lost = graph.unreachable(later_ids, later)  # the later rows may have linked some lost ones
    assert len(lost) and set(lost.tolist()) <= set(ids.tolist())
    assert graph.repair(later_ids, later) == len(lost)
    every_id, every = np.concatenate([ids, later_ids]), np.concatenate([vecs, later])
    own_vectors_found(graph, every_id, every)
    assert np.allclose(
        np.vstack(graph._index.get(lost.astype(np.uint64))), vecs[lost.astype(np.int64)], atol=1e-3
    )


def test_a_small_add_to_a_large_graph_is_checked_by_searching_for_its_rows(monkeypatch):
    from livevec.storage import vector_index

    graph, ids, vecs = lossy_build(8000, seed=40)
    lost = set(graph.unreachable(ids, vecs).tolist())
    new_ids, new = np.arange(8000, 8300), vectors(300, seed=41)
    graph._index.add(new_ids.astype(np.uint64), new, threads=0)  # parallel: may lose some of them
    every_id, every = np.concatenate([ids, new_ids]), np.concatenate([vecs, new])
    lost_new = not_found_by_own_vector(graph, new_ids, new)

    def no_walk(serialized: bytes) -> None:
        raise AssertionError("a walk of 8,300 nodes for 300 new rows")

    monkeypatch.setattr(vector_index, "unreachable_keys", no_walk)
    assert graph.repair(new_ids, new) == len(lost_new)  # the new rows only
    assert not_found_by_own_vector(graph, new_ids, new) == set()
    assert not_found_by_own_vector(graph, every_id, every) <= lost  # the old ones wait for a large add


def test_removed_nodes_are_not_reported_and_the_walk_passes_through_them():
    ids, vecs = np.arange(3000), vectors(3000, seed=5)
    graph = HnswIndex(DIM, "cosine", OPTIONS)
    graph.upsert(ids, vecs)
    graph.remove(ids[::3])
    kept = np.setdiff1d(ids, ids[::3])
    assert len(graph.unreachable(kept, vecs[kept])) == 0
    assert not_found_by_own_vector(graph, kept, vecs[kept]) == set()


def test_the_walk_reads_the_graph_from_a_temporary_file_it_then_removes(tmp_path, monkeypatch):
    from livevec.storage._graph_links import unreachable_keys

    graph, _, _ = lossy_build(8000, seed=20)
    from_bytes = unreachable_keys(graph._index.save())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    saved = []
    monkeypatch.setattr(
        graph._index, "save", lambda path=None, save=graph._index.save: saved.append(path) or save(path)
    )
    assert set(graph._unreachable_by_links().tolist()) == set(from_bytes.tolist()) != set()
    assert len(saved) == 1 and saved[0] and saved[0].startswith(str(tmp_path))  # a file, not bytes
    assert list(tmp_path.iterdir()) == []  # and gone


def test_the_walks_temporary_file_is_gone_before_the_walk_starts(tmp_path, monkeypatch):
    # a kill -9 during the walk (seconds at a million rows) must not leave the saved graph behind
    from livevec.storage import vector_index

    graph, ids, vecs = lossy_build(8000, seed=35)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    left_during_walk = []
    walk = vector_index.unreachable_keys

    def watched(serialized):
        left_during_walk.extend(p for p in tmp_path.rglob("*") if p.is_file())
        return walk(serialized)

    monkeypatch.setattr(vector_index, "unreachable_keys", watched)
    assert len(graph.unreachable(ids, vecs))
    assert left_during_walk == []


def test_an_error_in_the_walk_is_raised_as_itself(tmp_path, monkeypatch):
    # the walk holds views of the mapped file when it fails: closing the mapping must not replace
    # the walk's error with a BufferError
    from livevec.storage import vector_index

    graph, _, _ = lossy_build(3000, seed=45)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def failing(serialized):
        view = np.frombuffer(serialized, dtype=np.uint8)
        raise MemoryError(f"no room to walk {len(view)} bytes")

    monkeypatch.setattr(vector_index, "unreachable_keys", failing)
    with pytest.raises(MemoryError, match="no room to walk"):
        graph._unreachable_by_links()
    assert list(tmp_path.iterdir()) == []


def test_the_walk_reads_bytes_where_no_temporary_file_can_be_written(tmp_path, monkeypatch, caplog):
    from livevec.storage._graph_links import unreachable_keys

    graph, ids, vecs = lossy_build(8000, seed=25)
    from_bytes = set(unreachable_keys(graph._index.save()).tolist())
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with caplog.at_level("INFO", logger="livevec"):
        assert set(graph.unreachable(ids, vecs).tolist()) == from_bytes != set()
    assert "no temporary file" in caplog.text


def test_a_graph_layout_it_cannot_read_falls_back_to_searching(monkeypatch, caplog):
    from livevec.storage import vector_index

    graph, ids, vecs = lossy_build(8000, seed=30)
    monkeypatch.setattr(vector_index, "unreachable_keys", lambda serialized: None)
    vector_index._warn_layout_once.cache_clear()
    searches = []
    search = vector_index.HnswIndex._not_found_by_own_vector

    def searched(self, ids, vectors):
        searches.append(search(self, ids, vectors))
        return searches[-1]

    monkeypatch.setattr(vector_index.HnswIndex, "_not_found_by_own_vector", searched)
    with caplog.at_level("WARNING", logger="livevec"):
        missed = graph.unreachable(ids, vecs)
    assert "not laid out as livevec reads it" in caplog.text
    # the searches' answer, as it is: whether a wide search misses exactly the nodes the walk
    # cannot reach is the walk's own test above (it does on these graphs, not by construction)
    assert len(searches) == 1 and missed is searches[0]
    assert graph.repair(ids, vecs) == len(missed)
    own_vectors_found(graph, ids, vecs)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "one byte more", "not usearch", "a link past the end", "a count past the links"],
)
def test_the_links_reader_refuses_a_layout_it_does_not_recognise(damage):
    from livevec.storage._graph_links import unreachable_keys

    graph = HnswIndex(DIM, "cosine", OPTIONS)
    graph.upsert(np.arange(600), vectors(600, seed=6))
    data = bytearray(graph._index.save())
    assert unreachable_keys(bytes(data)) is not None and len(unreachable_keys(bytes(data))) == 0
    matrix = 8 + 600 * DIM * 2  # float16 vectors
    nodes = matrix + 64 + 40 + 2 * 600
    if damage == "truncated":
        data = data[:-1]
    elif damage == "one byte more":
        data += b"\0"
    elif damage == "not usearch":
        data[matrix] = ord("U")
    elif damage == "a link past the end":
        data[nodes + 14 : nodes + 18] = (10**6).to_bytes(4, "little")  # the first node's first link
    else:
        data[nodes + 10 : nodes + 14] = (10**6).to_bytes(4, "little")  # the first node's link count
    assert unreachable_keys(bytes(data)) is None


@pytest.mark.parametrize("path_taken", ["bulk build", "incremental growth", "exact to graph", "reload"])
def test_every_row_is_found_by_its_own_vector(tmp_path, path_taken):
    path = tmp_path / "points.db"
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.create_table(Point)
    vecs = vectors(6000, seed=5)
    if path_taken == "incremental growth":  # rows arrive a few at a time, through the graph's slices
        table.insert(points(vecs[:600]))
        table.search(vecs[0]).to_list()
        db.backend.wait_for_indexes()
        for start in range(600, 3000, 300):
            table.insert(points(vecs[start : start + 300], start))
            db.backend.wait_for_indexes()
        vecs = vecs[:3000]
    elif path_taken == "exact to graph":  # the column crosses ann_min_rows under an open index
        table.insert(points(vecs[:400]))
        table.search(vecs[0]).to_list()
        table.insert(points(vecs[400:], 400))
    else:  # a column loaded from the table at once is built off the lock, on every core
        table.insert(points(vecs))
    table.search(vecs[0]).to_list()
    db.backend.wait_for_indexes()
    if path_taken == "reload":
        db.close()
        db = livevec.connect(path, index_options=OPTIONS)
        db.open_table("points").search(vecs[0]).to_list()
        assert column(db).pending == 0  # the saved graph was loaded whole
    assert column(db).is_graph and column(db).size() == len(vecs)
    own_vectors_found(column(db).main, np.arange(len(vecs)), vecs)
    db.close()


# --- kill -9 -----------------------------------------------------------------------------------

WRITER = GIVEN + textwrap.dedent(
    """
    import sys, numpy as np, livevec
    from livevec import IndexOptions
    path, mode, first = sys.argv[1], sys.argv[2], int(sys.argv[3])
    db = livevec.connect(path, index_options=IndexOptions(ann_min_rows=500))
    table = db.open_table("points")
    rng = np.random.default_rng(first)
    for batch in range(first, first + 10_000):
        vecs = rng.standard_normal((100, 32)).astype(np.float32)
        if mode == "insert":
            table.insert([{"id": batch * 100 + i, "batch": batch, "vec": v} for i, v in enumerate(vecs)])
        else:  # every row of the batch moves to this batch number, with a new vector
            with db.transaction():
                for i, v in enumerate(vecs[:20]):
                    table.update(values={"batch": batch, "vec": v}, filters={"id": i})
        print(batch, flush=True)  # acknowledged: committed
    """
)


def run_until_killed(path: Path, mode: str, first: int, after: float) -> list[int]:
    """Start a writer, kill -9 it `after` seconds after its first acknowledgement (however long the
    process takes to start); the batches it acknowledged."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode, str(first)], stdout=subprocess.PIPE, text=True
    )
    acked: list[int] = [int(process.stdout.readline())]
    reader = threading.Thread(target=lambda: acked.extend(int(line) for line in process.stdout))
    reader.start()
    time.sleep(after)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    reader.join(timeout=30)
    assert process.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize("after", [1.5, 3.0])
def test_kill_9_during_batched_inserts_loses_no_acknowledged_batch_and_leaves_none_half(tmp_path, after):
    path = tmp_path / "points.db"
    with livevec.connect(path, index_options=OPTIONS) as db:
        db.create_table(Point).insert(points(vectors(600, seed=6), start=10_000_000))
    acked = run_until_killed(path, "insert", 1, after)
    assert acked, "the writer acknowledged nothing before the kill"
    with livevec.connect(path, index_options=OPTIONS) as db:
        table = db.open_table("points")
        batches = {}
        for row in table.query({"batch": {"$gt": 0}}):
            batches[row["batch"]] = batches.get(row["batch"], 0) + 1
        assert set(acked) <= set(batches)  # every acknowledged batch is there
        assert set(batches.values()) == {100}  # and no batch is there in part
        assert max(batches) <= max(acked) + 1  # at most the one being committed at the kill
        assert_search_agrees_with_a_scan(db, path)


def test_kill_9_during_transactions_of_updates_applies_each_one_whole(tmp_path):
    path = tmp_path / "points.db"
    with livevec.connect(path, index_options=OPTIONS) as db:
        db.create_table(Point).insert(points(vectors(700, seed=7)))
    acked = run_until_killed(path, "update", 1, 2.0)
    assert acked
    with livevec.connect(path, index_options=OPTIONS) as db:
        table = db.open_table("points")
        moved = {row["batch"] for row in table.query({"id": {"$lt": 20}})}
        assert len(moved) == 1  # all 20 rows were last written by the same transaction
        assert moved.pop() in {max(acked), max(acked) + 1}
        assert_search_agrees_with_a_scan(db, path)


SAVER = GIVEN + textwrap.dedent(
    """
    import sys, numpy as np, livevec
    from livevec import IndexOptions
    db = livevec.connect(sys.argv[1], index_options=IndexOptions(ann_min_rows=500))
    table = db.open_table("points")
    table.search(np.ones(32, dtype=np.float32)).to_list()
    db.backend.wait_for_indexes()
    column = db.backend._indexes[("points", "vec")]
    print("saving", flush=True)
    while True:  # save again and again until killed, some saves cut in the middle
        column._saved_seq = -1
        column.save(force=True)
    """
)


def test_kill_9_during_a_graph_save_leaves_a_usable_store(tmp_path):
    path = tmp_path / "points.db"
    with livevec.connect(path, index_options=OPTIONS) as db:
        db.create_table(Point).insert(points(vectors(4000, seed=8)))
    folder = Path(f"{path}.livevec-index")
    for attempt in range(3):
        process = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert process.stdout.readline().strip() == "saving"
        time.sleep(0.3 + 0.37 * attempt)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        with livevec.connect(path, index_options=OPTIONS) as db:
            assert_search_agrees_with_a_scan(db, path, queries=3)
            assert column(db).size() == 4000
        assert not list(folder.glob("*.tmp*"))  # what the killed save left is cleaned up


# --- damaged index files -------------------------------------------------------------------


def saved(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A database whose graph is saved beside it: (database, graph file, metadata file)."""
    tmp_path.mkdir(exist_ok=True)
    path = tmp_path / "points.db"
    with livevec.connect(path, index_options=OPTIONS) as db:
        db.create_table(Point).insert(points(vectors(3000, seed=9)))
        db.open_table("points").search(vectors(1, seed=1)[0]).to_list()
        db.backend.wait_for_indexes()
    folder = Path(f"{path}.livevec-index")
    return path, folder / "points.vec.usearch", folder / "points.vec.json"


def reckon_crc32(graph: Path, meta: Path) -> None:
    """Damage the graph's structure in the middle and fix up a plain checksum, as a tool might."""
    import zlib

    raw = bytearray(graph.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4096] = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    graph.write_bytes(bytes(raw))
    data = json.loads(meta.read_text())
    data["crc32"] = zlib.crc32(bytes(raw))
    data["mac"] = "0" * 64
    meta.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "damage",
    [
        "metadata a JSON list",
        "metadata a JSON string",
        "metadata without fields",
        "structure damaged, plain checksum fixed up",
        "graph truncated",
        "graph empty",
        "graph of another database",
        "index folder is a file",
        "temporary files of a killed save",
    ],
)
def test_a_damaged_index_file_never_breaks_search(tmp_path, damage, caplog):
    path, graph, meta = saved(tmp_path)
    if damage == "metadata a JSON list":
        meta.write_text("[1, 2, 3]")
    elif damage == "metadata a JSON string":
        meta.write_text('"points"')
    elif damage == "metadata without fields":
        meta.write_text("{}")
    elif damage == "structure damaged, plain checksum fixed up":
        reckon_crc32(graph, meta)
    elif damage == "graph truncated":
        graph.write_bytes(graph.read_bytes()[: graph.stat().st_size // 3])
    elif damage == "graph empty":
        graph.write_bytes(b"")
    elif damage == "graph of another database":  # same table, same options, another file's key
        _other, other_graph, other_meta = saved(tmp_path / "other")
        graph.write_bytes(other_graph.read_bytes())
        meta.write_text(other_meta.read_text())
    elif damage == "index folder is a file":
        for f in graph.parent.iterdir():
            f.unlink()
        graph.parent.rmdir()
        graph.parent.write_text("not a folder")
    else:
        for suffix in (".usearch.tmp4242", ".json.tmp4242"):
            Path(f"{graph.parent / 'points.vec'}{suffix}").write_bytes(b"half a save")
    with livevec.connect(path, index_options=OPTIONS) as db:
        assert_search_agrees_with_a_scan(db, path, queries=3)
        assert column(db).size() == 3000
    if damage == "temporary files of a killed save":
        assert not list(graph.parent.glob("*.tmp*"))
    elif damage != "index folder is a file":
        assert "not using the saved index" in caplog.text
        # rebuilt and saved again: the next start trusts the file
        with livevec.connect(path, index_options=OPTIONS) as db:
            db.open_table("points").search(vectors(1, seed=1)[0]).to_list()
            assert column(db).pending == 0 and column(db).is_graph
    else:
        assert "cannot save the index" in caplog.text


# --- transactions that fail --------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "points.db"
    db = livevec.connect(path, index_options=OPTIONS)
    db.create_table(Point).insert(points(vectors(1000, seed=10)))
    db.open_table("points").search(vectors(1, seed=1)[0]).to_list()
    yield db, path
    db.close()


def veto(path: Path, action: str) -> None:
    """A trigger of the user's that rolls back (or aborts) any write of batch 13."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TRIGGER veto BEFORE INSERT ON points WHEN NEW.batch = 13 "
            f"BEGIN SELECT RAISE({action}, 'batch 13 is vetoed'); END"
        )


def test_a_write_that_sqlite_rolls_back_itself_is_an_error_and_the_store_goes_on(store):
    db, path = store
    veto(path, "ROLLBACK")
    table = db.open_table("points")
    fresh = vectors(3, seed=11)
    with pytest.raises(livevec.LivevecError, match="vetoed") as info:
        table.insert(points(fresh[:2], start=5000, batch=13))
    assert isinstance(info.value.__cause__, sqlite3.Error)
    assert table.count() == 1000 and table.get(5000) is None
    table.insert(points(fresh[2:], start=6000, batch=1))  # the connection is usable
    assert table.search(fresh[2]).limit(1).to_list()[0]["id"] == 6000
    assert_search_agrees_with_a_scan(db, path, queries=3)


def test_a_rollback_by_sqlite_inside_a_block_fails_the_whole_block(store):
    db, path = store
    veto(path, "ROLLBACK")
    table = db.open_table("points")
    fresh = vectors(3, seed=12)
    with pytest.raises(livevec.StorageError, match="rolled back by SQLite"), db.transaction():
        table.insert(points(fresh[:1], start=5000, batch=1))
        with pytest.raises(livevec.LivevecError, match="vetoed"):
            table.insert(points(fresh[1:2], start=5001, batch=13))
        table.insert(points(fresh[2:], start=5002, batch=1))  # would run outside any transaction
    assert table.count() == 1000 and table.get(5000) is None and table.get(5002) is None
    table.insert(points(fresh[:1], start=5000, batch=1))
    assert table.count() == 1001


def test_an_aborted_statement_inside_a_savepoint_rolls_back_only_itself(store):
    db, path = store
    veto(path, "ABORT")
    table = db.open_table("points")
    fresh = vectors(2, seed=13)
    with db.transaction():
        table.insert(points(fresh[:1], start=5000, batch=1))
        with pytest.raises(livevec.LivevecError, match="vetoed"):
            table.insert(points(fresh[1:], start=5001, batch=13))
    assert table.get(5000) is not None and table.get(5001) is None
    assert table.search(fresh[0]).limit(1).to_list()[0]["id"] == 5000


class FailingCommit:
    """The writer connection, except that COMMIT fails once (as on an I/O error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.failed = False

    def execute(self, sql, *args):
        if sql == "COMMIT" and not self.failed and self._conn.in_transaction:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


def test_a_failed_commit_is_an_error_that_writes_nothing(store, monkeypatch):
    db, _path = store
    table = db.open_table("points")
    failing = FailingCommit(db.backend._conn)
    monkeypatch.setattr(db.backend, "_conn", failing)
    fresh = vectors(1, seed=14)
    with pytest.raises(livevec.StorageError, match="commit failed") as info:
        table.insert(points(fresh, start=5000))
    assert isinstance(info.value.__cause__, sqlite3.OperationalError) and failing.failed
    assert table.count() == 1000 and table.get(5000) is None
    table.insert(points(fresh, start=5000))
    assert table.search(fresh[0]).limit(1).to_list()[0]["id"] == 5000


def test_a_full_disk_is_an_error_that_writes_nothing(store):
    db, path = store
    table = db.open_table("points")
    conn = db.backend._conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    with pytest.raises(livevec.StorageError, match="full"):
        table.insert(points(vectors(2000, seed=15), start=5000))
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert table.count() == 1000
    table.insert(points(vectors(10, seed=16), start=5000))
    assert table.count() == 1010
    assert_search_agrees_with_a_scan(db, path, queries=3)


def test_work_after_commit_never_turns_a_committed_write_into_an_error(store, monkeypatch):
    db, _path = store
    table = db.open_table("points")
    original = _sqlite_index.ColumnIndex.catch_up
    calls = []

    def failing_once(self, conn):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the index could not catch up")
        return original(self, conn)

    monkeypatch.setattr(_sqlite_index.ColumnIndex, "catch_up", failing_once)
    fresh = vectors(1, seed=17)
    table.insert(points(fresh, start=5000))  # returns: the write is committed
    assert calls and table.get(5000) is not None
    assert table.search(fresh[0]).limit(1).to_list()[0]["id"] == 5000  # the next search catches up


# --- other processes ---------------------------------------------------------------------------


def test_a_write_waiting_for_another_writer_blocks_only_itself_then_gives_up(tmp_path):
    path = tmp_path / "points.db"
    db = livevec.connect(path, index_options=OPTIONS, busy_timeout=4)
    table = db.create_table(Point)
    table.insert(points(vectors(100, seed=18)))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long write transaction
    outcome: list[BaseException | None] = []

    def write():
        try:
            table.insert(points(vectors(1, seed=19), start=500))
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    # meanwhile this process reads and searches: none of it waits for the blocked write
    for q in vectors(20, seed=20):
        assert len(table.search(q).limit(5).to_list()) == 5
        assert table.count() == 100
    assert writer.is_alive() and not outcome
    writer.join(timeout=30)
    assert isinstance(outcome[0], livevec.StorageError)
    assert "another writer" in str(outcome[0]) and "4 s" in str(outcome[0])
    other.execute("ROLLBACK")
    table.insert(points(vectors(1, seed=19), start=500))  # the lock is free: writes work again
    assert table.count() == 101
    db.close()


def test_writes_of_other_processes_are_searched_at_once_while_they_write(tmp_path, monkeypatch):
    """Two writer processes insert as fast as they can; after each acknowledgement this process
    searches the row's own vector and must find it, and no search inserts into the graph itself."""
    path = tmp_path / "points.db"
    db = livevec.connect(path, index_options=OPTIONS)
    db.create_table(Point).insert(points(vectors(600, seed=21), start=10_000_000))
    table = db.open_table("points")
    table.search(vectors(1, seed=1)[0]).to_list()
    graph_writers: set[str] = set()
    upsert = HnswIndex.upsert

    def recording_upsert(self, ids, vecs, stopping=None):
        graph_writers.add(threading.current_thread().name)
        return upsert(self, ids, vecs, stopping)

    monkeypatch.setattr(HnswIndex, "upsert", recording_upsert)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), "insert", str(first)], stdout=subprocess.PIPE, text=True
        )
        for first in (1, 5001)
    ]
    checked = 0
    deadline = time.monotonic() + 4.0
    try:
        while time.monotonic() < deadline or checked < 8:  # a slow start still checks 8 writes
            for process in writers:
                batch = int(process.stdout.readline())
                rng = np.random.default_rng(1 if batch < 5001 else 5001)
                # the writer draws batches in order from its own generator: replay it to this batch
                for _ in range(batch - (1 if batch < 5001 else 5001)):
                    rng.standard_normal((100, 32))
                last = rng.standard_normal((100, 32)).astype(np.float32)[-1]
                hit = table.search(last).limit(1).to_list()[0]
                assert hit["id"] == batch * 100 + 99 and hit["_distance"] < 1e-5
                checked += 1
    finally:
        for process in writers:
            process.kill()
            process.wait(timeout=30)
    assert checked >= 8
    assert threading.main_thread().name not in graph_writers  # searches never build the graph
    db.backend.wait_for_indexes()
    assert_search_agrees_with_a_scan(db, path)
    db.close()


def test_the_first_search_after_a_restart_with_a_backlog_does_not_build_the_graph(tmp_path, monkeypatch):
    path = tmp_path / "points.db"
    with livevec.connect(path, index_options=OPTIONS) as db:
        db.create_table(Point).insert(points(vectors(2000, seed=22)))
        db.open_table("points").search(vectors(1, seed=1)[0]).to_list()
        db.backend.wait_for_indexes()
    with sqlite3.connect(path) as conn:  # another program adds rows while nothing has the graph open
        conn.executemany(
            "INSERT INTO points (id, batch, vec) VALUES (?, 1, ?)",
            [(3000 + i, v.tobytes()) for i, v in enumerate(vectors(3000, seed=23))],
        )
    calls: list[str] = []
    upsert = HnswIndex.upsert
    monkeypatch.setattr(
        HnswIndex,
        "upsert",
        lambda self, *a: calls.append(threading.current_thread().name) or upsert(self, *a),
    )
    with livevec.connect(path, index_options=OPTIONS) as db:
        table = db.open_table("points")
        new = vectors(3000, seed=23)
        assert table.search(new[7]).limit(1).to_list()[0]["id"] == 3007
        assert threading.main_thread().name not in calls
        assert_search_agrees_with_a_scan(db, path)
