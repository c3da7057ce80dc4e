"""`copy_table`: move a table with its stored vectors between stores (SQLite <-> PostgreSQL)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tqdm.auto import tqdm

from ._database import Database
from ._errors import TableExistsError, ValidationError
from ._table import Table


def copy_table(
    source: Database,
    target: Database,
    name: str,
    *,
    overwrite: bool = False,
    batch_size: int = 500,
    progress: bool = True,
) -> int:
    """Copy a table from one store to another with its vectors (SQLite and PostgreSQL, either way).

    Vectors travel as stored, so nothing is embedded again (only a row stored without a vector gets
    one, as any insert would, and so does a row whose text another client changed since its vector
    was made: its stale vector is left behind). The target table gets the source's schema and is
    created and filled in one transaction: all rows or none. Rows are read in batches by primary
    key, so a copy of a table that is being written may include some of those writes.
    `livevec copy SRC DST` does the same from the command line.

    Usage:
        ```python
        copied = livevec.copy_table(livevec.connect("shop.db"), livevec.connect(url), "products")
        ```

    Parameters:
        source: the store to copy from.
        target: the store to copy into.
        name: the table.
        overwrite: replace the table if `target` has one of that name.
        batch_size: rows per insert.
        progress: show a progress bar.

    Returns:
        How many rows were copied.

    Raises:
        ValidationError: `batch_size` is not a positive integer.
        TableNotFoundError: `source` has no such table.
        TableExistsError: `target` has one and `overwrite` is False.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValidationError(f"must be a positive integer, got {batch_size!r}", field="batch_size")
    origin = source.open_table(name)
    exists = target.backend.load_spec(name) is not None
    if exists and not overwrite:
        raise TableExistsError(
            f"table {name!r} already exists in {target.backend.url!r} (overwrite replaces it)"
        )
    pk = origin.spec.primary_key.name
    copied = 0
    with (
        tqdm(total=origin.count(), desc=f"copying {name}", unit="row", disable=not progress) as bar,
        target.transaction(),
    ):
        if exists:
            target.backend.drop_table(name)
        target.backend.create_table(replace(origin.spec, reembedding={}))  # not a reembed under way
        destination = target.open_table(name)
        with target.backend.bulk_load(origin.spec):
            batch = origin.query(order_by=pk, limit=batch_size).to_list()
            while batch:
                destination.insert(_without_stale_vectors(origin, batch))
                copied += len(batch)
                bar.update(len(batch))
                batch = origin.query({pk: {"$gt": batch[-1][pk]}}, order_by=pk, limit=batch_size).to_list()
    return copied


def _without_stale_vectors(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, with None for each vector whose text hash is missing (see `Table.refresh`)."""
    hashed = [v for v in table.spec.vectors if v.hash_column]
    if not hashed:
        return rows
    pk = table.spec.primary_key.name
    columns = [pk, *(v.hash_column for v in hashed)]
    hashes = {
        r[pk]: r
        for r in table.backend.select(table.spec, {pk: {"$in": [r[pk] for r in rows]}}, columns=columns)
    }
    for row in rows:
        for vector in hashed:
            if hashes.get(row[pk], {}).get(vector.hash_column) is None:
                row[vector.name] = None
    return rows
