"""pytidb's search builder over livevec's `Search`: the same verbs, run by livevec.

table.search("a user likes sports").distance_threshold(0.85).limit(5).to_list()
table.search("bluetooth headphones", search_type="hybrid").fusion("weighted", vs_weight=0.7).to_pydantic()

pytidb's rules kept here: `.limit()` is required, `distance_threshold(0)` (or None) sets no bound,
a table with several vector fields needs `.vector_column()`, and `fusion("weighted")` scores on
pytidb's fixed scales (`fusion.py`). Bad input raises `ArgumentError`, a `ValueError` as in pytidb.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..._errors import ValidationError
from ._errors import ArgumentError, NotSupportedError
from .exact import exact_rows
from .expressions import livevec_filters
from .fusion import check_weights, fuse_weighted
from .orm.distance_metric import validate_distance_metric

if TYPE_CHECKING:
    import pandas

    from ... import Search as _Search
    from ... import Table as _Table
    from ...filters import Filters

logger = logging.getLogger("livevec")
DISTANCE_LABEL = "_distance"
MATCH_SCORE_LABEL = "_match_score"
SCORE_LABEL = "_score"
_SCORES = (DISTANCE_LABEL, "_relevance", MATCH_SCORE_LABEL, SCORE_LABEL)


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

    `filter(..., prefilter=)` and `num_candidate()` are moot (livevec's filters are always exact),
    rows without a vector are never ranked (as with `skip_null_vectors(True)`), a distance metric
    other than the field's own is measured exactly on the matching rows (vector search only), and
    `rerank()` has no reranker to call.
    """

    _table: _Table
    _search_type: str = "vector"
    _text: str | None = None
    _vector: Any = None
    _vector_column: str | None = None
    _metric: str | None = None
    _limit: int | None = None
    _debug: bool = False
    _weighted: tuple[float, float] | None = None  # pytidb's weighted fusion: (vs_weight, fts_weight)
    _steps: tuple[tuple[str, tuple, dict], ...] = ()  # livevec builder calls, replayed in order

    def _then(self, verb: str, *args: Any, **kwargs: Any) -> Search:
        return replace(self, _steps=(*self._steps, (verb, args, kwargs)))

    def text(self, query_text: str) -> Search:
        return replace(self, _text=query_text)

    def vector(self, query_vector: Any) -> Search:
        return replace(self, _vector=query_vector)

    def vector_column(self, column_name: str) -> Search:
        """Search this vector field; checked now, with pytidb's messages.

        Raises:
            ArgumentError: (a `ValueError`) not a name, not a field, or not a vector field.
        """
        spec = self._table.spec
        if not isinstance(column_name, str):
            raise ArgumentError(f"Invalid vector column name: {column_name}", field="vector_column")
        if column_name not in spec.column_names:
            raise ArgumentError(f"Non-exists vector column: {column_name}", field="vector_column")
        if spec.vector(column_name) is None:
            raise ArgumentError(f"Invalid vector column: {column_name}", field="vector_column")
        return replace(self, _vector_column=column_name)

    def text_column(self, column_name: str) -> Search:
        """The full-text field to match; livevec matches all the table's full-text fields together,
        so it must be the only one.

        Raises:
            ArgumentError: not a text field of the table.
            NotSupportedError: the table has several full-text fields.
        """
        columns = {c.name: c for c in self._table.spec.columns}
        if column_name not in columns:
            raise ArgumentError(f"Non-exists text column: {column_name}", field="text_column")
        if columns[column_name].type != "str":
            raise ArgumentError(f"Invalid text column: {column_name}", field="text_column")
        fulltext = [c.name for c in self._table.spec.columns if c.fulltext]
        if fulltext != [column_name]:
            raise NotSupportedError(
                f"text_column({column_name!r}): livevec matches the full-text fields {fulltext} together, "
                "not one of them alone"
            )
        return self

    def distance_metric(self, metric: Any) -> Search:
        return replace(self, _metric=str(getattr(metric, "value", metric)).upper())

    def filter(self, filters: Filters | Any = None, prefilter: bool = False) -> Search:
        """Rows matching `filters`: a dict, an SQL condition string or an SQLAlchemy expression."""
        return self._then("filter", livevec_filters(filters))

    def limit(self, k: int) -> Search:
        return replace(self._then("limit", k), _limit=k)

    def num_candidate(self, num_candidate: int) -> Search:
        """pytidb's ANN candidate count before post-filtering; moot, as livevec filters exactly.

        Raises:
            ArgumentError: not a positive int.
        """
        if isinstance(num_candidate, bool) or not isinstance(num_candidate, int) or num_candidate < 1:
            raise ArgumentError(f"must be a positive int, got {num_candidate!r}", field="num_candidate")
        return self

    def skip_null_vectors(self, flag: bool = True) -> Search:
        """Accepted either way: livevec never ranks a row without a vector (pytidb, with False,
        puts such rows first, as MySQL sorts NULL distances)."""
        return self

    def debug(self, flag: bool = True) -> Search:
        """Log the search (on the "livevec" logger, at INFO) when it runs, as pytidb logs its SQL."""
        return replace(self, _debug=bool(flag))

    def distance_threshold(self, threshold: float | None = None) -> Search:
        """Keep rows at most `threshold` away; None or 0 sets no bound, as in pytidb."""
        return self._then("distance_threshold", threshold) if threshold else self

    def distance_range(self, lower_bound: float = 0, upper_bound: float = 1) -> Search:
        return self._then("distance_range", lower_bound, upper_bound)

    def fusion(self, method: str = "rrf", **params: Any) -> Search:
        """How a hybrid search merges its rankings: "rrf" (`k=60`, livevec's) or "weighted"
        (`vs_weight`, `fts_weight`, each in (0, 1), on pytidb's fixed scales: see `fusion.py`).

        Raises:
            ArgumentError: not a hybrid search, another method, or a weight outside (0, 1).
        """
        if self._search_type != "hybrid":
            raise ArgumentError(
                "fusion method is only supported for hybrid search, please specify the search type "
                "through table.search(search_type='hybrid')",
                field="fusion",
            )
        if method == "weighted":
            unknown = set(params) - {"vs_weight", "fts_weight"}
            if unknown:
                raise ArgumentError(
                    f"weighted fusion takes vs_weight and fts_weight, got {sorted(unknown)}", field="fusion"
                )
            weights = check_weights(params.get("vs_weight", 0.5), params.get("fts_weight", 0.5))
            return replace(self, _weighted=weights)
        if method != "rrf":
            raise ArgumentError("Invalid fusion method, supported methods: 'rrf', 'weighted'", field="fusion")
        return replace(self._then("fusion", method, **params), _weighted=None)

    def rerank(self, reranker: Any, rerank_field: str | None = None) -> Search:
        raise NotSupportedError(
            "rerank(): livevec has no reranker (pytidb's call a hosted API); "
            'search_type="hybrid" with .fusion() is the nearest thing'
        )

    # --- running ------------------------------------------------------------------------------

    def _search(self, search_type: str | None = None, skip: tuple[str, ...] = ()) -> _Search:
        search_type = search_type or self._search_type
        query = self._query(search_type)
        vector_column = self._vector_column or (self._only_vector() if search_type != "fulltext" else None)
        search = self._table.search(query, search_type=search_type, vector_column=vector_column)
        for verb, args, kwargs in self._steps:
            if verb not in skip:
                search = getattr(search, verb)(*args, **kwargs)
        if self._debug:
            logger.info("search on table <%s>: %r", self._table.name, search)
        return search

    def _query(self, search_type: str) -> Any:
        """The text or vector searched for, once the search can run."""
        if self._limit is None:
            raise ArgumentError(
                "limit is required for search, please specify it through .limit(n)", field="limit"
            )
        if search_type != "vector" and self._vector is not None:
            raise ValidationError(
                f"a {search_type} search embeds its text itself: give the text only", field="query"
            )
        query = self._vector if self._vector is not None else self._text
        if query is None:
            raise ValidationError("nothing to search for: give a text or a vector", field="query")
        return query

    def _only_vector(self) -> str:
        vectors = self._table.spec.vectors
        if not vectors:
            raise ArgumentError(
                "no vector column found in table, but vector column is required for vector search",
                field="vector_column",
            )
        if len(vectors) > 1:
            raise ArgumentError(
                "more than one vector column, please choose one through .vector_column()",
                field="vector_column",
            )
        return vectors[0].name

    def _other_metric(self) -> str | None:
        """The distance `.distance_metric()` asks for, when it is not the field's own."""
        if self._metric is None or self._search_type == "fulltext":
            return None
        vector = self._table.spec.vector(self._vector_column or self._only_vector())
        wanted = validate_distance_metric(self._metric).value.lower()
        if wanted not in ("cosine", "l2"):
            raise ArgumentError(
                f"livevec measures COSINE or L2 distance, not {self._metric}", field="distance_metric"
            )
        if wanted == vector.distance:
            return None
        if self._search_type != "vector":
            raise ValidationError(
                f"{vector.name} is searched by {vector.distance.upper()} distance, set by "
                f"VectorField(distance_metric=...) when the table was made; a {self._search_type} search "
                f"cannot measure {self._metric}",
                field="distance_metric",
            )
        return wanted

    def _exact(self, distance: str) -> list[dict[str, Any]]:
        """A vector search by another distance than the field's (see `exact.py`)."""
        self._query("vector")
        column = self._vector_column or self._only_vector()
        filters, low, high = None, None, None
        for verb, args, _ in self._steps:  # the last call of each verb holds, as in livevec's builder
            if verb == "filter":
                filters = args[0]
            elif verb == "distance_threshold":
                low, high = None, args[0]
            elif verb == "distance_range":
                low, high = args
        if self._vector is not None:  # checked as a vector of the distance measured (L2 takes a zero vector)
            vector = dataclasses.replace(self._table.spec.vector(column), distance=distance)
            query = self._table.check_vector(vector, self._vector, field="query")
        else:
            query = self._table.embedding_function(column).embed_query(self._text)
        return exact_rows(self._table, column, query, distance, filters, (low, high), self._limit)

    def _rows(self) -> list[dict[str, Any]]:
        distance = self._other_metric()
        if distance is not None:
            return self._exact(distance)
        if self._weighted is None:
            return self._search().to_list()
        # pytidb's weighted fusion: each ranking on its own (limit rows each), then fused
        by_vector = self._search("vector").to_list()
        # as in pytidb, distance bounds narrow the vector ranking only
        by_words = self._search("fulltext", skip=("distance_threshold", "distance_range")).to_list()
        vector = self._table.spec.vector(self._vector_column or self._only_vector())
        fused = fuse_weighted(
            by_vector, by_words, self._table.spec.primary_key.name, vector.distance, *self._weighted
        )
        return [_scores_last(row) for row in fused[: self._limit]]

    def to_list(self) -> list[dict[str, Any]]:
        """The rows' fields plus `_distance`, `_score` (and `_match_score` for fulltext and hybrid)."""
        return self._rows()

    def to_pydantic(self, with_score: bool = True) -> list[Any]:
        """`SearchResult`s (the hit, its distance and scores), or the hits alone."""
        model = self._table.model
        results = []
        for row in self._rows():
            hit = model.model_validate({k: v for k, v in row.items() if k not in _SCORES})
            results.append(
                SearchResult(hit, row.get(DISTANCE_LABEL), row.get(MATCH_SCORE_LABEL), row.get(SCORE_LABEL))
                if with_score
                else hit
            )
        return results

    def to_pandas(self) -> pandas.DataFrame:
        import pandas

        rows = self._rows()
        scores = [s for s in _SCORES if any(s in row for row in rows)]
        columns = [*self._table.spec.column_names, *scores]
        return pandas.DataFrame(rows, columns=columns)


def _scores_last(row: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in row.items() if k not in _SCORES}
    return fields | {k: row[k] for k in _SCORES if k in row}


__all__ = ["DISTANCE_LABEL", "MATCH_SCORE_LABEL", "SCORE_LABEL", "Search", "SearchResult"]
