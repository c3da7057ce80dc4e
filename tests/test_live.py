"""Freshness and durability: other processes' writes are searched at once; crashes lose nothing committed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import livevec

from .models import CATALOG, Product

# A second process that keeps the same database file open and obeys commands read from stdin.
PEER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import livevec
    db = livevec.connect(sys.argv[1])
    table = db.open_table("products")
    query = np.ones(384, dtype=np.float32)
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "search":
            hits = table.search(query).limit(3).to_list()
            answer = {"ids": [h["id"] for h in hits], "count": table.count()}
        elif command["do"] == "insert":
            table.insert({**command["row"], "description_vec": query.tolist()})
            answer = {"ok": True}
        print(json.dumps(answer), flush=True)
    """
)


@pytest.fixture
def peer(db_path, products):
    process = subprocess.Popen(
        [sys.executable, "-c", PEER, str(db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )

    def ask(**command):
        process.stdin.write(json.dumps(command) + "\n")
        process.stdin.flush()
        return json.loads(process.stdout.readline())

    yield ask
    process.stdin.close()
    process.wait(timeout=30)


def test_a_write_here_is_seen_by_the_next_search_in_another_process(products, peer):
    before = peer(do="search")
    assert before["count"] == 8 and 50 not in before["ids"]
    ones = np.ones(384, dtype=np.float32)
    products.insert(
        dict(
            id=50,
            name="Rope",
            description="A skipping rope",
            category="fitness",
            price=9.0,
            description_vec=ones,
        )
    )
    assert peer(do="search") == {"ids": [50, *before["ids"][:2]], "count": 9}
    products.update(values={"description_vec": -ones}, filters={"id": 50})
    assert 50 not in peer(do="search")["ids"]
    products.update(values={"description_vec": ones}, filters={"id": 50})
    assert peer(do="search")["ids"][0] == 50
    products.delete(filters={"id": 50})
    assert peer(do="search") == before


def test_a_write_in_another_process_is_seen_by_the_next_search_here(products, peer):
    query = np.ones(384, dtype=np.float32)
    assert products.search(query).limit(1).to_list()[0]["id"] != 60  # the index is loaded now
    peer(
        do="insert",
        row=dict(id=60, name="Rope", description="A skipping rope", category="fitness", price=9.0),
    )
    assert products.search(query).limit(1).to_list()[0]["id"] == 60
    assert products.get(60).name == "Rope"


def test_data_persists_across_reopen(db_path):
    with livevec.connect(db_path) as db:
        table = db.create_table(schema=Product)
        table.insert(CATALOG)
        table.update(values={"price": 1.0}, filters={"id": 2})
        table.delete(filters={"id": 8})
        expected = table.search("coffee").limit(3).to_list()
    with livevec.connect(db_path) as db:
        table = db.open_table("products")
        assert table.count() == 7 and table.get(2).price == 1.0 and table.get(8) is None
        assert table.search("coffee").limit(3).to_list() == expected


@pytest.mark.backends("sqlite")  # a SQLite file setting
def test_the_file_is_in_wal_mode(db_path, products):
    import sqlite3

    assert sqlite3.connect(db_path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


CRASH = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    import livevec
    db = livevec.connect(sys.argv[1])
    table = db.open_table("products")
    vector = np.ones(384, dtype=np.float32)
    rows = [dict(id=100 + i, name=f"item {i}", description=f"item {i}", category="bulk", price=1.0,
                 description_vec=vector) for i in range(500)]
    table.insert(rows[:10])                       # committed
    with db.transaction():
        table.insert(rows[10:])                   # written, not committed
        table.delete(filters={"category": "sports"})
        os.kill(os.getpid(), signal.SIGKILL)      # the process dies mid-transaction
    """
)


def test_a_crash_mid_write_loses_nothing_committed_and_keeps_nothing_uncommitted(db_path, products):
    result = subprocess.run([sys.executable, "-c", CRASH, str(db_path)], capture_output=True, text=True)
    assert result.returncode == -signal.SIGKILL, result.stderr
    with livevec.connect(db_path) as db:
        table = db.open_table("products")
        assert table.count() == 18
        assert table.count({"category": "bulk"}) == 10 and table.count({"category": "sports"}) == 3
        hits = table.search(np.ones(384, dtype=np.float32)).limit(20).to_list()
        assert {h["id"] for h in hits if h["category"] == "bulk"} == set(range(100, 110))
    # the long-lived connection of this process sees the same
    assert products.count() == 18


def test_the_change_feed_lists_every_committed_write(db, products):
    start = db.last_change()
    products.insert(dict(id=70, name="Rope", description="A skipping rope", category="fitness", price=9.0))
    products.update(values={"price": 8.0}, filters={"id": 70})
    products.update(values={"id": 71}, filters={"id": 70})
    products.delete(filters={"id": 71})
    with pytest.raises(RuntimeError), db.transaction():
        products.delete(filters={"id": 1})
        raise RuntimeError("rolled back")
    changes = db.changes(start)
    # a changed key reads as the old key's delete, then the new key's update
    assert [(c.op, c.key) for c in changes] == [
        ("insert", 70),
        ("update", 70),
        ("delete", 70),
        ("update", 71),
        ("delete", 71),
    ]
    assert all(c.table == "products" for c in changes) and changes == sorted(changes, key=lambda c: c.seq)
    assert db.changes(changes[-1].seq) == []


def test_drop_and_recreate_is_seen_by_an_open_index(db_path, products):
    assert products.search("coffee").limit(1).to_list()[0]["id"] == 5
    with livevec.connect(db_path) as other:
        other.create_table(schema=Product, if_exists="overwrite").insert(CATALOG[:2])
    hits = products.search("coffee").limit(8).to_list()
    assert sorted(h["id"] for h in hits) == [1, 2]


@pytest.mark.backends("sqlite")  # PostgreSQL wakes every process through NOTIFY
def test_a_commit_of_this_process_wakes_a_waiting_follower_at_once(db, products):
    import threading

    since = db.last_change()
    woke = threading.Event()

    def wait() -> None:
        db.wait_for_change(since, timeout=120)  # without the wake-up it would wait this long
        woke.set()

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    products.update(values={"price": 1.5}, filters={"id": 1})
    assert woke.wait(timeout=30) and db.changes(since)[0].key == 1
