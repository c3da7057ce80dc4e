"""Table schemas: `TableModel` classes and the plain `TableSpec` a backend stores.

A `TableModel` is a pydantic model. `Field(...)` and `EmbeddingFunction.VectorField(...)` attach a
marker to a field's metadata; `TableSpec.from_model` reads those markers into a JSON-able spec, which
the backend keeps beside the table so `open_table` works from any process without the class.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import string
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal

import pydantic
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ._errors import SchemaError, ValidationError

ColumnType = Literal["int", "float", "str", "bool", "datetime", "date", "json", "vector"]
Distance = Literal["cosine", "l2"]
INT64_MAX = 2**63 - 1
# livevec's own tables, indexes and triggers start with _livevec, SQLite's with sqlite_: a user table
# of such a name would replace or break them (drop the embedding cache, another table's FTS index)
RESERVED_PREFIXES = ("_livevec", "sqlite_")


@dataclass(frozen=True)
class ColumnMarker:
    primary_key: bool = False
    fulltext: bool = False
    index: bool | tuple[str, ...] = False  # True, or a JSON field's paths


@dataclass(frozen=True)
class VectorMarker:
    source_field: str | tuple[str, ...] | None
    distance: Distance
    # EmbeddingFunction (Any avoids an import cycle), or None for vectors the caller always gives
    embedding: Any
    dimensions: int | None = None  # of the vectors the caller gives (a model knows its own)
    template: str | None = None  # how several source fields are joined (see VectorSpec.compose)


def Field(  # noqa: N802 - mirrors pydantic.Field / pytidb.Field
    default: Any = PydanticUndefined,
    *,
    primary_key: bool = False,
    fulltext: bool = False,
    index: bool | Sequence[str] = False,
    **kwargs: Any,
) -> Any:
    """A table column: pydantic's `Field` plus `primary_key`, `fulltext` and `index`.

    An `int` primary key may be left out (or None): the store assigns the next one on insert.

    Usage:
        ```python
        class Product(TableModel):
            __tablename__ = "products"
            id: int = Field(primary_key=True)
            name: str = Field(fulltext=True)
            category: str = Field(index=True)
            meta: dict = Field(default_factory=dict, index=["owner_id", "owner.name"])
        ```

    Parameters:
        default: the value when a row leaves the field out.
        primary_key: the table's key (exactly one field has it).
        fulltext: a text field that full-text and hybrid searches rank by (BM25).
        index: a B-tree index, for fields that queries and searches filter on; on a JSON (`dict` or
            `list`) field, the paths inside it to index (`["owner_id", "owner.name"]`), each for the
            numbers and the strings found there, as filters such as `{"meta.owner_id": 1}` read them.
        **kwargs: pydantic's `Field` options (`default_factory=`, `ge=`, `max_length=`...).

    Returns:
        The field's default, to assign in a `TableModel` class body.

    Raises:
        SchemaError: `index` is neither a bool nor a list of paths. (What the paths may hold, and
            which fields take them, is checked when the table is made.)
    """
    info = pydantic.Field(default, **kwargs)
    if not isinstance(index, bool):
        if isinstance(index, str) or not isinstance(index, Sequence):
            raise SchemaError(f"index is True, False or a list of a JSON field's paths, got {index!r}")
        index = tuple(index)
    info.metadata.append(ColumnMarker(primary_key=primary_key, fulltext=fulltext, index=index))
    return info


# an integer key the store assigns: None passes validation and is replaced by the key on insert
_ASSIGNED_BY_STORE = pydantic.WrapValidator(
    lambda value, validate: None if value is None else validate(value)
)


class TableModel(pydantic.BaseModel):
    """Base class of table schemas; set `__tablename__` and annotate the columns."""

    model_config = pydantic.ConfigDict(extra="forbid", validate_assignment=True)
    __tablename__: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Let an `int` primary key be missing or None, as SQLModel does: the store assigns it."""
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for info in cls.model_fields.values():
            column = _marker(info, ColumnMarker)
            if not (column and column.primary_key and _is_int(info.annotation)):
                continue
            if info.is_required():
                info.default, changed = None, True
            if _ASSIGNED_BY_STORE not in info.metadata:
                info.metadata.append(_ASSIGNED_BY_STORE)
                changed = True
        if changed:
            cls.model_rebuild(force=True)


def _is_int(annotation: Any) -> bool:
    """`int` or `int | None`."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return {a for a in typing.get_args(annotation) if a is not type(None)} == {int}
    return annotation is int


@dataclass
class ColumnSpec:
    name: str
    type: ColumnType
    nullable: bool = False
    primary_key: bool = False
    fulltext: bool = False
    index: bool = False
    paths: tuple[str, ...] = ()  # of a JSON field: the paths indexed ("owner.name")


# several source fields are joined with this between them, a missing (None) or blank one left out
SOURCE_JOIN = "\n"
# the hash kept for a row that has no text to embed (every source field None or blank)
NO_TEXT_HASH = b"\x00" * 16


@dataclass
class VectorSpec:
    """A vector column; `source_field` is the text field it is embedded from (a list: several fields,
    joined by `template`, or by newlines when there is none)."""

    name: str
    source_field: str | list[str] | None
    dimensions: int
    distance: Distance
    model: str
    model_options: dict[str, Any] = field(default_factory=dict)
    template: str | None = None

    @property
    def sources(self) -> list[str]:
        """The source fields, in order ([] for vectors the caller gives)."""
        if self.source_field is None:
            return []
        return [self.source_field] if isinstance(self.source_field, str) else list(self.source_field)

    @property
    def hash_column(self) -> str | None:
        """The hidden column holding, per row, the hash of the text its vector was embedded from;
        None for a vector without a model and a source."""
        return f"_livevec_hash_{self.name}" if self.sources and self.model else None

    def compose(self, row: Mapping[str, Any]) -> str | None:
        """The text embedded for `row`: its source fields joined (by `template` if given, else one
        per line), a None or blank field left out; None when no field has text.

            VectorSpec("v", ["name", "category"], 384, "cosine", "m").compose(
                {"name": "Yoga mat", "category": None})  # "Yoga mat"
        """
        sources = self.sources
        if len(sources) == 1 and self.template is None:
            text = row.get(sources[0])
            return text if text is not None and text.strip() else None
        values = {s: row.get(s) for s in sources}
        if not any(v is not None and v.strip() for v in values.values()):
            return None
        if self.template is None:
            return SOURCE_JOIN.join(v for v in values.values() if v is not None and v.strip())
        return self.template.format_map({k: "" if v is None else v for k, v in values.items()})


@dataclass
class TableSpec:
    """What a backend needs to know about a table; round-trips through JSON."""

    name: str
    columns: list[ColumnSpec]
    vectors: list[VectorSpec]
    # vector name -> the VectorSpec a `Table.reembed` in progress is filling (see `_reembed.py`)
    reembedding: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def primary_key(self) -> ColumnSpec:
        return next(c for c in self.columns if c.primary_key)

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    def vector(self, name: str) -> VectorSpec | None:
        return next((v for v in self.vectors if v.name == name), None)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def hash_columns(self) -> list[str]:
        """The hidden hash columns of the embedded vectors (see `VectorSpec.hash_column`)."""
        return [v.hash_column for v in self.vectors if v.hash_column]

    def write_types(self) -> dict[str, str]:
        """Column types of everything a write may set: the columns and the hidden hash columns."""
        return {c.name: c.type for c in self.columns} | dict.fromkeys(self.hash_columns, "hash")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        # what an older livevec does not know is left out while unused, so that it can still open it
        for vector in data["vectors"]:
            if vector["template"] is None:
                del vector["template"]
        for column in data["columns"]:
            if not column["paths"]:
                del column["paths"]
        if not data["reembedding"]:
            del data["reembedding"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TableSpec:
        return cls(
            name=data["name"],
            columns=[ColumnSpec(**{**c, "paths": tuple(c.get("paths", ()))}) for c in data["columns"]],
            vectors=[VectorSpec(**v) for v in data["vectors"]],
            reembedding=data.get("reembedding") or {},
        )

    @classmethod
    def from_model(cls, model: type[TableModel], name: str | None = None) -> TableSpec:
        given_as = "name"
        if name is None:
            name, given_as = getattr(model, "__tablename__", None), "__tablename__"
            if name is None:
                raise SchemaError(f"{model.__name__}: set __tablename__ (or pass a table name)")
        check_table_name(name, given_as)
        columns: list[ColumnSpec] = []
        vectors: list[VectorSpec] = []
        for field_name, info in model.model_fields.items():
            if "\x00" in field_name or unstorable(field_name):
                raise ValidationError(
                    f"column name {field_name!r}: NUL or a lone surrogate", field=field_name
                )
            vector = _marker(info, VectorMarker)
            column = _marker(info, ColumnMarker) or ColumnMarker()
            nullable, ctype = _column_type(model.__name__, field_name, info.annotation)
            if vector is not None:
                if ctype != "json":  # list[float]
                    raise SchemaError(f"{model.__name__}.{field_name}: a vector field is list[float]")
                vectors.append(_vector_spec(model, field_name, vector))
                ctype, nullable = "vector", True
            index, paths = column.index, ()
            if isinstance(index, tuple):
                index, paths = False, _index_paths(model, field_name, ctype, index)
            columns.append(
                ColumnSpec(field_name, ctype, nullable, column.primary_key, column.fulltext, index, paths)
            )
        keys = [c.name for c in columns if c.primary_key]
        if len(keys) != 1:
            raise SchemaError(
                f"{model.__name__}: mark exactly one field with Field(primary_key=True), found {keys or 'none'}"
            )
        pk = columns[[c.name for c in columns].index(keys[0])]
        if pk.type not in ("int", "str"):
            raise SchemaError(f"{model.__name__}.{pk.name}: a primary key is int or str, not {pk.type}")
        for c in columns:
            if c.fulltext and c.type != "str":
                raise SchemaError(f"{model.__name__}.{c.name}: fulltext=True needs a str field")
            if c.index and c.type in ("vector", "json"):
                raise SchemaError(f"{model.__name__}.{c.name}: index=True is for fields that filters compare")
        return cls(name=name, columns=columns, vectors=vectors)


def _index_paths(model: type, field_name: str, ctype: str, paths: tuple[Any, ...]) -> tuple[str, ...]:
    """`Field(index=[...])`'s paths, checked: a SchemaError names the field and what is wrong."""
    where = f"{model.__name__}.{field_name}"
    if ctype != "json":
        raise SchemaError(f"{where}: index takes paths only on a JSON (dict or list) field; use index=True")
    if not paths:
        raise SchemaError(f"{where}: index=[] names no path; name some (['owner_id']) or use index=False")
    for path in paths:
        reason = (
            json_path_problem(path) if isinstance(path, str) else f"is a {type(path).__name__}, not a str"
        )
        if reason:
            raise SchemaError(f"{where}: index path {path!r} {reason}")
    if len(set(paths)) != len(paths):
        raise SchemaError(f"{where}: index names a path twice: {list(paths)}")
    return paths


# what a key of a path may not hold: JSON escapes it when stored, and SQLite before 3.45 compares a
# path's key with the stored key as written, escapes and all (so such a key could never be found)
_UNFINDABLE = re.compile(r'["\\\x00-\x1f]')


def json_path_problem(path: str) -> str | None:
    """Why `path` ("owner.name", the keys after a JSON field's name) can be no path, or None."""
    for key in path.split("."):
        if not key:
            return "has an empty key (two dots together, or one at an end)"
        if _UNFINDABLE.search(key):
            return f"has key {key!r}: a key of a path holds no double quote, backslash or control character"
        reason = unstorable(key)
        if reason:
            return f"has key {key!r}: {reason}"
    return None


def check_table_name(name: Any, field: str) -> None:
    """A ValidationError naming `field` unless `name` can be a user table's name on both backends."""
    if not isinstance(name, str) or not name:
        raise ValidationError(f"a table name is a non-empty str, got {name!r}", field=field)
    reason = "contains a NUL character" if "\x00" in name else unstorable(name)
    if reason is None and name.casefold().startswith(RESERVED_PREFIXES):
        reason = f"names starting with {' or '.join(RESERVED_PREFIXES)} are livevec's and SQLite's own"
    if reason:
        raise ValidationError(f"table name {name!r}: {reason}", field=field)


def shown(value: Any) -> str:
    """`repr(value)` for an error message; an integer of over 4,300 digits has none (str() refuses)."""
    try:
        return repr(value)
    except ValueError:
        return f"an integer of {value.bit_length()} bits"


def unstorable(value: Any, *, in_json: bool = False) -> str | None:
    """Why a value cannot be stored as given on both backends, or None if it can.

    Columns hold 64-bit integers (a JSON document any integer), finite floats (SQLite would store
    NaN as NULL, PostgreSQL's JSON refuses it) and text that encodes to UTF-8 (a lone surrogate
    such as "\\ud800" does not).
    """
    if isinstance(value, str):
        if not value.isascii():  # the common case costs one scan in C
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                return f"contains a lone surrogate {value[exc.start]!r}, which is not UTF-8 text"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"{value} is not a finite number"
    elif isinstance(value, int) and not isinstance(value, bool):
        if not in_json and not -INT64_MAX - 1 <= value <= INT64_MAX:
            return "the integer is outside the 64-bit range [-2**63, 2**63 - 1]"
    elif isinstance(value, Mapping):
        return next(filter(None, (unstorable(v, in_json=True) for kv in value.items() for v in kv)), None)
    elif isinstance(value, list | tuple):
        return next(filter(None, (unstorable(v, in_json=True) for v in value)), None)
    return None


def _marker(info: FieldInfo, kind: type) -> Any:
    return next((m for m in info.metadata if isinstance(m, kind)), None)


def check_sources(where: str, source: Any, template: Any) -> tuple[str | list[str] | None, str | None]:
    """`source_field` and `template` as a VectorSpec keeps them, or a SchemaError naming `where`:
    a field name or a non-empty list of distinct ones; a template names each of them, and only them."""
    if source is None:
        if template is not None:
            raise SchemaError(f"{where}: a template needs source fields")
        return None, None
    names = [source] if isinstance(source, str) else source
    if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names):
        raise SchemaError(f"{where}: source_field is a field name or a list of them, got {source!r}")
    if len(set(names)) != len(names):
        raise SchemaError(f"{where}: source_field names a field twice: {list(names)}")
    if template is not None:
        if not isinstance(template, str):
            raise SchemaError(f"{where}: template is a str such as '{{name}}\\n{{description}}'")
        try:
            used = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
            template.format_map(dict.fromkeys(names, ""))
        except (ValueError, KeyError, IndexError) as exc:
            raise SchemaError(
                f"{where}: template {template!r} is not a format string of the source fields ({exc})"
            ) from None
        if used != set(names):
            raise SchemaError(
                f"{where}: template {template!r} must name each source field once as {{field}}: "
                f"{sorted(set(names) - used) or sorted(used - set(names))}"
            )
    return (source if isinstance(source, str) else list(names)), template


def _vector_spec(model: type, field_name: str, marker: VectorMarker) -> VectorSpec:
    where = f"{model.__name__}.{field_name}"
    source, template = check_sources(where, marker.source_field, marker.template)
    for name in [source] if isinstance(source, str) else source or []:
        src = model.model_fields.get(name)
        if src is None:
            raise SchemaError(f"{where}: source_field {name!r} is not a field")
        if _column_type(model.__name__, name, src.annotation)[1] != "str":
            raise SchemaError(f"{where}: source_field {name!r} must be str")
    fn = marker.embedding
    if fn is None:  # no model: the caller gives every vector, searches are by vector
        return VectorSpec(field_name, None, marker.dimensions, marker.distance, model="")
    return VectorSpec(
        name=field_name,
        source_field=source,
        dimensions=fn.dimensions,
        distance=marker.distance,
        model=fn.model_name,
        model_options=fn.stored_options(),
        template=template,
    )


_SCALARS: dict[Any, ColumnType] = {
    int: "int",
    float: "float",
    str: "str",
    bool: "bool",
    dt.datetime: "datetime",
    dt.date: "date",
}


def _column_type(model: str, name: str, annotation: Any) -> tuple[bool, ColumnType]:
    """(nullable, column type) of an annotation such as `int`, `str | None` or `list[str]`."""
    nullable = False
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            raise SchemaError(f"{model}.{name}: unions other than `X | None` are not supported")
        annotation = args[0]
    if annotation in _SCALARS:
        return nullable, _SCALARS[annotation]
    if typing.get_origin(annotation) in (list, dict) or annotation in (list, dict):
        return nullable, "json"
    raise SchemaError(f"{model}.{name}: unsupported type {annotation!r}")


_PYTHON_TYPES: dict[str, Any] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "datetime": dt.datetime,
    "date": dt.date,
    "json": Any,
    "vector": list[float],
}


def model_from_spec(spec: TableSpec) -> type[TableModel]:
    """A TableModel class rebuilt from a stored spec (for tables opened by name)."""
    fields: dict[str, Any] = {}
    for c in spec.columns:
        annotation = _PYTHON_TYPES[c.type]
        if c.nullable or c.type == "vector":
            annotation = annotation | None
        default = None if (c.nullable or c.type == "vector") else PydanticUndefined
        info = Field(
            default,
            primary_key=c.primary_key,
            fulltext=c.fulltext,
            index=list(c.paths) or c.index,
            repr=c.type != "vector",
        )
        fields[c.name] = (annotation, info)
    class_name = "".join(p.capitalize() for p in spec.name.split("_")) or "Row"
    model = pydantic.create_model(class_name, __base__=TableModel, **fields)
    model.__tablename__ = spec.name
    return model
