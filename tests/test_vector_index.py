"""The vector index behind search: exact/HNSW switch, filtered planning, freshness, repair, quantization.

Tables hold caller-given 384-d vectors (clustered random data) so the tests need not embed; a small
`ann_min_rows` puts tables of a few thousand rows on the HNSW graph.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import livevec
from livevec import EmbeddingFunction, Field, IndexOptions, TableModel
from livevec.storage import _changelog as changelog
from livevec.storage import sqlite as sqlite_store
from livevec.storage.vector_index import ExactIndex, distances

DIM = 384
ROWS = 2000
OPTIONS = IndexOptions(ann_min_rows=500, exact_filter_rows=100)


class Item(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    bucket: int
    vec: list[float] | None = EmbeddingFunction().VectorField(None)


def clustered(n: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 50 centres: nearest-neighbour structure like real embeddings."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, DIM))
    x = centres[rng.integers(0, 50, n)] + rng.normal(scale=0.6, size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def rows(vectors: np.ndarray, start: int = 0) -> list[dict]:
    return [{"id": start + i, "bucket": (start + i) % 100, "vec": v} for i, v in enumerate(vectors)]


def exact(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    d = 1 - vectors @ (query / np.linalg.norm(query))
    return [int(ids[i]) for i in np.argsort(d, kind="stable")[:k]]


def index_of(db: livevec.Database):
    """The column's index: `is_graph`, and its size as of the last search or write."""
    return db.backend._indexes[("items", "vec")]


@pytest.fixture
def data() -> np.ndarray:
    return clustered(ROWS)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


def built(db: livevec.Database, table: livevec.Table) -> None:
    """Load the column's index and wait until every row is in the graph (the builder thread's job)."""
    table.search(np.ones(DIM, dtype=np.float32)).limit(1).to_list()
    db.backend.wait_for_indexes()


def filled(path: Path, vectors: np.ndarray, options: IndexOptions = OPTIONS) -> livevec.Database:
    """A database whose items table holds `vectors`, its graph built."""
    db = livevec.connect(path, index_options=options)
    built(db, db.create_table(Item).insert(rows(vectors)) and db.open_table("items"))
    return db


def test_small_tables_scan_exactly_and_large_ones_switch_to_the_graph_and_back(path, data):
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.create_table(Item)
    table.insert(rows(data[:400]))
    table.search(data[0]).to_list()
    assert not index_of(db).is_graph
    table.insert(rows(data[400:], 400))  # crosses ann_min_rows within the write call
    assert index_of(db).is_graph and index_of(db).size() == ROWS
    table.delete({"id": {"$gte": 200}})  # below half of ann_min_rows: back to the exact scan
    assert not index_of(db).is_graph and index_of(db).size() == 200
    got = [r["id"] for r in table.search(data[7]).limit(10).to_list()]
    assert got == exact(data[:200], np.arange(200), data[7], 10)


def test_graph_search_has_high_recall(path, data):
    db = filled(path, data)
    table = db.open_table("items")
    table.search(data[0]).to_list()
    assert index_of(db).is_graph
    queries = clustered(50, seed=1)
    found = 0
    for q in queries:
        got = {r["id"] for r in table.search(q).limit(10).to_list()}
        found += len(got & set(exact(data, np.arange(ROWS), q, 10)))
    assert found / 500 >= 0.95


@pytest.mark.parametrize(
    ("where", "mask"),
    [
        ({"bucket": 3}, lambda ids: ids % 100 == 3),  # 1%: scanned exactly
        ({"bucket": {"$lt": 30}}, lambda ids: ids % 100 < 30),  # 30%: through the graph
        ({"id": {"$in": [5, 905, 1805]}}, lambda ids: np.isin(ids, [5, 905, 1805])),  # fewer than a page
    ],
)
def test_filtered_search_returns_full_pages_of_the_nearest_matches(path, data, where, mask):
    db = filled(path, data)
    table = db.open_table("items")
    ids = np.arange(ROWS)
    keep = mask(ids)
    found = total = 0
    for q in clustered(30, seed=2):
        got = table.search(q).filter(where).limit(10).to_list()
        want = exact(data[keep], ids[keep], q, 10)
        assert len(got) == len(want)
        assert all(mask(np.array([r["id"]]))[0] for r in got)
        found += len({r["id"] for r in got} & set(want))
        total += len(want)
    assert found / total >= 0.95


class IndexedItem(TableModel):
    __tablename__ = "items"
    id: int = Field(primary_key=True)
    bucket: int = Field(index=True)
    vec: list[float] | None = EmbeddingFunction().VectorField(None)


def test_a_selective_filter_on_an_indexed_field_is_an_exact_scan(path, data):
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.create_table(IndexedItem)
    table.insert(rows(data))
    ids = np.arange(ROWS)
    for q in clustered(10, seed=4):
        got = table.search(q).filter({"bucket": 42}).limit(10).to_list()
        keep = ids % 100 == 42
        assert [r["id"] for r in got] == exact(data[keep], ids[keep], q, 10)
    assert index_of(db).is_graph


@pytest.mark.parametrize(
    ("where", "keeps", "member", "kept_in"),
    [
        # a selective filter: its rows' vectors are kept in memory and scanned exactly
        ({"bucket": 42}, lambda b: b == 42, 42, "_rows"),
        # a broad one: the graph's candidates are checked against which rows it keeps, by rowid
        ({"bucket": {"$lt": 40}}, lambda b: b < 40, 12, "_masks"),
    ],
)
def test_what_a_filter_keeps_in_memory_follows_every_change(
    path, data, monkeypatch, where, keeps, member, kept_in
):
    # the first search with the filter keeps its rows (or which rows pass) in memory; every later
    # change (ours, another connection's, a rolled-back one, one behind a pruned log) must reach
    # the next search
    monkeypatch.setattr(changelog, "KEEP", 200)
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.create_table(IndexedItem)
    table.insert(rows(data))
    built(db, table)
    current = {i: (i % 100, data[i]) for i in range(ROWS)}
    queries = clustered(4, seed=12)
    column = index_of(db)

    def agrees() -> None:
        ids = np.array([i for i, (b, _) in current.items() if keeps(b)])
        vectors = np.array([current[i][1] for i in ids])
        for q in queries:
            got = [r["id"] for r in table.search(q).filter(where).limit(10).to_list()]
            assert all(keeps(current[i][0]) for i in got)  # never a row the filter drops
            want = exact(vectors, ids, q, 10)
            if kept_in == "_rows":
                assert got == want
            else:  # the graph: approximate, but the nearest row that joined is always found
                assert len(set(got) & set(want)) >= 9 and got[0] == want[0]

    agrees()
    assert len(getattr(column.filters, kept_in)) == 1  # kept: the next changes update it, not a re-read
    near = queries[0] + 0.01
    table.update({"bucket": member, "vec": near.tolist()}, {"id": 7})  # joins, nearest to the query
    current[7] = (member, near / np.linalg.norm(near))
    table.update({"bucket": 91}, {"id": 142})  # leaves
    current[142] = (91, current[142][1])
    table.update({"vec": queries[1].tolist()}, {"id": 242})  # moves
    current[242] = (42, queries[1])
    table.delete({"id": 342})
    del current[342]
    table.insert({"id": 5000, "bucket": member, "vec": queries[2]})  # a rowid past all the others
    current[5000] = (member, queries[2])
    agrees()
    other = sqlite3.connect(path)  # another client: the change log's triggers tell the index
    with other:
        other.execute("UPDATE items SET bucket = ? WHERE id = 8", (member,))
        other.execute("UPDATE items SET bucket = 91 WHERE id = 5000")  # leaves again
    current[8] = (member, current[8][1])
    current[5000] = (91, current[5000][1])
    agrees()
    with pytest.raises(RuntimeError), db.transaction():
        table.update({"bucket": member, "vec": queries[3].tolist()}, {"id": 9})
        inside = table.search(queries[3]).filter(where).limit(1).to_list()
        assert inside[0]["id"] == 9  # the transaction sees its own row
        raise RuntimeError("roll back")
    agrees()  # and nothing of it stayed in memory
    for i in range(300):  # more changes to other rows than the log keeps, while unfiltered
        table.update({"bucket": 91}, {"id": 1000 + i % 50})  # searches keep the graph in step
        current[1000 + i % 50] = (91, current[1000 + i % 50][1])
        if i % 20 == 0:
            table.search(queries[0]).limit(1).to_list()
    with other:
        other.execute("UPDATE items SET bucket = ? WHERE id = 1091", (member,))
    current[1091] = (member, current[1091][1])
    agrees()
    assert len(getattr(column.filters, kept_in)) == 1
    other.close()
    db.close()


def test_a_broad_filter_over_negative_keys_checks_its_candidates_in_sql(path, data):
    # an integer primary key is the rowid, and may be negative: no rowid-indexed mask can hold
    # such a row, so the filter is checked in SQL, and a row that later joins is still found
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.create_table(IndexedItem)
    table.insert(rows(data, start=-ROWS // 2))
    built(db, table)
    ids = np.arange(-ROWS // 2, ROWS // 2)
    query, broad = data[5], {"bucket": {"$lt": 40}}
    got = [r["id"] for r in table.search(query).filter(broad).limit(10).to_list()]
    want = exact(data[ids % 100 < 40], ids[ids % 100 < 40], query, 10)
    assert all(i % 100 < 40 for i in got) and got[0] == want[0]
    assert len(set(got) & set(want)) >= 9
    table.update({"bucket": 3}, {"id": int(ids[5])})  # the query's own row (bucket 5) stays in
    table.update({"bucket": 77}, {"id": int(ids[5])})  # and leaves
    got = [r["id"] for r in table.search(query).filter(broad).limit(10).to_list()]
    assert int(ids[5]) not in got and all(i % 100 < 40 for i in got)
    assert index_of(db).filters._masks == {}


def test_a_filter_too_rare_for_the_graphs_breadth_is_scanned_up_to_exact_filter_rows(path, data, monkeypatch):
    # with ef=16, finding 10 rows that pass a 60% filter takes 25 neighbours: more than the graph
    # returns reliably, so its 1,200 rows are scanned; a 90% filter keeps more than exact_filter_rows
    options = IndexOptions(ann_min_rows=500, exact_filter_rows=1500, expansion_search=16)
    db = livevec.connect(path, index_options=options)
    table = db.create_table(IndexedItem)
    table.insert(rows(data))
    built(db, table)
    scans = []
    scan = sqlite_store.ColumnIndex._scan
    monkeypatch.setattr(
        sqlite_store.ColumnIndex, "_scan", lambda self, *a, **k: scans.append(1) or scan(self, *a, **k)
    )
    ids = np.arange(ROWS)
    for q in clustered(5, seed=6):
        got = table.search(q).filter({"bucket": {"$lt": 60}}).limit(10).to_list()
        keep = ids % 100 < 60
        assert [r["id"] for r in got] == exact(data[keep], ids[keep], q, 10)
    assert len(scans) == 5
    for q in clustered(5, seed=7):
        assert len(table.search(q).filter({"bucket": {"$lt": 90}}).limit(10).to_list()) == 10
    assert len(scans) == 5  # the broad filter went through the graph
    db.close()
    wider = livevec.connect(path, index_options=IndexOptions(ann_min_rows=500, expansion_search=64))
    for q in clustered(5, seed=6):  # with ef=64 the graph returns those 25 neighbours well
        assert len(wider.open_table("items").search(q).filter({"bucket": {"$lt": 60}}).to_list()) == 10
    assert len(scans) == 5


def test_filter_far_from_the_query_still_fills_the_page(path, data):
    # the rows the filter keeps are all in other clusters than the query: the graph's nearest
    # neighbours all fail it, so the search must widen and finally scan
    db = filled(path, data)
    table = db.open_table("items")
    query = data[0]
    far = np.argsort(1 - data @ query)[ROWS // 2 :]  # the farther half of the rows
    ids = sorted(int(i) for i in far)
    got = table.search(query).filter({"id": {"$in": ids}}).limit(10).to_list()
    assert [r["id"] for r in got] == exact(data[ids], np.array(ids), query, 10)


@pytest.mark.parametrize(
    ("where", "mask"),
    [
        (None, lambda ids: ids >= 0),
        ({"bucket": 3}, lambda ids: ids % 100 == 3),
        ({"bucket": {"$lt": 50}}, lambda ids: ids % 100 < 50),
    ],
)
def test_distance_range_matches_an_exact_scan(path, data, where, mask):
    db = filled(path, data)
    table = db.open_table("items")
    query = data[11]
    d = 1 - data @ query
    ids = np.arange(ROWS)
    keep = mask(ids)
    lo, hi = np.sort(d[keep])[[3, 16]]  # 14 rows in range, the 3 nearest left out
    got = table.search(query).filter(where).distance_range(float(lo), float(hi)).limit(10).to_list()
    inside = ids[keep & (d >= lo) & (d <= hi)]
    want = sorted(inside.tolist(), key=lambda i: d[i])[:10]
    assert len(got) == 10
    assert len({r["id"] for r in got} & set(want)) >= 9
    assert all(lo - 1e-5 <= r["_distance"] <= hi + 1e-5 for r in got)


def test_a_write_is_searchable_as_soon_as_the_call_returns(path, data):
    db = filled(path, data)
    table = db.open_table("items")
    table.search(data[0]).to_list()
    fresh = clustered(1, seed=9)[0]
    table.insert({"id": 10_000, "bucket": 1, "vec": fresh})
    assert table.search(fresh).limit(1).to_list()[0]["id"] == 10_000
    table.update({"vec": data[3].tolist()}, {"id": 10_000})
    assert {r["id"] for r in table.search(data[3]).limit(2).to_list()} == {3, 10_000}
    assert table.search(fresh).limit(1).to_list()[0]["id"] != 10_000
    table.delete({"id": 10_000})
    assert 10_000 not in {r["id"] for r in table.search(data[3]).limit(5).to_list()}


def test_another_connections_writes_are_seen_by_the_next_search(path, data):
    db = filled(path, data)
    table = db.open_table("items")
    table.search(data[0]).to_list()
    other = livevec.connect(path, index_options=OPTIONS).open_table("items")
    fresh = clustered(1, seed=8)[0]
    other.insert({"id": 20_000, "bucket": 1, "vec": fresh})
    other.delete({"id": 0})
    assert table.search(fresh).limit(1).to_list()[0]["id"] == 20_000
    assert 0 not in {r["id"] for r in table.search(data[0]).limit(5).to_list()}


def test_local_model_text_is_searchable_right_after_insert(tmp_path):
    class Note(TableModel):
        __tablename__ = "notes"
        id: int = Field(primary_key=True)
        text: str
        vec: list[float] | None = EmbeddingFunction().VectorField("text")

    db = livevec.connect(tmp_path / "notes.db", index_options=IndexOptions(ann_min_rows=2))
    notes = db.create_table(Note)
    assert notes.search("anything").to_list() == []  # loads the (empty) index
    notes.insert([{"id": 1, "text": "a red running shoe"}, {"id": 2, "text": "a stainless steel kettle"}])
    notes.insert({"id": 3, "text": "noise cancelling headphones"})
    assert db.backend._indexes[("notes", "vec")].is_graph
    assert notes.search("headphones for music").limit(1).to_list()[0]["id"] == 3


def test_a_rolled_back_write_leaves_the_index(path, data):
    db = filled(path, data)
    table = db.open_table("items")
    fresh = clustered(1, seed=7)[0]
    with pytest.raises(RuntimeError), db.transaction():
        table.insert({"id": 30_000, "bucket": 1, "vec": fresh})
        assert table.search(fresh).limit(1).to_list()[0]["id"] == 30_000  # our own write, uncommitted
        raise RuntimeError("abort")
    assert table.search(fresh).limit(1).to_list()[0]["id"] != 30_000
    assert index_of(db).size() == ROWS


def test_a_rolled_back_savepoint_leaves_the_index_but_the_outer_write_stays(path, data):
    db = filled(path, data)
    table = db.open_table("items")
    kept, dropped = clustered(2, seed=6)
    with db.transaction():
        table.insert({"id": 40_000, "bucket": 1, "vec": kept})
        with pytest.raises(RuntimeError), db.transaction():
            table.insert({"id": 40_001, "bucket": 1, "vec": dropped})
            assert table.search(dropped).limit(1).to_list()[0]["id"] == 40_001
            raise RuntimeError("abort the inner block")
        assert table.search(dropped).limit(1).to_list()[0]["id"] != 40_001
    assert table.search(kept).limit(1).to_list()[0]["id"] == 40_000
    assert index_of(db).size() == ROWS + 1


# --- the index file beside the database -----------------------------------------------------------


def index_files(path: Path) -> tuple[Path, Path]:
    folder = Path(str(path) + ".livevec-index")
    return folder / "items.vec.usearch", folder / "items.vec.json"


def reopened_results(path: Path, data: np.ndarray, expected_rows: np.ndarray, ids: np.ndarray) -> None:
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.open_table("items")
    for q in data[:5]:
        got = [r["id"] for r in table.search(q).limit(5).to_list()]
        want = exact(expected_rows, ids, q, 5)
        assert len(set(got) & set(want)) >= 4
    assert index_of(db).size() == len(ids)
    db.close()
    _, meta = index_files(path)
    assert json.loads(meta.read_text())["count"] == len(ids)  # repaired file written back


def test_index_is_saved_on_close_and_reloaded(path, data):
    db = filled(path, data)
    db.open_table("items").search(data[0]).to_list()
    db.close()
    graph, meta = index_files(path)
    saved = json.loads(meta.read_text())
    assert saved["count"] == ROWS and graph.stat().st_size > 0
    before = graph.stat().st_mtime_ns
    reopened_results(path, data, data, np.arange(ROWS))
    assert graph.stat().st_mtime_ns == before  # loaded as it was, nothing to rewrite


@pytest.mark.parametrize("damage", ["corrupt", "truncate", "missing", "bad metadata", "other database"])
def test_a_damaged_index_file_is_rebuilt_from_the_table(path, data, damage, tmp_path):
    db = filled(path, data)
    db.open_table("items").search(data[0]).to_list()
    db.close()
    graph, meta = index_files(path)
    if damage == "corrupt":
        raw = bytearray(graph.read_bytes())
        raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\xff" * 64
        graph.write_bytes(bytes(raw))
    elif damage == "truncate":
        graph.write_bytes(graph.read_bytes()[:1000])
    elif damage == "missing":
        graph.unlink()
    elif damage == "bad metadata":
        meta.write_text("{not json")
    else:  # a same-named table in another database, copied over this one's index
        other = tmp_path / "other.db"
        db2 = filled(other, data[::-1].copy())
        db2.open_table("items").search(data[0]).to_list()
        db2.close()
        for src, dst in zip(index_files(other), index_files(path), strict=True):
            shutil.copy(src, dst)
    reopened_results(path, data, data, np.arange(ROWS))


def test_a_stale_index_file_catches_up_from_the_change_log(path, data):
    db = filled(path, data[:1500])
    db.open_table("items").search(data[0]).to_list()
    db.close()
    graph, meta = index_files(path)
    old = graph.read_bytes(), meta.read_text()
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.open_table("items")
    table.insert(rows(data[1500:], 1500))
    table.delete({"id": {"$lt": 100}})
    db.close()
    graph.write_bytes(old[0])  # as if the process that wrote the rest had crashed before saving
    meta.write_text(old[1])
    reopened_results(path, data[100:], data[100:], np.arange(100, ROWS))


def test_a_stale_index_file_behind_the_pruned_log_is_rebuilt(path, data, monkeypatch):
    monkeypatch.setattr(changelog, "KEEP", 50)
    db = filled(path, data[:1500])
    db.open_table("items").search(data[0]).to_list()
    db.close()
    graph, meta = index_files(path)
    old = graph.read_bytes(), meta.read_text()
    db = livevec.connect(path, index_options=OPTIONS)
    db.open_table("items").insert(rows(data[1500:], 1500))
    db.close()
    graph.write_bytes(old[0])
    meta.write_text(old[1])
    reopened_results(path, data, data, np.arange(ROWS))


def test_writes_of_a_process_that_crashed_are_found_at_the_next_start(path, data):
    db = filled(path, data[:1500])
    db.open_table("items").search(data[0]).to_list()
    db.close()
    np.save(path.parent / "rest.npy", data[1500:])
    script = textwrap.dedent(
        f"""
        import os, numpy as np, livevec
        from livevec import IndexOptions
        db = livevec.connect({str(path)!r}, index_options=IndexOptions(ann_min_rows=500))
        table = db.open_table("items")
        table.search(np.load({str(path.parent / "rest.npy")!r})[0]).to_list()
        rest = np.load({str(path.parent / "rest.npy")!r})
        table.insert([{{"id": 1500 + i, "bucket": i % 100, "vec": v}} for i, v in enumerate(rest)])
        os._exit(0)  # no close: the in-memory index dies unsaved
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    reopened_results(path, data, data, np.arange(ROWS))


# --- quantized vectors --------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["f16", "i8"])
def test_quantized_index_reranks_with_exact_distances(path, data, precision):
    options = IndexOptions(ann_min_rows=500, exact_filter_rows=100, precision=precision)
    db = filled(path, data, options)
    table = db.open_table("items")
    ids = np.arange(ROWS)
    found = 0
    for q in clustered(20, seed=3):
        got = table.search(q).limit(10).to_list()
        found += len({r["id"] for r in got} & set(exact(data, ids, q, 10)))
        d = {r["id"]: r["_distance"] for r in got}
        for i, dist in d.items():  # distances are the float32 ones, not the quantized
            assert dist == pytest.approx(float(1 - data[i] @ q / np.linalg.norm(q)), abs=1e-5)
        selective = table.search(q).filter({"bucket": 7}).limit(10).to_list()  # exact scan + re-rank
        keep = ids % 100 == 7
        assert [r["id"] for r in selective] == exact(data[keep], ids[keep], q, 10)
    assert index_of(db).is_graph
    assert found / 200 >= 0.95


class FarItem(TableModel):
    __tablename__ = "far"
    id: int = Field(primary_key=True)
    vec: list[float] | None = EmbeddingFunction().VectorField(None, distance="l2")


def test_the_graph_holds_float16_for_cosine_and_float32_for_l2_values_beyond_its_range(path, data):
    # float16 halves a cosine graph's memory (unit vectors, re-ranked exactly); an l2 column's
    # values may exceed float16's range (65,504), so its graph keeps float32 and its ranking holds
    assert IndexOptions().graph_precision("cosine") == "f16"
    assert IndexOptions().graph_precision("l2") == "f32"
    assert IndexOptions(precision="i8").graph_precision("l2") == "i8"
    db = filled(path, data)
    assert index_of(db).main.precision == "f16"
    far = data * 1e5 + np.arange(ROWS)[:, None]  # values up to 1e5: inf in float16
    table = db.create_table(FarItem)
    table.insert([{"id": i, "vec": v} for i, v in enumerate(far)])
    built(db, table)
    column = db.backend._indexes[("far", "vec")]
    assert column.is_graph and column.main.precision == "f32"
    query = far[123] + 1.0
    got = table.search(query).limit(5).to_list()
    want = np.argsort(np.linalg.norm(far - query, axis=1))[:5].tolist()
    assert got[0]["id"] == 123
    assert len({r["id"] for r in got} & set(want)) >= 4
    assert got[0]["_distance"] == pytest.approx(np.linalg.norm(far[123] - query), rel=1e-5)


@pytest.mark.parametrize("distance", ["cosine", "l2"])
def test_an_exact_index_returns_the_distances_a_row_is_measured_with(distance):
    # a search whose candidates all come from an exact index reads only the rows' columns: the
    # numbers it returns must be `distances()`'s, bit for bit, whatever the rows' norms
    rng = np.random.default_rng(5)
    vectors = (rng.normal(size=(700, DIM)) * rng.uniform(0.01, 50, size=(700, 1))).astype(np.float32)
    vectors[9] = 0.0  # no direction: cosine distance 1
    index = ExactIndex(DIM, distance)
    index.upsert(np.arange(700), vectors)
    index.remove(np.arange(0, 700, 7))  # holes filled by moved rows
    for query in (rng.normal(size=DIM).astype(np.float32) * 3, vectors[10] + 0.5, vectors[9]):
        ids, found = index.search(query, 25)
        assert len(ids) >= 25 and not np.isin(ids, np.arange(0, 700, 7)).any()  # with rows tied
        assert np.array_equal(found, distances(query, vectors[ids], distance))
        assert np.all(np.diff(found) >= 0)
        everything = distances(query, np.delete(vectors, np.arange(0, 700, 7), axis=0), distance)
        assert found[-1] == np.sort(everything)[24]


@pytest.mark.parametrize("model", [Item, FarItem])
def test_a_row_gets_the_same_distance_whichever_part_of_the_index_finds_it(path, data, model):
    db = livevec.connect(path, index_options=OPTIONS)
    table = db.create_table(model)
    scale = 1.0 if model is Item else 7.0  # l2 vectors off the unit sphere
    table.insert(
        [
            {"id": i, "vec": v * scale} | ({"bucket": i % 100} if model is Item else {})
            for i, v in enumerate(data)
        ]
    )
    built(db, table)
    table.insert(
        [
            {"id": ROWS + i, "vec": v * scale} | ({"bucket": 3} if model is Item else {})
            for i, v in enumerate(data[:20] + 0.01)
        ]
    )
    stored = np.concatenate([data * scale, (data[:20] + 0.01) * scale]).astype(np.float32)
    distance = "cosine" if model is Item else "l2"
    assert db.backend._indexes[(model.__tablename__, "vec")].is_graph
    for q in clustered(5, seed=8) * scale:
        seen: dict[int, float] = {}
        searches = [table.search(q).limit(40)]  # the graph and the waiting rows, then measured
        if model is Item:
            searches += [
                table.search(q).filter({"bucket": 3}).limit(40),  # few rows: scanned from memory
                table.search(q).filter({"bucket": {"$lt": 60}}).limit(40),  # the graph, checked in SQL
            ]
        with db.transaction():  # the rows as the transaction sees them, scanned from the table
            searches.append(table.search(q).filter({"id": {"$lt": 60}} if model is Item else {}).limit(40))
            results = [s.select("id").to_list() for s in searches]
        for result in results:
            for r in result:
                want = float(distances(q, stored[r["id"]][None, :], distance)[0])
                assert r["_distance"] == want
                assert seen.setdefault(r["id"], r["_distance"]) == r["_distance"]
        assert len(seen) >= (60 if model is Item else 40)  # paths that found different rows too
