"""Query builders: `table.search(...)` (nearest neighbours) and `table.query(...)` results.

A `Search` is generative: every call returns a new builder, so a base search can be reused.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._errors import ValidationError
from .filters import Filters, compile_filters
from .storage import VectorSearch

if TYPE_CHECKING:
    import pandas

    from ._schema import TableModel
    from ._table import Table

MAX_LIMIT = 10_000


@dataclass(frozen=True)
class SearchHit:
    """One search result as a model instance, with how near it was."""

    hit: TableModel
    distance: float
    score: float


class QueryResult:
    """Rows returned by `table.query(...)`."""

    def __init__(self, rows: list[dict[str, Any]], model: type[TableModel]) -> None:
        self._rows = rows
        self._model = model

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows)

    def to_list(self) -> list[dict[str, Any]]:
        return list(self._rows)

    def to_pandas(self) -> pandas.DataFrame:
        import pandas

        return pandas.DataFrame(self._rows, columns=list(self._model.model_fields))

    def to_pydantic(self) -> list[TableModel]:
        return [self._model.model_validate(row) for row in self._rows]


@dataclass(frozen=True)
class Search:
    """Nearest rows to a text or a vector; build with `.filter()`, `.limit()` ..., run with `.to_list()`."""

    table: Table
    query: str | Sequence[float] | np.ndarray
    _vector_column: str | None = None
    _filters: Filters | None = None
    _limit: int = 10
    _max_distance: float | None = None
    _min_distance: float | None = None

    def vector_column(self, name: str) -> Search:
        """Search this vector field (needed when the table has several)."""
        if self.table.spec.vector(name) is None:
            raise ValidationError(
                f"not a vector field; the table has {[v.name for v in self.table.spec.vectors]}",
                field=name,
            )
        return replace(self, _vector_column=name)

    def filter(self, filters: Filters | None) -> Search:
        compile_filters(filters, self.table.spec)  # check now: errors point at the call that made them
        return replace(self, _filters=filters)

    def limit(self, k: int) -> Search:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_LIMIT:
            raise ValidationError(f"must be an integer from 1 to {MAX_LIMIT}, got {k!r}", field="limit")
        return replace(self, _limit=k)

    def distance_threshold(self, max_distance: float) -> Search:
        """Keep rows whose distance is at most `max_distance`."""
        return replace(self, _max_distance=self._check_distance("distance_threshold", max_distance))

    def distance_range(self, min_distance: float, max_distance: float) -> Search:
        """Keep rows whose distance lies in [min_distance, max_distance]."""
        lo = self._check_distance("distance_range", min_distance)
        hi = self._check_distance("distance_range", max_distance)
        if lo > hi:
            raise ValidationError(f"min {lo} is above max {hi}", field="distance_range")
        return replace(self, _min_distance=lo, _max_distance=hi)

    def _check_distance(self, name: str, value: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(f"must be a finite number, got {value!r}", field=name)
        top = 2.0 if self._vector().distance == "cosine" else math.inf
        if not 0.0 <= value <= top:
            raise ValidationError(
                f"{value} is outside [0, {top}] for {self._vector().distance} distance", field=name
            )
        return float(value)

    def _vector(self):
        vectors = self.table.spec.vectors
        if self._vector_column:
            return self.table.spec.vector(self._vector_column)
        if not vectors:
            raise ValidationError(f"table {self.table.name!r} has no vector field to search", field="query")
        if len(vectors) > 1:
            raise ValidationError(
                f"the table has several vector fields {[v.name for v in vectors]}: pick one with .vector_column()",
                field="query",
            )
        return vectors[0]

    def _hits(self) -> list[tuple[dict[str, Any], float]]:
        vector = self._vector()
        if isinstance(self.query, str):
            if not self.query.strip():
                raise ValidationError("empty search text", field="query")
            query = self.table.embedding_function(vector.name).embed_query(self.query)
        else:
            query = self.table.check_vector(vector, self.query, field="query")
        request = VectorSearch(
            column=vector.name,
            query=query,
            limit=self._limit,
            filters=self._filters,
            max_distance=self._max_distance,
            min_distance=self._min_distance,
        )
        return self.table.backend.vector_search(self.table.spec, request)

    def to_list(self) -> list[dict[str, Any]]:
        """Dicts of the row's columns plus `_distance` and `_score` (1 - distance), nearest first."""
        return [{**row, "_distance": d, "_score": 1.0 - d} for row, d in self._hits()]

    def to_pandas(self) -> pandas.DataFrame:
        import pandas

        columns = [*self.table.spec.column_names, "_distance", "_score"]
        return pandas.DataFrame(self.to_list(), columns=columns)

    def to_pydantic(self) -> list[SearchHit]:
        model = self.table.model
        return [SearchHit(model.model_validate(row), d, 1.0 - d) for row, d in self._hits()]
