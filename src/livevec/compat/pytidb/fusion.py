"""pytidb's weighted fusion: each ranking's value put on a fixed scale, then weighted and summed.

Unlike livevec's own `fusion("weighted")` (min-max over the query's candidates), the scales do not
depend on the other rows, as in pytidb:

    cosine distance d  ->  1 - d / 2
    L2 distance d      ->  1 - 2·atan(d) / π
    BM25 score s       ->  2·atan(s) / π

A row found by one ranking only gets that ranking's part, and None for the other's value.
"""

from __future__ import annotations

import math
from typing import Any

from ._errors import ArgumentError


def check_weights(vs_weight: Any, fts_weight: Any) -> tuple[float, float]:
    """The weights as floats, each strictly between 0 and 1 as pytidb requires.

    Raises:
        ArgumentError: (a `ValueError`) a weight that is not a number in (0, 1).
    """
    weights = []
    for name, value in (("vs_weight", vs_weight), ("fts_weight", fts_weight)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ArgumentError(f"weight must be a number between 0 and 1, got {value!r}", field=name)
        weights.append(float(value))
    return weights[0], weights[1]


def similarity(distance: float, metric: str) -> float:
    """A distance on pytidb's fixed [0, 1] scale, higher for nearer."""
    if metric == "cosine":
        return 1.0 - distance / 2.0
    return 1.0 - 2.0 * math.atan(distance) / math.pi


def relevance(match_score: float) -> float:
    """A BM25 score on pytidb's fixed [0, 1] scale."""
    return 2.0 * math.atan(match_score) / math.pi


def fuse_weighted(
    by_vector: list[dict[str, Any]],
    by_words: list[dict[str, Any]],
    key: str,
    metric: str,
    vs_weight: float,
    fts_weight: float,
) -> list[dict[str, Any]]:
    """The rows of both rankings, merged by `key`, best `_score` first (ties: the vector ranking's
    order, then the full-text one's).

    Parameters:
        by_vector: rows of the vector ranking, with `_distance`.
        by_words: rows of the full-text ranking, with `_match_score`.
        key: the primary key's field name.
        metric: "cosine" or "l2", the distance of the vector ranking.
        vs_weight, fts_weight: the rankings' weights.

    Returns:
        Row dicts with `_distance` and `_match_score` (None where a ranking did not find the row)
        and `_score`.
    """
    merged: dict[Any, dict[str, Any]] = {}
    for row in by_vector:
        merged[row[key]] = {
            **row,
            "_match_score": None,
            "_score": vs_weight * similarity(row["_distance"], metric),
        }
    for row in by_words:
        part = fts_weight * relevance(row["_match_score"])
        if row[key] in merged:
            merged[row[key]]["_match_score"] = row["_match_score"]
            merged[row[key]]["_score"] += part
        else:
            merged[row[key]] = {**row, "_distance": None, "_score": part}
    return sorted(merged.values(), key=lambda row: -row["_score"])
