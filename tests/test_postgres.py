"""What is particular to PostgreSQL: same answers as SQLite, the HNSW index, the change feed across
processes and clients, transactions per thread, and errors. The shared suite covers the rest."""

from __future__ import annotations

import datetime as dt
import logging
import queue
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg
import pytest

import livevec
from livevec import Field, TableModel

from .conftest import fresh_schema
from .models import CATALOG, Product, embed


class Thing(TableModel):
    __tablename__ = "things"
    id: str = Field(primary_key=True)
    label: str | None = None
    size: int | None = None
    weight: float | None = None
    fragile: bool = False
    made: dt.datetime | None = None
    sold: dt.date | None = None
    extra: dict | None = None
    vec: list[float] | None = embed.VectorField(distance="l2")


def _things() -> list[dict]:
    rng = np.random.default_rng(7)
    labels = ["apple", "Banana", "banana", "éclair", "Zebra", None, "apple pie", "_under", "10", "9"]
    rows = []
    for i, label in enumerate(labels):
        rows.append(
            dict(
                id=f"k{i:02d}" if i % 3 else f"K{i}",
                label=label,
                size=None if i == 4 else (i * 7) % 5,
                weight=None if i == 2 else float(i) / 3,
                fragile=i % 2 == 0,
                made=dt.datetime(2024, 1, 1 + i, 12, 30) if i < 5 else dt.datetime(2024, 2, i, tzinfo=dt.UTC),
                sold=dt.date(2023, 12, 25 + i) if i < 6 else None,
                extra={"z": i, "a": [i, "x"]} if i % 4 else None,
                vec=rng.normal(size=384).astype(np.float32),
            )
        )
    return rows


QUERIES = [
    dict(),
    dict(order_by="label"),
    dict(order_by="-label"),
    dict(order_by=["size", "-weight"]),
    dict(order_by="-made"),
    dict(filters={"label": {"$gt": "Zebra"}}, order_by="label"),
    dict(filters={"label": {"$lt": "b"}}),
    dict(filters={"size": {"$in": [1, 2]}, "fragile": True}),
    dict(filters={"$or": [{"weight": None}, {"size": None}]}),
    dict(filters={"weight": {"$ne": 1.0}}, order_by="-weight", limit=3, offset=1),
    dict(filters={"sold": {"$gte": "2023-12-27"}}),
    dict(filters={"sold": {"$lt": dt.date(2023, 12, 27)}}),
    dict(filters={"made": {"$lt": dt.datetime(2024, 1, 3)}}),
    dict(filters={"fragile": {"$nin": [True]}}, order_by="-id"),
]


def test_postgres_answers_as_sqlite_does(tmp_path, postgres_url):
    """Types round-trip the same, text sorts by bytes, NULL sorts first, filters and searches agree."""
    answers = []
    for url in (tmp_path / "same.db", postgres_url):
        with livevec.connect(url) as db:
            table = db.create_table(schema=Thing)
            table.insert(_things())
            query = _things()[3]["vec"]
            answers.append(
                (
                    [table.query(**q).to_list() for q in QUERIES],
                    [table.get(r["id"]) for r in _things()],
                    [(r["id"], r["_distance"]) for r in table.search(query).limit(6).to_list()],
                    [
                        r["id"]
                        for r in table.search(query)
                        .filter({"fragile": False})
                        .distance_range(15.0, 28.0)
                        .limit(10)
                        .to_list()
                    ],
                    table.count({"label": {"$ne": None}}),
                )
            )
    on_sqlite, on_postgres = answers
    assert on_postgres[0] == on_sqlite[0]
    assert on_postgres[1] == on_sqlite[1]
    assert [k for k, _ in on_postgres[2]] == [k for k, _ in on_sqlite[2]]
    for (_, d_pg), (_, d_lite) in zip(on_postgres[2], on_sqlite[2], strict=True):
        assert d_pg == pytest.approx(d_lite, rel=1e-5)
    assert on_postgres[3] == on_sqlite[3] and on_postgres[3]
    assert on_postgres[4] == on_sqlite[4] == 9
    # what the comparison relies on
    labels = [r["label"] for r in on_postgres[0][1]]
    assert labels[:3] == [None, "10", "9"] and labels.index("Zebra") < labels.index("apple")
    assert isinstance(on_postgres[1][5].made.tzinfo, dt.tzinfo) and on_postgres[1][1].made.tzinfo is None
    # jsonb (as TiDB's JSON) gives an object's keys shortest first, then bytewise; SQLite as written
    assert list(on_postgres[1][1].extra) == ["a", "z"] and list(on_sqlite[1][1].extra) == ["z", "a"]


def _index_options(url: str, table: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT c.reloptions, am.amname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s::regclass AND am.amname = 'hnsw'",
            (table,),
        ).fetchall()
    return [sorted(options) for options, _ in rows]


def test_each_vector_column_gets_an_hnsw_index_with_the_url_parameters(postgres_url):
    with livevec.connect(postgres_url) as db:
        db.create_table(schema=Product)
    assert _index_options(postgres_url, "products") == [["ef_construction=64", "m=16"]]
    with livevec.connect(postgres_url + "&hnsw_m=8&hnsw_ef_construction=40&hnsw_ef_search=100") as db:
        db.create_table(schema=Thing)
        db.open_table("things").insert(_things())
        assert db.open_table("things").search(_things()[0]["vec"]).limit(1).to_list()[0]["id"] == "K0"
    assert _index_options(postgres_url, "things") == [["ef_construction=40", "m=8"]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("hnsw_m=1", "hnsw_m"),
        ("hnsw_m=lots", "hnsw_m"),
        ("hnsw_ef_search=0", "hnsw_ef_search"),
        ("hnsw_m=32&hnsw_ef_construction=40", "hnsw_ef_construction"),
        ("pool_size=-1", "pool_size"),
        ("busy_timeout=-1", "busy_timeout"),
        ("busy_timeout=nan", "busy_timeout"),
        ("busy_timeout=soon", "busy_timeout"),
    ],
)
def test_bad_url_parameters_name_the_parameter(postgres_url, query, field):
    with pytest.raises(livevec.ValidationError, match=field) as info:
        livevec.connect(f"{postgres_url}&{query}")
    assert info.value.field == field


def test_an_unreachable_server_is_a_storage_error(tmp_path):
    with pytest.raises(livevec.StorageError, match="cannot open PostgreSQL"):
        livevec.connect(f"postgresql://postgres@/postgres?host={tmp_path}&connect_timeout=2")


class Point(TableModel):
    __tablename__ = "points"
    id: int = Field(primary_key=True)
    group: str
    vec: list[float] = embed.VectorField()


@pytest.fixture(scope="module")
def points(postgres_server):
    """3,000 rows of random unit vectors; rows 1000-1029 share one vector; groups of 3,000/30/1."""
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(3000, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[1000:1030] = vectors[1000]
    groups = ["rare" if i % 100 == 5 else "common" for i in range(3000)]
    groups[2500] = "single"
    order = rng.permutation(3000)  # keys arrive out of order
    with fresh_schema(postgres_server) as url, livevec.connect(url) as db:
        table = db.create_table(schema=Point)
        table.insert([{"id": int(i), "group": groups[i], "vec": vectors[i]} for i in order])
        yield url, table, vectors, np.array(groups)


def _nearest(vectors, query, keep, limit):
    distances = 1.0 - vectors @ (query / np.linalg.norm(query))
    ids = np.flatnonzero(keep)
    ranked = sorted(zip(distances[ids].tolist(), ids.tolist(), strict=True))
    return [i for _, i in ranked[:limit]]


def _hnsw_scans(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT coalesce(sum(idx_scan), 0) FROM pg_stat_user_indexes "
            "WHERE relname = 'points' AND indexrelname LIKE '%%vec%%'"
        ).fetchone()[0]


def test_searches_never_return_fewer_rows_than_match(points):
    _, table, vectors, groups = points
    query = vectors[42] + 0.05
    everyone = np.ones(len(vectors), dtype=bool)
    # a filter matching 30 rows: all 30, nearest first, though the index would find few of them
    rare = table.search(query).filter({"group": "rare"}).limit(50).to_list()
    assert [r["id"] for r in rare] == _nearest(vectors, query, groups == "rare", 50) and len(rare) == 30
    single = table.search(query).filter({"group": "single"}).limit(10).to_list()
    assert [r["id"] for r in single] == [2500]
    # more rows than the index ever looks at
    distances = 1.0 - vectors @ (query / np.linalg.norm(query))
    many = table.search(query).limit(1500).to_list()
    # (rows nearly as far as each other may swap places: float32 sums are not numpy's)
    assert {r["id"] for r in many} == set(_nearest(vectors, query, everyone, 1500))
    assert [r["_distance"] for r in many] == sorted(r["_distance"] for r in many)
    assert [r["_distance"] for r in many] == pytest.approx([distances[r["id"]] for r in many], abs=1e-5)
    # a distance bound that only far rows pass
    ranked = np.sort(distances)
    lo, hi = (ranked[2000] + ranked[2001]) / 2, (ranked[2039] + ranked[2040]) / 2
    ranged = table.search(query).distance_range(float(lo), float(hi)).limit(100).to_list()
    assert {r["id"] for r in ranged} == set(np.flatnonzero((distances > lo) & (distances < hi)).tolist())
    assert len(ranged) == 39


def test_unfiltered_searches_use_the_hnsw_index(points):
    url, _, vectors, _ = points
    before = _hnsw_scans(url)
    query = vectors[7] + 0.05
    with livevec.connect(url) as db:
        found = db.open_table("points").search(query).limit(10).to_list()
    # a closed connection has reported its statistics (the server records them shortly after)
    deadline = time.monotonic() + 30
    while _hnsw_scans(url) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _hnsw_scans(url) > before
    exact = _nearest(vectors, query, np.ones(len(vectors), dtype=bool), 10)
    assert len(found) == 10 and found[0]["id"] == 7
    assert len({r["id"] for r in found} & set(exact)) >= 8  # approximate, but close
    distances = [r["_distance"] for r in found]
    assert distances == sorted(distances)


def test_ties_across_the_limit_are_broken_by_key(points):
    _, table, vectors, _ = points
    found = table.search(vectors[1000]).limit(10).to_list()
    assert [r["id"] for r in found] == list(range(1000, 1010))
    found = table.search(vectors[1000]).limit(30).to_list()
    assert [r["id"] for r in found] == list(range(1000, 1030))


class Note(TableModel):
    __tablename__ = "notes"
    key: str = Field(primary_key=True)
    body: str


def test_writes_by_any_client_reach_the_change_feed(postgres_url):
    with livevec.connect(postgres_url) as db:
        notes = db.create_table(schema=Note)
        notes.insert({"key": "a", "body": "first"})
        start = db.last_change()
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # not livevec: plain SQL
            conn.execute("INSERT INTO notes VALUES ('b', 'second'), ('c', 'third')")
            conn.execute("UPDATE notes SET key = 'd' WHERE key = 'c'")
            conn.execute("UPDATE notes SET body = 'changed' WHERE key = 'a'")
            conn.execute("DELETE FROM notes WHERE key = 'b'")
            conn.execute("TRUNCATE notes")
        changes = db.changes(start)
    assert sorted((c.op, c.key) for c in changes[:2]) == [("insert", "b"), ("insert", "c")]
    assert [(c.op, c.key) for c in changes[2:]] == [
        ("delete", "c"),
        ("update", "d"),
        ("update", "a"),
        ("delete", "b"),
        ("reset", None),
    ]
    assert all(c.table == "notes" for c in changes)
    assert [c.seq for c in changes] == sorted(c.seq for c in changes)


WRITER = textwrap.dedent(
    """
    import sys
    import livevec
    db = livevec.connect(sys.argv[1])
    notes = db.open_table("notes")
    for i in range(int(sys.argv[3])):
        with db.transaction():
            notes.insert({"key": f"{sys.argv[2]}{i}", "body": "x"})
            notes.update({"body": "y"}, {"key": f"{sys.argv[2]}{i}"})
    """
)


def test_a_follower_sees_every_write_of_concurrent_processes_once(postgres_url):
    with livevec.connect(postgres_url) as db:
        db.create_table(schema=Note)
        since = db.last_change()
        writers = [
            subprocess.Popen([sys.executable, "-c", WRITER, postgres_url, name, "40"]) for name in "pq"
        ]
        seen = []
        while any(w.poll() is None for w in writers) or db.changes(since):
            batch = db.changes(since, limit=7)  # small pages, read while the writers commit
            seen += batch
            since = batch[-1].seq if batch else since
        assert [w.returncode for w in writers] == [0, 0]
    inserted = [c.key for c in seen if c.op == "insert"]
    assert sorted(inserted) == sorted(f"{name}{i}" for name in "pq" for i in range(40))
    # each transaction's two changes are adjacent: commits do not interleave in the feed
    for first, second in zip(seen[::2], seen[1::2], strict=True):
        assert (first.op, second.op, first.key) == ("insert", "update", second.key)


def test_follow_is_woken_by_notify_from_another_process(postgres_url):
    with livevec.connect(postgres_url) as db:
        db.create_table(schema=Note)
        received = []
        # re-checking only once a minute: only a NOTIFY can wake it in time
        follower = db.backend.follow(db.last_change(), poll_interval=60)

        def listen():
            for change in follower:
                received.append(change)
                if change.key == "late":
                    return

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        time.sleep(0.5)  # the follower is waiting on its LISTEN connection now
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, livevec; livevec.connect(sys.argv[1]).open_table('notes')"
                ".insert({'key': 'late', 'body': 'from elsewhere'})",
                postgres_url,
            ],
            check=True,
        )
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert [(c.op, c.key) for c in received] == [("insert", "late")]


def test_transactions_are_per_thread_and_nest_as_savepoints(postgres_url):
    with livevec.connect(postgres_url) as db:
        products = db.create_table(schema=Product)
        seen_elsewhere = []
        with db.transaction():
            products.insert(CATALOG[0])
            other = threading.Thread(target=lambda: seen_elsewhere.append(products.count()))
            other.start()
            other.join()
            assert products.count() == 1  # this thread reads its own uncommitted write
            with pytest.raises(RuntimeError), db.transaction():
                products.insert(CATALOG[1])
                raise RuntimeError("inner block fails")
            # a failed statement rolls back to its savepoint: the transaction goes on
            with pytest.raises(livevec.DuplicateKeyError) as info:
                products.backend.insert(products.spec, [{**CATALOG[0], "description_vec": None}])
            assert info.value.field == "id"
            products.insert(CATALOG[2])
        assert seen_elsewhere == [0]
        assert [r["id"] for r in products.query()] == [1, 3]


def test_database_errors_name_the_field(postgres_url):
    with livevec.connect(postgres_url) as db:
        products = db.create_table(schema=Product)
        with pytest.raises(livevec.ValidationError, match="required") as info:
            products.backend.insert(products.spec, [{**CATALOG[0], "category": None}])
        assert info.value.field == "category"
        with pytest.raises(livevec.ValidationError, match="NUL") as info:
            products.insert({**CATALOG[0], "name": "bad\x00name"})
        assert info.value.field == "name"
        assert products.count() == 0


# --- faults: dropped connections, server restarts, busy writers, vetoed and failed commits -------------


def _follow_in_background(db: livevec.Database) -> queue.Queue:
    """The changes `db.follow()` yields from now on, as a background thread receives them."""
    received: queue.Queue = queue.Queue()
    since = db.last_change()  # here, not in the thread: a write right after this call is followed

    def follow():
        try:
            for change in db.follow(since):
                received.put(change)
        except livevec.StorageError:  # the database was closed: the test is over
            pass

    threading.Thread(target=follow, daemon=True).start()
    return received


def _next_key(received: queue.Queue, timeout: float = 15) -> str:
    return received.get(timeout=timeout).key


def test_follow_and_wait_for_change_outlive_dropped_connections(postgres_url, caplog):
    name = f"livevec-test-{uuid.uuid4().hex[:8]}"  # to find this test's connections and no others
    with livevec.connect(f"{postgres_url}&application_name={name}") as db:
        notes = db.create_table(schema=Note)
        received = _follow_in_background(db)
        notes.insert({"key": "before", "body": "x"})
        assert _next_key(received) == "before"
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (name,),
            ).fetchone()[0]
            assert killed >= 2  # the pool's connections and the LISTEN one
            admin.execute("INSERT INTO notes VALUES ('after', 'written elsewhere')")
            # the follower reconnects and misses nothing; the pool hands out no dead connection
            assert _next_key(received) == "after"
            assert notes.count() == 2
            since = db.last_change()
            later = threading.Timer(0.5, admin.execute, ["INSERT INTO notes VALUES ('later', 'x')"])
            later.start()
            start = time.monotonic()
            db.wait_for_change(since, 10)  # woken by the NOTIFY of the new LISTEN connection
            assert time.monotonic() - start < 5
            later.join()
            assert [c.key for c in db.changes(since)] == ["later"]
            assert _next_key(received) == "later"
    lost = [r for r in caplog.records if "lost its connection" in r.getMessage()]
    assert 1 <= len(lost) <= 2 and all(r.levelno == logging.WARNING for r in lost)  # once per outage
    assert len({r.getMessage().split(" lost")[0] for r in lost}) == len(lost)


def test_the_first_request_after_connections_are_dropped_works(postgres_url):
    name = f"livevec-test-{uuid.uuid4().hex[:8]}"
    with livevec.connect(f"{postgres_url}&application_name={name}") as db:
        notes = db.create_table(schema=Note)
        pool = db.backend._pool
        with pool.connection(), pool.connection(), pool.connection():
            pass  # three idle connections, about to die together as in a restart
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (name,)
            )
        start = time.monotonic()
        assert notes.count() == 0
        notes.insert({"key": "a", "body": "x"})
        assert notes.count() == 1
        assert time.monotonic() - start < 5


class PrivateServer:
    """A PostgreSQL of one's own (pgserver, in a temporary folder), to stop and start at will."""

    def __enter__(self) -> PrivateServer:
        import pgserver

        self._server = pgserver.get_server(tempfile.mkdtemp(prefix="livevec-restart-"), cleanup_mode="delete")
        self.url = self._server.get_uri()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.cleanup()

    def _pg_ctl(self, *args: str) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", *args], pgdata=Path(self._server.pgdata), user=self._server.system_user, timeout=30)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")  # as a restart does: every connection is closed

    def start(self) -> None:
        # restart of a stopped server starts it with the options it last ran with
        self._pg_ctl("-l", str(Path(self._server.pgdata) / "restart.log"), "restart")


def test_follow_outlives_a_server_restart(caplog):
    with PrivateServer() as server, livevec.connect(server.url) as db:
        notes = db.create_table(schema=Note)
        received = _follow_in_background(db)
        notes.insert({"key": "before", "body": "x"})
        assert _next_key(received) == "before"
        since = db.last_change()
        server.stop()
        for _ in range(3):  # while it is down, waits still end on time and raise nothing
            start = time.monotonic()
            db.wait_for_change(since, 0.5)
            assert time.monotonic() - start < 3
        server.start()
        with psycopg.connect(server.url, autocommit=True) as other:
            other.execute("INSERT INTO notes VALUES ('after', 'written elsewhere')")
        assert _next_key(received, timeout=20) == "after"
        notes.insert({"key": "again", "body": "x"})
        assert _next_key(received) == "again"
        assert sorted(r["key"] for r in notes.query()) == ["after", "again", "before"]
    listener = [r for r in caplog.records if r.getMessage().startswith("the change listener lost")]
    assert len(listener) == 1  # one warning for the whole outage, not one per attempt


def test_a_write_that_waits_for_another_writer_gives_up_after_busy_timeout(postgres_url):
    with livevec.connect(f"{postgres_url}&busy_timeout=0.5&pool_size=1") as db:
        notes = db.create_table(schema=Note)
        with psycopg.connect(postgres_url, autocommit=True) as other, other.transaction():
            other.execute("INSERT INTO notes VALUES ('theirs', 'x')")  # holds the write lock until commit
            start = time.monotonic()
            with pytest.raises(livevec.StorageError, match="another writer") as info:
                notes.insert({"key": "mine", "body": "y"})
            assert 0.4 < time.monotonic() - start < 5
            assert isinstance(info.value.__cause__, psycopg.errors.LockNotAvailable)
            assert notes.count() == 0  # reads do not wait
        notes.insert({"key": "mine", "body": "y"})  # on the same (only) pooled connection
        assert sorted(r["key"] for r in notes.query()) == ["mine", "theirs"]


def test_busy_timeout_can_be_given_to_the_backend(postgres_url):
    from livevec.storage.postgres import _WRITE_LOCK, PostgresBackend

    for bad in (-1, float("nan"), True, "5"):
        with pytest.raises(livevec.ValidationError) as info:
            PostgresBackend(postgres_url, busy_timeout=bad)
        assert info.value.field == "busy_timeout"
    backend = PostgresBackend(f"{postgres_url}&busy_timeout=30", busy_timeout=0)  # wins over the URL
    try:
        with psycopg.connect(postgres_url, autocommit=True) as other, other.transaction():
            other.execute(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK})")  # as a writer holds it
            start = time.monotonic()
            with (
                pytest.raises(livevec.StorageError, match="waited 0 s for another writer"),
                backend.transaction(),
            ):
                pass
            assert time.monotonic() - start < 2
    finally:
        backend.close()


VETO = """
CREATE FUNCTION veto() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.body = 'vetoed' THEN RAISE EXCEPTION 'not this one'; END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER veto BEFORE INSERT OR UPDATE ON notes FOR EACH ROW EXECUTE FUNCTION veto();
CREATE FUNCTION veto_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.body = 'late' THEN RAISE EXCEPTION 'too late'; END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER veto_at_commit AFTER INSERT ON notes DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION veto_at_commit();
"""


def test_vetoed_writes_and_failed_commits_leave_the_table_and_the_connection_as_they_were(postgres_url):
    with livevec.connect(f"{postgres_url}&pool_size=1") as db:  # one connection: each fault meets it
        notes = db.create_table(schema=Note)
        notes.insert({"key": "a", "body": "kept"})
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(VETO)
        since = db.last_change()

        with pytest.raises(livevec.StorageError, match="not this one") as info:  # a trigger says no
            notes.insert([{"key": "b", "body": "fine"}, {"key": "c", "body": "vetoed"}])
        assert isinstance(info.value.__cause__, psycopg.errors.RaiseException)

        with db.transaction():  # inside a savepoint: only the inner block is undone
            notes.insert({"key": "d", "body": "fine"})
            with pytest.raises(livevec.StorageError, match="not this one") as info, db.transaction():
                notes.insert({"key": "e", "body": "fine"})
                notes.update({"body": "vetoed"}, {"key": "a"})
            assert isinstance(info.value.__cause__, psycopg.errors.RaiseException)

        with pytest.raises(livevec.StorageError, match="too late") as info, db.transaction():  # COMMIT fails
            notes.insert({"key": "f", "body": "late"})
            notes.update({"body": "changed"}, {"key": "a"})
        assert isinstance(info.value.__cause__, psycopg.errors.RaiseException)

        assert {r["key"]: r["body"] for r in notes.query()} == {"a": "kept", "d": "fine"}
        assert [(c.op, c.key) for c in db.changes(since)] == [("insert", "d")]
        notes.insert({"key": "g", "body": "fine"})
        assert notes.count() == 3
    with pytest.raises(livevec.StorageError):  # even a closed pool is not a raw psycopg error
        db.changes(0)
