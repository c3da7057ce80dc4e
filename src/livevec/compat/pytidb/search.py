"""pytidb's search builder over livevec's `Search`: the same verbs, run by livevec.

table.search("a user likes sports").distance_threshold(0.85).limit(5).to_list()
table.search("bluetooth headphones", search_type="hybrid").fusion("weighted", vs_weight=0.7).to_pydantic()
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..._errors import ValidationError
from ._errors import NotSupportedError

if TYPE_CHECKING:
    import pandas

    from ... import Search as _Search
    from ... import Table as _Table


@dataclass(frozen=True)
class SearchResult:
    """A hit with how it ranked; the row's fields read through it (`result.name`), as in pytidb.

    Attributes:
        hit: the row, as an instance of the table's model.
        distance: the vector distance to the query (None in a full-text search).
        match_score: the BM25 score (full-text and hybrid searches).
        score: the ranking's score, higher is better.
    """

    hit: Any
    distance: float | None = None
    match_score: float | None = None
    score: float | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "hit":  # not set yet (copy, pickle): no lookup through it
            raise AttributeError(name)
        return getattr(self.hit, name)

    @property
    def similarity_score(self) -> float | None:
        return None if self.distance is None else 1 - self.distance


@dataclass(frozen=True)
class Search:
    """Generative, as pytidb's: each verb returns a new builder; livevec runs it at `to_list()`...

    `filter(..., prefilter=)` is moot (livevec's filters are always exact), a distance metric can only
    be the vector field's own, and `rerank()` has no reranker to call.
    """

    _table: _Table
    _search_type: str = "vector"
    _text: str | None = None
    _vector: Any = None
    _vector_column: str | None = None
    _metric: str | None = None
    _steps: tuple[tuple[str, tuple, dict], ...] = ()  # livevec builder calls, replayed in order

    def _then(self, verb: str, *args: Any, **kwargs: Any) -> Search:
        return replace(self, _steps=(*self._steps, (verb, args, kwargs)))

    def text(self, query_text: str) -> Search:
        return replace(self, _text=query_text)

    def vector(self, query_vector: Any) -> Search:
        return replace(self, _vector=query_vector)

    def vector_column(self, column_name: str) -> Search:
        return replace(self, _vector_column=column_name)

    def distance_metric(self, metric: Any) -> Search:
        return replace(self, _metric=str(getattr(metric, "value", metric)).upper())

    def filter(self, filters: Any = None, prefilter: bool = False) -> Search:
        return self._then("filter", filters)

    def limit(self, k: int) -> Search:
        return self._then("limit", k)

    def distance_threshold(self, threshold: float | None = None) -> Search:
        return self if threshold is None else self._then("distance_threshold", threshold)

    def distance_range(self, lower_bound: float = 0, upper_bound: float = 1) -> Search:
        return self._then("distance_range", lower_bound, upper_bound)

    def fusion(self, method: str = "rrf", **params: Any) -> Search:
        return self._then("fusion", method, **params)

    def rerank(self, reranker: Any, rerank_field: str | None = None) -> Search:
        raise NotSupportedError(
            "rerank(): livevec has no reranker (pytidb's call a hosted API); "
            'search_type="hybrid" with .fusion() is the nearest thing'
        )

    def _search(self) -> _Search:
        if self._search_type != "vector" and self._vector is not None:
            raise ValidationError(
                f"a {self._search_type} search embeds its text itself: give the text only", field="query"
            )
        query = self._vector if self._vector is not None else self._text
        if query is None:
            raise ValidationError("nothing to search for: give a text or a vector", field="query")
        search = self._table.search(query, search_type=self._search_type, vector_column=self._vector_column)
        self._check_metric()
        for verb, args, kwargs in self._steps:
            search = getattr(search, verb)(*args, **kwargs)
        return search

    def _check_metric(self) -> None:
        if self._metric is None:
            return
        spec = self._table.spec
        vector = spec.vector(self._vector_column) if self._vector_column else None
        if vector is None and len(spec.vectors) == 1:
            vector = spec.vectors[0]
        if vector is not None and vector.distance.upper() != self._metric:
            raise ValidationError(
                f"{vector.name} is searched by {vector.distance.upper()} distance, set by "
                f"VectorField(distance_metric=...) when the table was made, not {self._metric}",
                field="distance_metric",
            )

    def to_list(self) -> list[dict[str, Any]]:
        """The rows' fields plus `_distance`, `_score` (and `_match_score` for fulltext and hybrid)."""
        return self._search().to_list()

    def to_pydantic(self, with_score: bool = True) -> list[Any]:
        """`SearchResult`s (the hit, its distance and scores), or the hits alone."""
        hits = self._search().to_pydantic()
        if not with_score:
            return [h.hit for h in hits]
        return [SearchResult(h.hit, h.distance, h.match_score, h.score) for h in hits]

    def to_pandas(self) -> pandas.DataFrame:
        return self._search().to_pandas()
