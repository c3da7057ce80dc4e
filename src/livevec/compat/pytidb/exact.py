"""A vector search by another distance than the one its field is indexed by, as pytidb allows
(`.distance_metric(DistanceMetric.L2)` on a COSINE field): measured exactly on every row that
matches the filters, without the index, as TiDB does when no index fits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ...storage.vector_index import distances

if TYPE_CHECKING:
    from ... import Table as _Table


def exact_rows(
    table: _Table,
    column: str,
    query: np.ndarray,
    distance: str,
    filters: Any,
    bounds: tuple[float | None, float | None],
    limit: int,
) -> list[dict[str, Any]]:
    """The `limit` rows nearest to `query` by `distance` ("cosine" or "l2"), best first.

    Parameters:
        table: the livevec table.
        column: the vector field.
        query: the query vector.
        distance: the distance to measure.
        filters: livevec filters the rows must match (None: every row).
        bounds: (lowest, highest) distance kept; None leaves that side open.
        limit: how many rows at most.

    Returns:
        Row dicts with `_distance`, `_relevance` (None: no calibration for this distance) and
        `_score` (1 - distance), as livevec's vector search gives them.
    """
    rows = [row for row in table.query(filters).to_list() if row[column] is not None]
    if not rows:
        return []
    found = distances(query, np.asarray([row[column] for row in rows], dtype=np.float32), distance)
    low, high = bounds
    pk = table.spec.primary_key.name
    ranked = sorted(
        (
            (float(d), row)
            for d, row in zip(found, rows, strict=True)
            if (low is None or d >= low) and (high is None or d <= high)
        ),
        key=lambda pair: (pair[0], pair[1][pk]),
    )
    return [{**row, "_distance": d, "_relevance": None, "_score": 1.0 - d} for d, row in ranked[:limit]]
