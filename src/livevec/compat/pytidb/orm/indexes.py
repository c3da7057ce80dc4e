"""pytidb's index declarations, for a model's `__table_args__`:

    class Chunk(TableModel):
        __tablename__ = "chunks"
        __table_args__ = (VectorIndex("vec_idx", "text_vec"), FullTextIndex("fts_idx", "text"))
        text: str = FullTextField(index=False)
        text_vec: list[float] = VectorField(dimensions=3, index=False)

livevec reads them when the class is declared (`schema.TableModel`): a `VectorIndex` sets the distance
its field is searched by (livevec indexes every vector field), a `FullTextIndex` puts its fields in
the table's full-text index. They are plain declarations, not SQLAlchemy objects.
"""

from __future__ import annotations

from typing import Any

from .._errors import ArgumentError, tidb_only
from .distance_metric import DistanceMetric, validate_distance_metric


def _column_name(column: Any) -> str:
    """A field named by its name or by a column object (anything with a `.name`)."""
    name = column if isinstance(column, str) else getattr(column, "name", None)
    if not isinstance(name, str) or not name:
        raise ArgumentError(f"invalid column {column!r}: give a field name", field="columns")
    return name


class VectorIndex:
    """An HNSW index on one vector field, searched by `distance_metric` (COSINE or L2)."""

    def __init__(
        self,
        name: str,
        *columns: Any,
        distance_metric: DistanceMetric | str = DistanceMetric.COSINE,
        algorithm: str = "HNSW",
        ensure_columnar_replica: bool = True,
        **kwargs: Any,
    ) -> None:
        if not columns:
            raise ArgumentError("Vector index must have at least one column", field="columns")
        if len(columns) > 1:
            raise ArgumentError(
                f"Vector index can only apply to one column, but got {len(columns)} columns", field="columns"
            )
        if algorithm != "HNSW":
            raise ArgumentError(f"Invalid vector index algorithm: {algorithm}", field="algorithm")
        metric = validate_distance_metric(distance_metric)
        if metric not in (DistanceMetric.COSINE, DistanceMetric.L2):
            raise ArgumentError(
                f"livevec measures COSINE or L2 distance, not {metric.value}", field="distance_metric"
            )
        self.name = name
        self.column_name = _column_name(columns[0])
        self.distance_metric = metric

    def __repr__(self) -> str:
        return (
            f"VectorIndex({self.name!r}, {self.column_name!r}, distance_metric={self.distance_metric.value})"
        )


class FullTextIndex:
    """A full-text (BM25) index on text fields; livevec's tokenizer is its own, so `fts_parser`
    keeps its default."""

    def __init__(
        self,
        name: str,
        *column_names: Any,
        fts_parser: str = "MULTILINGUAL",
        ensure_columnar_replica: bool = True,
        **kwargs: Any,
    ) -> None:
        if fts_parser not in ("STANDARD", "MULTILINGUAL"):
            raise ArgumentError(f"Invalid full text parser: {fts_parser}", field="fts_parser")
        if fts_parser != "MULTILINGUAL":
            raise tidb_only(
                f"fts_parser={fts_parser!r}",
                "livevec's full-text index has one tokenizer; leave fts_parser out",
            )
        if not column_names:
            raise ArgumentError("Full text index must have at least one column", field="columns")
        self.name = name
        self.column_names = [_column_name(c) for c in column_names]

    def __repr__(self) -> str:
        return f"FullTextIndex({self.name!r}, {', '.join(map(repr, self.column_names))})"


__all__ = ["FullTextIndex", "VectorIndex"]
