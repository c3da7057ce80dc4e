"""Query builders: `table.search(...)` (vector, full-text or hybrid ranking) and `table.query(...)` results.

A `Search` is generative: every call returns a new builder, so a base search can be reused.

What a search result carries besides the row's columns, by `search_type`:

| search_type | ranked by | `_score` | `_distance` | `_match_score` |
|---|---|---|---|---|
| "vector" (default) | nearest vector | 1 - `_distance` | vector distance to the query | (absent) |
| "fulltext" | BM25 on the `Field(fulltext=True)` columns | `_match_score` | None, unless distance bounds are set | BM25 score |
| "hybrid" | fusion of both rankings | the fused score (`Search.fusion`) | vector distance (None: row has no vector) | BM25 score, 0 if no word occurs |

BM25 scores are positive, higher is better, and compare rows of one query only. Filters, `limit` and the
distance bounds (`distance_threshold`, `distance_range`, `relevance_threshold`) apply to every type: a
row outside the bounds is never returned, whichever ranking found it.

`_relevance` (every type) is `_distance` put on a scale shared by all calibrated models (see
`livevec.embeddings.calibration`): about the share of products at that distance that people judged
relevant. It is None where `_distance` is, and for a model without a calibration (or with other
prefixes than its own, or l2 distance).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from ._errors import ValidationError
from ._schema import shown, unstorable
from .embeddings import calibration
from .filters import Filters, compile_filters
from .storage import FulltextSearch, VectorSearch
from .storage.vector_index import distances

if TYPE_CHECKING:
    import pandas

    from ._schema import TableModel, VectorSpec
    from ._table import Table
    from .live import LiveResult
    from .storage import Change

MAX_LIMIT = 10_000
SearchType = Literal["vector", "fulltext", "hybrid"]
SEARCH_TYPES = ("vector", "fulltext", "hybrid")
FusionMethod = Literal["rrf", "weighted"]
# each ranking of a hybrid search hands this many candidates (or `limit`, if larger) to the fusion
HYBRID_CANDIDATES = 100
_Hits = list[tuple[dict[str, Any], float]]
# a changed row this close to a live result's bounds is checked by running the search again: the
# stores compute distances in their own float arithmetic
_DISTANCE_SLACK = 1e-5


@dataclass(frozen=True)
class SearchHit:
    """One search result as a model instance, with how it was ranked (see `Search.to_list`).

    Attributes:
        hit: the row, as an instance of the table's model.
        distance: the vector distance to the query (None in a full-text search without bounds).
        score: higher is better: 1 - distance, the BM25 score, or the fused score.
        match_score: the BM25 score (full-text and hybrid searches).
        relevance: the distance read through the model's calibration (0 to 1), or None.
    """

    hit: TableModel
    distance: float | None
    score: float
    match_score: float | None = None
    relevance: float | None = None


@dataclass(frozen=True)
class Fusion:
    """How a hybrid search merges its vector and full-text rankings; set with `Search.fusion()`."""

    method: FusionMethod = "rrf"
    k: float = 60.0
    vs_weight: float = 0.5
    fts_weight: float = 0.5


class _KeyedRows(list):
    """A search's rows and, in `keys`, the primary keys of the rows they come from, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[Any] = []


class _Ranked(NamedTuple):  # a tuple: a frozen dataclass's __init__ costs 1 µs a row
    row: dict[str, Any]
    distance: float | None
    match_score: float | None
    score: float


class QueryResult:
    """Rows returned by `table.query(...)`: iterate it for dicts, or convert it.

    Parameters:
        rows: the rows, as dicts.
        model: the table's model, for `to_pydantic()`.
    """

    def __init__(self, rows: list[dict[str, Any]], model: type[TableModel]) -> None:
        self._rows = rows
        self._model = model

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows)

    def to_list(self) -> list[dict[str, Any]]:
        """The rows as dicts of their columns.

        Returns:
            One dict per row, in the query's order.
        """
        return list(self._rows)

    def to_pandas(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame, one column per field.

        Returns:
            The DataFrame.
        """
        import pandas

        return pandas.DataFrame(self._rows, columns=list(self._model.model_fields))

    def to_pydantic(self) -> list[TableModel]:
        """The rows as instances of the table's model.

        Returns:
            One model instance per row.
        """
        return [self._model.model_validate(row) for row in self._rows]


@dataclass(frozen=True)
class Search:
    """Rows ranked for a text or a vector; build with `.filter()`, `.limit()` ..., run with `.to_list()`.

    Made by `table.search(...)`. It is generative: every call returns a new builder, so a base search
    can be reused.

    What a result carries besides the row's columns, by `search_type`:

    | search_type | ranked by | `_score` | `_distance` | `_match_score` |
    |---|---|---|---|---|
    | "vector" (default) | nearest vector | 1 - `_distance` | vector distance to the query | (absent) |
    | "fulltext" | BM25 on the `Field(fulltext=True)` columns | `_match_score` | None, unless distance bounds are set | BM25 score |
    | "hybrid" | fusion of both rankings | the fused score (`fusion()`) | vector distance (None: row has no vector) | BM25 score, 0 if no word occurs |

    `_relevance` (every type) is `_distance` read through the model's calibration: about the share of
    products at that distance people judged relevant; None where `_distance` is, or for a model without
    a calibration.

    Usage:
        ```python
        sports = table.search("a user likes sports").filter({"price": {"$lt": 50}})
        cheap = sports.limit(5).to_list()
        close = sports.distance_threshold(0.6).to_list()
        ```

    Parameters:
        table: the table searched.
        query: a text or a vector.
        search_type: "vector", "fulltext" or "hybrid".

    Raises:
        ValidationError: the text cannot be stored (a lone surrogate), the search type is unknown, or
            a full-text or hybrid search on a table without a full-text field (or with a vector).
    """

    table: Table
    query: str | Sequence[float] | np.ndarray
    search_type: SearchType = "vector"
    _vector_column: str | None = None
    _filters: Filters | None = None
    _limit: int = 10
    _max_distance: float | None = None
    _min_distance: float | None = None
    _fusion: Fusion = Fusion()
    _fields: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        reason = unstorable(self.query) if isinstance(self.query, str) else None
        if reason:  # neither the model's tokenizer nor the full-text index takes it
            raise ValidationError(reason, field="query")
        if self.search_type not in SEARCH_TYPES:
            raise ValidationError(
                f"must be one of {list(SEARCH_TYPES)}, got {self.search_type!r}", field="search_type"
            )
        if self.search_type == "vector":
            return
        if not any(c.fulltext for c in self.table.spec.columns):
            raise ValidationError(
                f"{self.search_type} search needs a full-text field: table {self.table.name!r} has none "
                "(declare one with Field(fulltext=True))",
                field="search_type",
            )
        if self.search_type == "hybrid" and not self.table.spec.vectors:
            raise ValidationError(
                f"hybrid search needs a vector field: table {self.table.name!r} has none", field="search_type"
            )
        if not isinstance(self.query, str):
            raise ValidationError(f"{self.search_type} search takes a text, not a vector", field="query")

    def vector_column(self, name: str) -> Search:
        """Search this vector field (needed when the table has several).

        Parameters:
            name: the vector column.

        Returns:
            A new `Search`.

        Raises:
            ValidationError: `name` is not a vector column of the table.
        """
        if self.table.spec.vector(name) is None:
            raise ValidationError(
                f"not a vector field; the table has {[v.name for v in self.table.spec.vectors]}",
                field=name,
            )
        return self._with(_vector_column=name)

    def select(self, *fields: str) -> Search:
        """Only these fields in each row (and the scores) of `to_list()`, `to_pandas()` and `live()`;
        `to_pydantic()` still gives whole models. Without it a row holds every column, as pytidb's do.

        A result kept by `live()` is held for as long as the handle is open: leaving out a vector
        (384 floats, 12 kB a row as Python floats) is what makes many of them cheap to hold. A vector
        left out is not made into a list at all, which makes each search faster too.

        Usage:
            ```python
            table.search("a user likes sports").select("id", "name").limit(5).live()
            ```

        Parameters:
            fields: names of the table's fields, at least one.

        Returns:
            A new `Search`.

        Raises:
            ValidationError: no field, or a name that is not one of the table's fields.
        """
        if not fields:
            raise ValidationError("name at least one field", field="select")
        known = self.table.spec.column_names
        for name in fields:
            if not isinstance(name, str) or name not in known:
                raise ValidationError(f"not a field; the table has {known}", field=str(name))
        return self._with(_fields=tuple(dict.fromkeys(fields)))

    def filter(self, filters: Filters | None) -> Search:
        """Keep the rows matching `filters`, exactly, before ranking.

        Usage:
            ```python
            table.search("yoga").filter({"price": {"$lt": 50}, "category": {"$in": ["fitness", "sports"]}})
            ```

        Parameters:
            filters: a dict in the filter language (`livevec.filters`) or a SQL condition
                (`"price < 50 and category = 'bags'"`, `livevec.sql_filters`); None or `{}` for every row.

        Returns:
            A new `Search`.

        Raises:
            FilterError: the filter is malformed or names an unknown field.
        """
        compile_filters(filters, self.table.spec)  # check now: errors point at the call that made them
        return self._with(_filters=filters)

    def limit(self, k: int) -> Search:
        """Return at most `k` rows (10 by default).

        Parameters:
            k: an integer from 1 to 10,000.

        Returns:
            A new `Search`.

        Raises:
            ValidationError: `k` is not an integer from 1 to 10,000.
        """
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_LIMIT:
            raise ValidationError(f"must be an integer from 1 to {MAX_LIMIT}, got {shown(k)}", field="limit")
        return self._with(_limit=k)

    def distance_threshold(self, max_distance: float) -> Search:
        """Keep rows whose distance is at most `max_distance`.

        Parameters:
            max_distance: from 0 to 2 for cosine distance, at least 0 for l2.

        Returns:
            A new `Search`.

        Raises:
            ValidationError: the distance is not a number in that range.
        """
        return self._with(_max_distance=self._check_distance("distance_threshold", max_distance))

    def distance_range(self, min_distance: float, max_distance: float) -> Search:
        """Keep rows whose distance lies in [min_distance, max_distance].

        Parameters:
            min_distance: the smallest distance kept.
            max_distance: the largest distance kept.

        Returns:
            A new `Search`.

        Raises:
            ValidationError: a bound is out of range, or `min_distance` is above `max_distance`.
        """
        lo = self._check_distance("distance_range", min_distance)
        hi = self._check_distance("distance_range", max_distance)
        if lo > hi:
            raise ValidationError(f"min {lo} is above max {hi}", field="distance_range")
        return self._with(_min_distance=lo, _max_distance=hi)

    def relevance_threshold(self, min_relevance: float) -> Search:
        """Keep rows whose `_relevance` is at least `min_relevance` (0 to 1), whatever the model.

        The same as `distance_threshold()` with the distance at which the model's calibration reaches
        `min_relevance` (so the last of the two calls sets the bound). Only for a calibrated model.

        Parameters:
            min_relevance: from 0 to 1; 0.7 keeps about a quarter of judged products, most of them relevant.

        Returns:
            A new `Search`.

        Raises:
            ValidationError: the value is not in [0, 1], or the column's model has no calibration.
        """
        value = _check_number("relevance_threshold", min_relevance, low=0.0, high=1.0)
        knots = self._knots()
        if knots is None:
            raise ValidationError(
                f"the model of {self._vector().name!r} has no calibration "
                f"(calibrated: {sorted(calibration.KNOTS)}); use distance_threshold()",
                field="relevance_threshold",
            )
        return self._with(_max_distance=calibration.distance_for(value, knots))

    def fusion(
        self,
        method: FusionMethod = "rrf",
        *,
        k: float | None = None,
        vs_weight: float | None = None,
        fts_weight: float | None = None,
    ) -> Search:
        """How a hybrid search merges its two rankings into `_score`.

        Usage:
            ```python
            table.search("trail shoes", search_type="hybrid").fusion("weighted", vs_weight=0.7, fts_weight=0.3)
            ```

        Parameters:
            method: "rrf" (the default): reciprocal rank fusion, the sum over both rankings of
                1 / (k + rank); it looks at ranks only, so the scales of distance and BM25 do not matter.
                "weighted": `vs_weight` × similarity + `fts_weight` × BM25 score, each min-max normalised
                to [0, 1] over this query's candidates.
            k: rrf's constant (above 0; 60 by default).
            vs_weight: the weight of the vector ranking (0 to 1; 0.5 by default), for "weighted".
            fts_weight: the weight of the full-text ranking (0 to 1; 0.5 by default), for "weighted".

        Returns:
            A new `Search`.

        Raises:
            ValidationError: the search is not hybrid, the method is unknown, an option belongs to the
                other method, or a value is out of range (both weights 0, for instance).
        """
        if self.search_type != "hybrid":
            raise ValidationError(
                f"only a hybrid search fuses rankings; this one is {self.search_type!r}", field="fusion"
            )
        if method == "rrf":
            if vs_weight is not None or fts_weight is not None:
                raise ValidationError("vs_weight and fts_weight apply to method='weighted'", field="fusion")
            k = 60.0 if k is None else _check_number("k", k, low=0.0, low_open=True)
            return self._with(_fusion=Fusion("rrf", k=k))
        if method == "weighted":
            if k is not None:
                raise ValidationError("k applies to method='rrf'", field="fusion")
            vs = 0.5 if vs_weight is None else _check_number("vs_weight", vs_weight, low=0.0, high=1.0)
            fts = 0.5 if fts_weight is None else _check_number("fts_weight", fts_weight, low=0.0, high=1.0)
            if vs == fts == 0.0:
                raise ValidationError("vs_weight and fts_weight cannot both be 0", field="fusion")
            return self._with(_fusion=Fusion("weighted", vs_weight=vs, fts_weight=fts))
        raise ValidationError(f"must be 'rrf' or 'weighted', got {method!r}", field="fusion")

    def _with(self, **changes: Any) -> Search:
        """A copy with `changes` (already checked by the builder method): `dataclasses.replace`
        would run `__init__` and `__post_init__` again, a tenth of a small filtered search's time."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__, **changes)
        return copy

    def _check_distance(self, name: str, value: float) -> float:
        value = _check_number(name, value)
        top = 2.0 if self._vector().distance == "cosine" else math.inf
        if not 0.0 <= value <= top:
            raise ValidationError(
                f"{value} is outside [0, {top}] for {self._vector().distance} distance", field=name
            )
        return value

    def _vector(self) -> VectorSpec:
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

    def _knots(self) -> list[tuple[float, float]] | None:
        vector = self._vector()
        if vector.distance != "cosine" or not vector.model:
            return None
        return calibration.knots_for(self.table.embedding_function(vector.name))

    @property
    def _bounded(self) -> bool:
        return self._max_distance is not None or self._min_distance is not None

    # --- running ------------------------------------------------------------------------------

    def _ranked(self, columns: tuple[str, ...] | None = None) -> list[_Ranked]:
        """The ranked rows; a vector search's rows hold only `columns` (and the key) when given:
        the fields `select()` kept, so that a vector nobody asked for is not made a list."""
        if isinstance(self.query, str) and not self.query.strip():
            raise ValidationError("empty search text", field="query")
        if self.search_type != "fulltext" or self._bounded:
            self.table._before_search(self._vector_column)  # no stale vector is ranked
        spec = self.table.spec
        try:
            return self._ranked_now(columns)
        except Exception:
            if self.table._synced_spec() is spec:
                raise
            return self._ranked_now(columns)  # a reembed swapped the column in the meantime: once more

    def _ranked_now(self, columns: tuple[str, ...] | None) -> list[_Ranked]:
        if self.search_type == "fulltext":
            return self._fulltext()
        if self.search_type == "hybrid":
            return self._hybrid()
        hits = self._vector_hits(self._query_vector(), self._limit, self._filters, columns)
        return [_Ranked(row, d, None, 1.0 - d) for row, d in hits]

    def _query_vector(self) -> np.ndarray:
        vector = self._vector()
        if isinstance(self.query, str):
            return self.table.embedding_function(vector.name).embed_query(self.query)
        return self.table.check_vector(vector, self.query, field="query")

    def _vector_hits(
        self, query: np.ndarray, limit: int, filters: Filters | None, columns: tuple[str, ...] | None = None
    ) -> _Hits:
        request = VectorSearch(
            column=self._vector().name,
            query=query,
            limit=limit,
            filters=filters,
            max_distance=self._max_distance,
            min_distance=self._min_distance,
            columns=columns,
        )
        return self.table.backend.vector_search(self.table.spec, request)

    def _fulltext_hits(self, limit: int, filters: Filters | None) -> _Hits:
        request = FulltextSearch(query=self.query, limit=limit, filters=filters)
        return self.table.backend.fulltext_search(self.table.spec, request)

    def _by_key(self, hits_of_chunk: Callable[[int, Filters], _Hits], keys: list[Any]) -> dict[Any, float]:
        """{key: value} of `hits_of_chunk(limit, filters)` run on the rows with these keys."""
        pk = self.table.spec.primary_key.name
        found: dict[Any, float] = {}
        for start in range(0, len(keys), 500):  # keeps each IN list well under parameter limits
            chunk = keys[start : start + 500]
            found.update((row[pk], value) for row, value in hits_of_chunk(len(chunk), {pk: {"$in": chunk}}))
        return found

    def _fulltext(self) -> list[_Ranked]:
        fetch = self._limit
        hits = self._fulltext_hits(fetch, self._filters)
        if not self._bounded:
            return [_Ranked(row, None, s, s) for row, s in hits]
        # distance bounds hold here too: skip the rows outside them and fetch further down the ranking
        pk = self.table.spec.primary_key.name
        query = self._query_vector()
        while True:
            keys = [row[pk] for row, _ in hits]
            distances = self._by_key(lambda n, f: self._vector_hits(query, n, f), keys)
            kept = [_Ranked(row, distances[row[pk]], s, s) for row, s in hits if row[pk] in distances]
            if len(kept) >= self._limit or len(hits) < fetch:
                return kept[: self._limit]
            fetch *= 4
            hits = self._fulltext_hits(fetch, self._filters)

    def _hybrid(self) -> list[_Ranked]:
        pk = self.table.spec.primary_key.name
        query = self._query_vector()
        candidates = max(self._limit, HYBRID_CANDIDATES)
        by_vector = self._vector_hits(query, candidates, self._filters)
        by_words = self._fulltext_hits(candidates, self._filters)
        distance = {row[pk]: d for row, d in by_vector}
        match = {row[pk]: s for row, s in by_words}
        # every candidate gets both scores, whichever ranking found it (outside the bounds: no distance)
        distance.update(
            self._by_key(lambda n, f: self._vector_hits(query, n, f), [k for k in match if k not in distance])
        )
        match.update(self._by_key(self._fulltext_hits, [k for k in distance if k not in match]))
        if self._bounded:
            by_words = [(row, s) for row, s in by_words if row[pk] in distance]
        rows = {row[pk]: row for row, _ in by_words} | {row[pk]: row for row, _ in by_vector}
        fusion = self._fusion
        if fusion.method == "rrf":
            score: dict[Any, float] = defaultdict(float)
            for ranking in (by_vector, by_words):
                for rank, (row, _) in enumerate(ranking, start=1):
                    score[row[pk]] += 1.0 / (fusion.k + rank)
        else:
            similarity = _min_max({key: -distance[key] for key in rows if key in distance})
            relevance = _min_max({key: match.get(key, 0.0) for key in rows})
            score = {
                key: fusion.vs_weight * similarity.get(key, 0.0) + fusion.fts_weight * relevance[key]
                for key in rows
            }
        ranked = sorted(rows, key=lambda key: (-score[key], key))[: self._limit]
        return [_Ranked(rows[key], distance.get(key), match.get(key, 0.0), score[key]) for key in ranked]

    # --- results ------------------------------------------------------------------------------

    def to_list(self) -> list[dict[str, Any]]:
        """Run the search: the rows, best first.

        Returns:
            Dicts of the row's columns plus `_distance`, `_relevance`, `_match_score` (not in vector
            search) and `_score` (see the table above).
        """
        return list(self._keyed_rows())

    def _keyed_rows(self) -> _KeyedRows:
        """`to_list()`'s rows, with the keys of their rows beside them (a `select()` may leave the key
        out of the rows, and a live search still needs to know which rows it holds)."""
        results = _KeyedRows()
        ranked_rows = self._ranked(self._fields)
        relevance = self._relevances(ranked_rows)
        pk = self.table.spec.primary_key.name
        for ranked, rel in zip(ranked_rows, relevance, strict=True):
            row = ranked.row if self._fields is None else {name: ranked.row[name] for name in self._fields}
            item = {**row, "_distance": ranked.distance, "_relevance": rel}
            if self.search_type != "vector":
                item["_match_score"] = ranked.match_score
            item["_score"] = ranked.score
            results.append(item)
            results.keys.append(ranked.row[pk])
        return results

    def _relevances(self, ranked: list[_Ranked]) -> list[float | None]:
        knots = self._knots() if ranked and (self.search_type != "fulltext" or self._bounded) else None
        if knots is None:
            return [None] * len(ranked)
        known = [r.distance for r in ranked if r.distance is not None]
        values = iter(calibration.relevance(np.array(known), knots).round(4).tolist())
        return [None if r.distance is None else next(values) for r in ranked]

    def live(self) -> LiveResult[list[dict[str, Any]]]:
        """This search kept up to date.

        `.result` is what `to_list()` gives now, and a new result comes (by iterating, `wait()`,
        `on_change()` or `async for ... in .changes()`) each time a committed write, from any process,
        changes it. Close the handle when done.

        Usage:
            ```python
            with table.search("yoga").limit(5).live() as live:
                for result in live:
                    print([row["name"] for row in result])
            ```

        Returns:
            A `LiveResult` whose results are lists as `to_list()` returns.
        """
        from .live import live_queries

        search = self  # a text is embedded again at each evaluation (a cache hit, unless a reembed
        # changed the model since)
        query = self.query
        if isinstance(self.query, str) and self.search_type == "vector":
            query = self._query_vector()
        query = query if isinstance(query, str) else np.asarray(query, np.float32)
        key = (
            "search",
            self.table.name,
            self.search_type,
            self._vector_column,
            query if isinstance(query, str) else query.tobytes(),
            json.dumps(self._filters, sort_keys=True, default=repr),
            self._limit,
            self._max_distance,
            self._min_distance,
            self._fusion,
            self._fields,
        )
        registry = live_queries(self.table.backend)
        registry.keep_fresh(self.table.name, self.table.refresh)
        return registry.open(key, search._keyed_rows, search._affected_by)

    def _affected_by(self, changes: list[Change], result: _KeyedRows) -> bool:
        """Can these changes alter `result`? (see `livevec.live`)"""
        table = self.table
        mine = [c for c in changes if c.table == table.name]
        if not mine:
            return False
        if self.search_type != "vector" or any(c.op == "reset" for c in mine):
            return True  # BM25 scores depend on every row of the table
        pk = table.spec.primary_key.name
        changed = list(dict.fromkeys(c.key for c in mine))
        if set(changed) & set(result.keys):
            return True
        vector = self._vector()
        query = self._query_vector() if isinstance(self.query, str) else np.asarray(self.query, np.float32)
        for start in range(0, len(changed), 500):
            where = {pk: {"$in": changed[start : start + 500]}}
            rows = table.query({"$and": [self._filters, where]} if self._filters else where)
            for row in rows:
                if row[vector.name] is None:
                    continue
                d = float(distances(query, np.asarray([row[vector.name]], np.float32), vector.distance)[0])
                if self._max_distance is not None and d > self._max_distance + _DISTANCE_SLACK:
                    continue
                if self._min_distance is not None and d < self._min_distance - _DISTANCE_SLACK:
                    continue
                if len(result) < self._limit or d <= result[-1]["_distance"] + _DISTANCE_SLACK:
                    return True
        return False

    def to_pandas(self) -> pandas.DataFrame:
        """Run the search: the rows, best first, as a pandas DataFrame.

        Returns:
            A DataFrame of the table's columns and the scores.
        """
        import pandas

        scores = (
            ["_distance", "_relevance", "_score"]
            if self.search_type == "vector"
            else ["_distance", "_relevance", "_match_score", "_score"]
        )
        fields = self._fields or self.table.spec.column_names
        return pandas.DataFrame(self.to_list(), columns=[*fields, *scores])

    def to_pydantic(self) -> list[SearchHit]:
        """Run the search: the rows, best first, as model instances with their scores.

        Returns:
            One `SearchHit` per row.
        """
        model = self.table.model
        ranked = self._ranked()
        return [
            SearchHit(model.model_validate(r.row), r.distance, r.score, r.match_score, rel)
            for r, rel in zip(ranked, self._relevances(ranked), strict=True)
        ]


def _check_number(
    name: str, value: float, *, low: float | None = None, high: float | None = None, low_open: bool = False
) -> float:
    try:
        finite = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        raise ValidationError(f"must be a finite number, got {shown(value)}", field=name)
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise ValidationError(f"must be {'above' if low_open else 'at least'} {low}, got {value}", field=name)
    if high is not None and value > high:
        raise ValidationError(f"must be at most {high}, got {value}", field=name)
    return value


def _min_max(values: dict[Any, float]) -> dict[Any, float]:
    """Values rescaled to [0, 1] (all 1 when they are equal)."""
    if not values:
        return {}
    low, high = min(values.values()), max(values.values())
    if high == low:
        return dict.fromkeys(values, 1.0)
    return {key: (v - low) / (high - low) for key, v in values.items()}
