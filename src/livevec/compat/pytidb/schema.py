"""pytidb's schema API: `TableModel`, `Field`, `VectorField`, `FullTextField`, as livevec columns.

class Item(TableModel, table=True):            # table=True, as SQLModel wants it, is accepted
    id: int = Field(primary_key=True)          # left out on insert: the store assigns it
    content: str = FullTextField()
    embedding: list[float] = VectorField(dimensions=3)      # vectors the caller gives
    meta: dict = Field(sa_type=JSON, default_factory=dict)
    tags: list = Field(sa_column=Column(JSON))                 # as pytidb's tests declare JSON
"""

from __future__ import annotations

import dataclasses
import inspect
import weakref
from typing import Any

import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ... import _schema
from ..._errors import SchemaError
from ..._schema import ColumnMarker, VectorMarker, _column_type
from ...embeddings import EmbeddingFunction as _EmbeddingFunction
from ._errors import tidb_only
from .datatype import JSON, VECTOR, SQLType
from .expressions import sa_table
from .orm.distance_metric import DistanceMetric, validate_distance_metric
from .orm.indexes import FullTextIndex, VectorIndex
from .relationships import ForeignKey, RelationshipInfo, RelationshipProperty

# SQLModel's (SQLAlchemy's) column options, which a livevec column has no use for
_SQLALCHEMY_ONLY = (
    "sa_column_args",
    "sa_column_kwargs",
    "unique",
    "nullable",
    "ondelete",
)
# the classes declared with table=True, by table name: `open_table(name)` returns rows as instances of them
_models: weakref.WeakValueDictionary[str, type[TableModel]] = weakref.WeakValueDictionary()


class ColumnInfo(pydantic.BaseModel):
    column_name: str
    column_type: str


class Column:
    """A column as SQLAlchemy declares it, for `Field(sa_column=Column(JSON))`: livevec reads only
    its type (an SQLAlchemy `Column` may be given as well). Its other arguments are SQLAlchemy's."""

    def __init__(self, type_: Any = None, *args: Any, **kwargs: Any) -> None:
        self.type = type_


def _column_sa_type(column: Any) -> Any:
    """The `sa_type` an `sa_column` stands for: its type when it is one of `datatype`'s, `JSON` when
    it is a JSON type of SQLAlchemy's (found by name, so SQLAlchemy need not be installed)."""
    declared = getattr(column, "type", None)
    if isinstance(declared, SQLType) or (isinstance(declared, type) and issubclass(declared, SQLType)):
        return declared
    classes = declared.__mro__ if isinstance(declared, type) else type(declared).__mro__
    if any(cls.__name__ in ("JSON", "JSONB") for cls in classes):
        return JSON
    raise SchemaError(
        f"sa_column={column!r}: livevec reads only a column's type, here one of "
        "livevec.compat.pytidb.datatype or SQLAlchemy's JSON; use sa_type="
    )


class _SAType:
    """Field metadata: the `sa_type` a field was declared with, checked against its annotation."""

    def __init__(self, sa_type: Any) -> None:
        self.name = getattr(sa_type, "__name__", type(sa_type).__name__)
        self.column_type = sa_type.column_type


class _MetricGiven:
    """Field metadata: `VectorField(distance_metric=...)` was given, so an index cannot change it."""


def _is_any(annotation: Any) -> bool:
    return annotation is Any or annotation in ("Any", "typing.Any")


def _adapt_class_body(cls: type) -> None:
    """Before pydantic reads the class body (`__init_subclass__` runs first): a vector field annotated
    `Any` holds `list[float] | None`, and `__table_args__` indexes mark the fields they name."""
    body = cls.__dict__
    annotations = body.get("__annotations__", {})
    for name, value in list(body.items()):
        if isinstance(value, RelationshipInfo):  # not a column: a property pydantic leaves alone
            setattr(cls, name, RelationshipProperty(name, annotations.pop(name, None), value))
            continue
        is_vector = isinstance(value, FieldInfo) and any(isinstance(m, VectorMarker) for m in value.metadata)
        if is_vector and _is_any(annotations.get(name)):
            annotations[name] = list[float] | None
    args = body.get("__table_args__", ())
    for index in () if isinstance(args, dict) else args:  # a dict alone: SQLAlchemy's table options
        if isinstance(index, VectorIndex):
            _index_vector(cls, index)
        elif isinstance(index, FullTextIndex):
            for name in index.column_names:
                _index_fulltext(cls, index, name)
        elif not isinstance(index, dict):
            raise SchemaError(
                f"{cls.__name__}.__table_args__: livevec reads VectorIndex and FullTextIndex only, got {index!r}"
            )


def _index_vector(cls: type, index: VectorIndex) -> None:
    info = cls.__dict__.get(index.column_name)
    marker = next((m for m in getattr(info, "metadata", ()) if isinstance(m, VectorMarker)), None)
    if marker is None:
        raise SchemaError(
            f"{cls.__name__}: {index!r} names {index.column_name!r}, which is not a vector field of this class"
        )
    distance = index.distance_metric.value.lower()
    if any(isinstance(m, _MetricGiven) for m in info.metadata) and marker.distance != distance:
        raise SchemaError(
            f"{cls.__name__}.{index.column_name}: VectorField(distance_metric={marker.distance.upper()}) "
            f"and {index!r} disagree; livevec searches a field by one distance"
        )
    info.metadata[info.metadata.index(marker)] = dataclasses.replace(marker, distance=distance)


def _index_fulltext(cls: type, index: FullTextIndex, name: str) -> None:
    info = cls.__dict__.get(name, PydanticUndefined)
    if not isinstance(info, FieldInfo):
        if name not in inspect.get_annotations(cls):
            raise SchemaError(f"{cls.__name__}: {index!r} names {name!r}, which is not a field of this class")
        info = _schema.Field(info)  # a bare annotation (or a plain default): give it a column
        setattr(cls, name, info)
    column = next((m for m in info.metadata if isinstance(m, ColumnMarker)), None)
    if column is None:
        info.metadata.append(ColumnMarker(fulltext=True))
    else:
        info.metadata[info.metadata.index(column)] = dataclasses.replace(column, fulltext=True)


class _TableModelMeta(type(_schema.TableModel)):
    """Reading a field on the class (`Chunk.user_id`) gives its SQLAlchemy column, for expressions
    used as filters (`expressions.py`); instances read their values as usual."""

    def __getattr__(cls, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            # only once pydantic has built the class: while it does, it probes for defaults
            fields = cls.__dict__.get("__pydantic_fields__")
            if not cls.__dict__.get("__pydantic_complete__") or not fields or name not in fields:
                raise
        return sa_table(cls).c[name]

    def __clause_element__(cls) -> Any:
        """The class as SQLAlchemy reads a table (`insert(Model)`, `select(Model)`)."""
        return sa_table(cls)


class TableModel(_schema.TableModel, metaclass=_TableModelMeta):
    """A table schema, as pytidb's (SQLModel's): `__tablename__` defaults to the class name in lower
    case, the `table=True` class keyword is accepted (`table=False`: a base for other models), a vector
    field may be annotated `Any`, and `__table_args__` may hold `VectorIndex` / `FullTextIndex`."""

    model_config = pydantic.ConfigDict(ignored_types=(RelationshipInfo, RelationshipProperty))

    def __init_subclass__(cls, table: bool = True, **kwargs: Any) -> None:
        _adapt_class_body(cls)
        super().__init_subclass__(**kwargs)
        if "__tablename__" not in cls.__dict__:
            cls.__tablename__ = cls.__name__.lower()
        if table:
            _models[cls.__tablename__] = cls

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        for name, info in cls.model_fields.items():
            declared = next((m for m in info.metadata if isinstance(m, _SAType)), None)
            if declared is None:
                continue
            found = _column_type(cls.__name__, name, info.annotation)[1]
            if found != declared.column_type:
                raise SchemaError(
                    f"{cls.__name__}.{name}: sa_type={declared.name} stores {declared.column_type}, "
                    f"the field is annotated {found}"
                )


def Field(  # noqa: N802 - SQLModel's name
    default: Any = PydanticUndefined,
    *,
    primary_key: bool = False,
    index: bool | None = None,
    sa_type: Any = None,
    sa_column: Any = None,
    foreign_key: str | None = None,
    **kwargs: Any,
) -> Any:
    """A column: SQLModel's `Field` for what livevec keeps (`primary_key`, `index`, `sa_type` or the
    type of `sa_column`, `foreign_key` for `Relationship` to join on, not enforced by the stores, and
    pydantic's options such as `default_factory` or `max_length`)."""
    given = [name for name in _SQLALCHEMY_ONLY if name in kwargs]
    if given:
        raise SchemaError(
            f"{given[0]}= is an SQLAlchemy column option, which livevec has no use for; use sa_type="
        )
    if sa_column is not None:
        if sa_type is not None:
            raise SchemaError("give sa_type= or sa_column=, not both")
        sa_type = _column_sa_type(sa_column)
    if isinstance(sa_type, VECTOR):  # pytidb's Column(VECTOR(3)): vectors of 3 numbers the caller gives
        dimensions = sa_type.args[0] if sa_type.args else None
        return VectorField(dimensions=dimensions, **kwargs)
    info = _schema.Field(default, primary_key=primary_key, index=bool(index), **kwargs)
    if foreign_key is not None:
        info.metadata.append(ForeignKey.parse(foreign_key))
    if sa_type is not None:
        if not (isinstance(sa_type, SQLType) or (isinstance(sa_type, type) and issubclass(sa_type, SQLType))):
            raise SchemaError(f"sa_type={sa_type!r}: use a type of livevec.compat.pytidb.datatype")
        declared = _SAType(sa_type)
        if declared.column_type is None:
            raise SchemaError(f"sa_type={declared.name}: livevec stores no binary or time-of-day columns")
        if declared.column_type == "vector":
            raise SchemaError(
                "sa_type=VECTOR: give its dimensions, VECTOR(3), or use VectorField(dimensions=...)"
            )
        info.metadata.append(declared)
    return info


def VectorField(  # noqa: N802 - pytidb's name
    dimensions: int | None = None,
    source_field: str | None = None,
    embed_fn: Any = None,
    source_type: str = "text",
    index: bool | None = None,
    distance_metric: DistanceMetric | str | None = None,
    algorithm: str = "HNSW",
    **kwargs: Any,
) -> Any:
    """A `list[float]` field: embedded from `source_field` by `embed_fn`, or, without one, vectors of
    `dimensions` numbers that the caller gives. livevec indexes every vector field (`index` is moot).

        embedding: list[float] = VectorField(dimensions=3, distance_metric="L2")
    """
    given = distance_metric is not None
    metric = validate_distance_metric(distance_metric or DistanceMetric.COSINE).value
    if metric not in ("COSINE", "L2"):
        raise SchemaError(f"distance_metric={distance_metric!r}: livevec measures COSINE or L2 distance")
    if source_type != "text":
        raise SchemaError(f"source_type={source_type!r}: livevec embeds text only")
    if algorithm != "HNSW":
        raise SchemaError(f"algorithm={algorithm!r}: livevec's vector index is HNSW")
    distance = metric.lower()
    if embed_fn is not None:  # pytidb's EmbeddingFunction.VectorField comes here: livevec's does the rest
        info = _EmbeddingFunction.VectorField(embed_fn, source_field, distance=distance, **kwargs)
        return _mark_metric(info, given)
    if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
        raise SchemaError(
            f"VectorField without embed_fn needs dimensions, a positive int, got {dimensions!r}"
        )
    kwargs.setdefault("repr", False)
    info = pydantic.Field(None, **kwargs)
    info.metadata.append(VectorMarker(None, distance, None, dimensions))
    return _mark_metric(info, given)


def _mark_metric(info: FieldInfo, given: bool) -> FieldInfo:
    if given:
        info.metadata.append(_MetricGiven())
    return info


def FullTextField(index: bool = True, fts_parser: str = "MULTILINGUAL", **kwargs: Any) -> Any:  # noqa: N802
    """A text field with a full-text (BM25) index; livevec's tokenizer is its own (words, folded and
    stemmed in English), so `fts_parser` keeps its default."""
    if fts_parser != "MULTILINGUAL":
        raise tidb_only(
            f"fts_parser={fts_parser!r}", "livevec's full-text index has one tokenizer; leave fts_parser out"
        )
    return _schema.Field(kwargs.pop("default", PydanticUndefined), fulltext=bool(index), **kwargs)


def Relationship(  # noqa: N802 - SQLModel's name
    *, back_populates: str | None = None, sa_relationship_kwargs: dict[str, Any] | None = None, **kwargs: Any
) -> Any:
    """SQLModel's relationship attribute: the related row (or rows, annotated `list[...]`), read from
    the table when the attribute is read (see `relationships.py`)."""
    if kwargs:
        raise SchemaError(f"Relationship({', '.join(kwargs)}=...): livevec reads sa_relationship_kwargs only")
    return RelationshipInfo(back_populates=back_populates, sa_relationship_kwargs=sa_relationship_kwargs)


def TiFlashReplica(*args: Any, **kwargs: Any) -> Any:  # noqa: N802 - pytidb's name
    raise tidb_only("a TiFlash replica", "livevec's stores have no columnar replica; leave it out")


def model_for(table_name: str) -> type[TableModel] | None:
    """The class last declared with `table=True` for this table name, if it is still alive."""
    return _models.get(table_name)
