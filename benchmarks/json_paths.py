"""Filters on a path inside a JSON field, with and without `Field(index=[path])`, on both stores.

    .venv/bin/python benchmarks/json_paths.py [--rows 100000] [--postgres]

Loads `--rows` rows whose `meta` holds `{"owner": {"id": i % 1000}, "city": "c<i % 50>", "tags": [...]}`
into two tables that differ only in `Field(index=["owner.id", "city"])`, then times, query by query
in turn on the two tables (so both see the same machine), a count with an equality on a number path
(0.1% of rows), an equality on a string path (2%), a range on the number path (1%) and a vector-free
`query(...).limit(10)`; and the time of the load into each. `--postgres` also runs it on a PostgreSQL
started by pgserver for the run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import livevec
from livevec import Field, TableModel


class Plain(TableModel):
    __tablename__ = "plain"
    id: int = Field(primary_key=True)
    meta: dict[str, Any] = Field(default_factory=dict)


class Indexed(TableModel):
    __tablename__ = "indexed"
    id: int = Field(primary_key=True)
    meta: dict[str, Any] = Field(default_factory=dict, index=["owner.id", "city"])


FILTERS = {
    "number path =, 0.1% of rows": {"meta.owner.id": 417},
    "string path =, 2% of rows": {"meta.city": "c7"},
    "number path range, 1% of rows": {"meta.owner.id": {"$gte": 100, "$lt": 110}},
    "SQL string, both paths": "meta.owner.id in (1, 2, 3) and meta.city = 'c1'",
}


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {"id": i, "meta": {"owner": {"id": i % 1000}, "city": f"c{i % 50}", "tags": ["a", "b"][: i % 3]}}
        for i in range(n)
    ]


def run(url: str, n: int, repeat: int) -> list[list[str]]:
    db = livevec.connect(url)
    data = rows(n)
    loads = {}
    tables = {}
    for model in (Plain, Indexed):
        table = db.create_table(model, if_exists="overwrite")
        started = time.perf_counter()
        for start in range(0, n, 10_000):
            table.insert(data[start : start + 10_000])
        loads[model.__tablename__] = time.perf_counter() - started
        tables[model.__tablename__] = table
    out = [
        [
            "load",
            f"{loads['plain']:.1f} s",
            f"{loads['indexed']:.1f} s",
            f"{loads['indexed'] / loads['plain']:.2f}",
        ]
    ]
    for name, condition in FILTERS.items():
        times: dict[str, list[float]] = {"plain": [], "indexed": []}
        counts = {}
        for _ in range(repeat):
            for key, table in tables.items():
                started = time.perf_counter()
                counts[key] = table.count(condition)
                times[key].append(time.perf_counter() - started)
        assert counts["plain"] == counts["indexed"], (name, counts)
        plain, indexed = (1000 * statistics.median(times[k]) for k in ("plain", "indexed"))
        out.append(
            [
                f"count, {name} ({counts['plain']} rows)",
                f"{plain:.2f} ms",
                f"{indexed:.2f} ms",
                f"{plain / indexed:.0f}x faster",
            ]
        )
    db.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    header = "| | without the index | with it | ratio |\n|---|---|---|---|"
    with tempfile.TemporaryDirectory() as folder:
        print(f"SQLite, {args.rows:,} rows (median of {args.repeat})\n\n{header}")
        for line in run(str(Path(folder) / "paths.db"), args.rows, args.repeat):
            print("| " + " | ".join(line) + " |")
    if args.postgres:
        import pgserver

        with tempfile.TemporaryDirectory() as folder:
            server = pgserver.get_server(folder, cleanup_mode="stop")
            try:
                print(f"\nPostgreSQL, {args.rows:,} rows (median of {args.repeat})\n\n{header}")
                for line in run(server.get_uri(), args.rows, args.repeat):
                    print("| " + " | ".join(line) + " |")
            finally:
                server.cleanup()


if __name__ == "__main__":
    main()
