"""`copy_table`: move a table with its stored vectors between stores (SQLite <-> PostgreSQL)."""

from __future__ import annotations

from tqdm.auto import tqdm

from ._database import Database
from ._errors import TableExistsError, ValidationError


def copy_table(
    source: Database,
    target: Database,
    name: str,
    *,
    overwrite: bool = False,
    batch_size: int = 500,
    progress: bool = True,
) -> int:
    """Copy table `name` from `source` to `target` with its vectors; returns how many rows.

    Vectors travel as stored, so nothing is embedded again (only a row stored without a vector gets
    one, as any insert would). The target table gets the source's schema and is created and filled
    in one transaction: all rows or none. Rows are read in batches by primary key, so a copy of a
    table that is being written may include some of those writes.
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
        target.backend.create_table(origin.spec)
        destination = target.open_table(name)
        with target.backend.bulk_load(origin.spec):
            batch = origin.query(order_by=pk, limit=batch_size).to_list()
            while batch:
                destination.insert(batch)
                copied += len(batch)
                bar.update(len(batch))
                batch = origin.query({pk: {"$gt": batch[-1][pk]}}, order_by=pk, limit=batch_size).to_list()
    return copied
