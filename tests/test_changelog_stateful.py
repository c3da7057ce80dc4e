"""Random sequences of writes, by livevec and by other clients, against a simple model: after every
step each open live query and a fresh search must equal an exact scan of the table (issue 21).

Hypothesis drives inserts, updates, deletes, REPLACE by another connection, raw SQL, transactions that
commit or roll back, a log pruned at every commit, restarts of the database handle, and live handles
opened, closed and cancelled, on both backends. Bounded for CI (`LIVEVEC_STATEFUL_EXAMPLES`, 12 by
default); `benchmarks/changelog_soak.py` runs it longer.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import livevec
from livevec import EmbeddingFunction, Field, IndexOptions, TableModel
from livevec.live import live_queries
from livevec.storage import _changelog, _sqlite_index, sqlite
from livevec.storage.vector_index import distances

from . import given_vectors

exec(given_vectors.source("given4", 4))

EXAMPLES = int(os.environ.get("LIVEVEC_STATEFUL_EXAMPLES", "12"))
STEPS = int(os.environ.get("LIVEVEC_STATEFUL_STEPS", "25"))
# a graph from 12 rows on, so that both the exact index and the HNSW graph are driven
OPTIONS = IndexOptions(ann_min_rows=12, precision="f32")
KEYS = [f"k{i:02d}" for i in range(30)]
QUERIES = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.5, -0.5, 0.5, 0.5]], dtype=np.float32)


class Row(TableModel):
    __tablename__ = "rows"
    id: str = Field(primary_key=True)
    kind: str = Field(index=True)
    vec: list[float] | None = EmbeddingFunction("given4/x").VectorField(None)


# continuous values, and often the same ones: equal vectors tie
vectors = (
    st.lists(st.floats(-1, 1, width=32), min_size=4, max_size=4)
    .map(lambda v: np.asarray(v, np.float32))
    .filter(lambda v: float(np.linalg.norm(v)) > 0.1)
)
keys = st.sampled_from(KEYS)
kinds = st.sampled_from(["a", "b"])


def exact(table, query: np.ndarray, limit: int, kind: str | None) -> list[float]:
    """The distances of the `limit` nearest rows by an exact scan of the table."""
    rows = [r for r in table.query() if r["vec"] is not None and (kind is None or r["kind"] == kind)]
    if not rows:
        return []
    return sorted(distances(query, np.asarray([r["vec"] for r in rows], np.float32), "cosine").tolist())[
        :limit
    ]


def check(table, query: np.ndarray, limit: int, kind: str | None, result: list[dict]) -> None:
    """`result` is what an exact scan finds: as many rows, at the same distances (rows at one distance
    may be any of them: a graph does not break ties among equal vectors by key), each a row that exists
    now, with its current vector and kind, once."""
    expected = exact(table, query, limit, kind)
    assert len(result) == len(expected), f"{len(result)} rows where an exact scan finds {len(expected)}"
    assert np.allclose([r["_distance"] for r in result], expected, atol=1e-6)
    assert len({r["id"] for r in result}) == len(result)
    for r in result:
        now = table.get(r["id"])
        assert now is not None, f"{r['id']} is a ghost"
        assert (kind is None or now.kind == kind) and np.allclose(now.vec, r["vec"]), f"{r['id']} is stale"


class ChangeLogMachine(RuleBasedStateMachine):
    url: str
    backend: str

    @initialize()
    def start(self) -> None:
        self.db = livevec.connect(self.url, index_options=OPTIONS)
        self.table = self.db.create_table(Row, if_exists="overwrite")
        self.handles: list[tuple[livevec.LiveResult, int, int, str | None]] = []

    def teardown(self) -> None:
        for handle, *_ in self.handles:
            handle.close()
        self.db.close()

    # --- writes through livevec ---------------------------------------------------------------

    @rule(key=keys, kind=kinds, vec=vectors)
    def upsert(self, key, kind, vec) -> None:
        self.table.upsert({"id": key, "kind": kind, "vec": vec})

    @rule(key=keys, vec=vectors)
    def update(self, key, vec) -> None:
        self.table.update(values={"vec": vec}, filters={"id": key})

    @rule(key=keys)
    def delete(self, key) -> None:
        self.table.delete(filters={"id": key})

    @rule(kind=kinds)
    def raw_sql(self, kind) -> None:
        self.db.execute(
            f"UPDATE rows SET kind = {'?' if self.backend == 'sqlite' else '%s'} WHERE id < 'k10'", [kind]
        )

    @rule(
        writes=st.lists(st.tuples(keys, kinds, vectors), min_size=1, max_size=4),
        commit=st.booleans(),
    )
    def transaction(self, writes, commit) -> None:
        class RollbackError(Exception):
            pass

        try:
            with self.db.transaction():
                for key, kind, vec in writes:
                    self.table.upsert({"id": key, "kind": kind, "vec": vec})
                self.table.search(QUERIES[0]).limit(3).to_list()  # a search inside sees its own rows
                if not commit:
                    raise RollbackError
        except RollbackError:
            pass

    # --- writes by another client --------------------------------------------------------------

    @rule(key=keys, kind=kinds, vec=vectors)
    def replace_by_another_client(self, key, kind, vec) -> None:
        blob = np.asarray(vec, "<f4").tobytes()
        if self.backend == "sqlite":
            with sqlite3.connect(self.url, isolation_level=None) as other:
                other.execute(
                    "INSERT OR REPLACE INTO rows (id, kind, vec) VALUES (?, ?, ?)", (key, kind, blob)
                )
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as other:
            other.execute(
                "INSERT INTO rows (id, kind, vec) VALUES (%s, %s, %s::text::vector) "
                "ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, vec = excluded.vec",
                (key, kind, "[" + ",".join(map(str, vec.tolist())) + "]"),
            )

    # --- the database handle and live queries --------------------------------------------------

    @rule()
    def restart(self) -> None:
        self.db.close()
        for handle, *_ in self.handles:
            assert handle.closed
        self.handles = []
        self.db = livevec.connect(self.url, index_options=OPTIONS)
        self.table = self.db.open_table("rows", schema=Row)

    @precondition(lambda self: len(self.handles) < 4)
    @rule(q=st.integers(0, len(QUERIES) - 1), limit=st.integers(1, 5), kind=st.sampled_from([None, "a"]))
    def open_live(self, q, limit, kind) -> None:
        search = self.table.search(QUERIES[q]).limit(limit)
        if kind is not None:
            search = search.filter({"kind": kind})
        self.handles.append((search.live(), q, limit, kind))

    @precondition(lambda self: self.handles)
    @rule(i=st.integers(0, 3), cancel=st.booleans())
    def close_live(self, i, cancel) -> None:
        handle, *_ = self.handles.pop(i % len(self.handles))
        if cancel:  # an async reader that goes away mid-wait, then the handle is closed

            async def cancelled() -> None:
                stream = handle.changes()
                await anext(stream)
                task = asyncio.ensure_future(anext(stream))
                await asyncio.sleep(0)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                await stream.aclose()

            asyncio.run(cancelled())
            assert not handle._entry.futures
        handle.close()

    # --- what must hold after every step --------------------------------------------------------

    @invariant()
    def searches_and_live_results_equal_an_exact_scan(self) -> None:
        if not hasattr(self, "db"):
            return
        assert live_queries(self.db.backend).settle(timeout=30)
        for query in QUERIES:
            for kind in (None, "a"):
                search = self.table.search(query).limit(4)
                if kind:
                    search = search.filter({"kind": kind})
                check(self.table, query, 4, kind, search.to_list())
        for handle, q, limit, kind in self.handles:
            check(self.table, QUERIES[q], limit, kind, handle.result)
        assert live_queries(self.db.backend).size == len({h.key for h, *_ in self.handles})


@pytest.fixture
def small_log(monkeypatch):
    monkeypatch.setattr(_changelog, "KEEP", 5)  # every few commits prune the log


@pytest.fixture
def small_builds(monkeypatch):
    # two waiting rows go into a copy of the graph, built off the lock while searches go on, and
    # a commit of three rows loads the column in the writing process: at this table's size, the
    # paths a large load takes
    monkeypatch.setattr(_sqlite_index, "_BULK_BUILD_ROWS", 1)
    monkeypatch.setattr(_sqlite_index, "_QUIET_SECONDS", 0.0)  # and no waiting for a quiet column
    monkeypatch.setattr(sqlite, "LOAD_ON_WRITE_ROWS", 3)


def test_random_operations_keep_live_results_exact(backend, db_path, small_log, small_builds):
    url = str(db_path)

    class Machine(ChangeLogMachine):
        pass

    Machine.url, Machine.backend = url, backend
    Machine.TestCase.settings = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("CI") == "true",
        # shrinking replays steps whose timing differs (the follower thread): report, don't shrink
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
    )
    Machine.TestCase().runTest()
