"""SQLModel's `Relationship` on livevec tables: the related rows, read when the attribute is read.

    class Chunk(TableModel, table=True):
        id: int = Field(primary_key=True)
        user_id: int = Field(foreign_key="users.id")
        user: User = Relationship()                       # many-to-one: the User whose id is user_id

    class User(TableModel, table=True):
        id: int = Field(primary_key=True)
        chunks: list[Chunk] = Relationship()              # one-to-many: the chunks whose user_id is id

The join is SQLAlchemy's `primaryjoin` ("Chunk.user_id == User.id") when given in
`sa_relationship_kwargs`, else the `foreign_key` between the two classes. The attribute is not a
column: it is read from the table of the client that returned the row (None, or [], for a row
that no table returned), and cannot be assigned. `foreign_key` names the join; livevec's stores
do not enforce it.
"""

from __future__ import annotations

import re
import sys
import types
import typing
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..._errors import SchemaError

if TYPE_CHECKING:
    from ..._database import Database

# the database each model class was last created or opened on, through a compat client
_databases: weakref.WeakKeyDictionary[type, Database] = weakref.WeakKeyDictionary()
_JOIN = re.compile(r"^\s*(\w+)\.(\w+)\s*==\s*(\w+)\.(\w+)\s*$")


@dataclass(frozen=True)
class ForeignKey:
    """Field metadata: `Field(foreign_key="table.column")`."""

    table: str
    column: str

    @classmethod
    def parse(cls, target: Any) -> ForeignKey:
        table, dot, column = str(target).rpartition(".")
        if not isinstance(target, str) or not dot or not table or not column:
            raise SchemaError(f"foreign_key={target!r}: give 'table.column'")
        return cls(table, column)


def bind(model: type, database: Database) -> None:
    """Rows of `model` read their relationships from `database`."""
    _databases[model] = database


class RelationshipInfo:
    """What `Relationship(...)` declares; the class body turns it into a `RelationshipProperty`."""

    def __init__(
        self, *, back_populates: str | None = None, sa_relationship_kwargs: dict | None = None
    ) -> None:
        kwargs = dict(sa_relationship_kwargs or {})
        self.back_populates = back_populates
        self.primaryjoin = kwargs.pop("primaryjoin", None)
        if self.primaryjoin is not None and (
            not isinstance(self.primaryjoin, str) or not _JOIN.match(self.primaryjoin)
        ):
            raise SchemaError(
                f"primaryjoin={self.primaryjoin!r}: livevec reads a join of two columns, 'Owner.column == Other.column'"
            )
        kwargs.pop("lazy", None)  # every read loads the related rows
        if kwargs:
            raise SchemaError(
                f"sa_relationship_kwargs {sorted(kwargs)}: livevec reads primaryjoin and lazy only"
            )


class RelationshipProperty(property):
    """The attribute a `Relationship` becomes (a property, which pydantic leaves out of the fields)."""

    def __init__(self, name: str, annotation: Any, info: RelationshipInfo) -> None:
        super().__init__(self._load)
        self.name = name
        self.annotation = annotation
        self.info = info

    def _load(self, instance: Any) -> Any:
        owner = type(instance)
        target, many = self._target(owner)
        database = _databases.get(owner)
        local, remote = self._join(owner, target)
        value = getattr(instance, local)
        if database is None or value is None:
            return [] if many else None
        rows = database.open_table(target.__tablename__, schema=target).query({remote: value}).to_pydantic()
        return rows if many else (rows[0] if rows else None)

    def _target(self, owner: type) -> tuple[type, bool]:
        """The related class, and whether the attribute holds a list of its rows."""
        annotation = self.annotation
        if isinstance(annotation, str):  # a postponed annotation: "User", "list[Chunk]", "User | None"
            text = re.sub(r"\s*\|\s*None$|^Optional\[(.*)\]$", r"\1", annotation.strip())
            many = re.match(r"^(?:list|List)\[(.*)\]$", text)
            name = (many.group(1) if many else text).strip("'\" ")
            found = vars(sys.modules[owner.__module__]).get(name)
            return self._checked(owner, found), bool(many)
        many = typing.get_origin(annotation) is list
        if many:
            (annotation,) = typing.get_args(annotation)
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            (annotation,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return self._checked(owner, annotation), many

    def _checked(self, owner: type, target: Any) -> type:
        if not isinstance(target, type) or not hasattr(target, "__tablename__"):
            raise SchemaError(
                f"{owner.__name__}.{self.name}: a relationship is annotated with a table's class, "
                f"got {self.annotation!r}"
            )
        return target

    def _join(self, owner: type, target: type) -> tuple[str, str]:
        """(the owner's column, the target's column) that must be equal."""
        if self.info.primaryjoin:
            left_class, left, right_class, right = _JOIN.match(self.info.primaryjoin).groups()
            if left_class == owner.__name__:
                return left, right
            if right_class == owner.__name__:
                return right, left
            raise SchemaError(
                f"{owner.__name__}.{self.name}: primaryjoin {self.info.primaryjoin!r} does not name {owner.__name__}"
            )
        for name, field in owner.model_fields.items():
            key = next((m for m in field.metadata if isinstance(m, ForeignKey)), None)
            if key is not None and key.table == target.__tablename__:
                return name, key.column
        for name, field in target.model_fields.items():
            key = next((m for m in field.metadata if isinstance(m, ForeignKey)), None)
            if key is not None and key.table == owner.__tablename__:
                return key.column, name
        raise SchemaError(
            f"{owner.__name__}.{self.name}: no foreign_key between {owner.__tablename__} and {target.__tablename__}, "
            "and no primaryjoin"
        )
