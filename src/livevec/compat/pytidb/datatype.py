"""pytidb's column type names, for `Field(sa_type=TEXT)`: each stands for a livevec column type.

livevec takes a column's type from the field's annotation; `sa_type` must agree with it (`TEXT` on a
`str` field, `JSON` on a `dict`...). Types livevec cannot store (binary, time of day) raise
`SchemaError` where they are used.

    from livevec.compat.pytidb.datatype import TEXT
    name: str = Field(sa_type=TEXT)
"""

from __future__ import annotations

from typing import Any


class SQLType:
    """A type name, usable as is (`TEXT`) or with its SQL arguments (`VARCHAR(255)`, ignored)."""

    column_type: str | None = None  # livevec's type; None: livevec cannot store it

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args


def _type(name: str, column_type: str | None) -> type[SQLType]:
    return type(name, (SQLType,), {"column_type": column_type, "__module__": __name__})


BIGINT, BIT, INTEGER, INT, MEDIUMINT, SMALLINT, TINYINT, YEAR = (
    _type(n, "int") for n in ("BIGINT", "BIT", "INTEGER", "INT", "MEDIUMINT", "SMALLINT", "TINYINT", "YEAR")
)
# DECIMAL and NUMERIC become floats: livevec keeps no exact decimals
DECIMAL, DOUBLE, FLOAT, NUMERIC, REAL = (
    _type(n, "float") for n in ("DECIMAL", "DOUBLE", "FLOAT", "NUMERIC", "REAL")
)
CHAR, ENUM, LONGTEXT, MEDIUMTEXT, NCHAR, NVARCHAR, SET, TEXT, TINYTEXT, VARCHAR = (
    _type(n, "str")
    for n in (
        "CHAR",
        "ENUM",
        "LONGTEXT",
        "MEDIUMTEXT",
        "NCHAR",
        "NVARCHAR",
        "SET",
        "TEXT",
        "TINYTEXT",
        "VARCHAR",
    )
)
BINARY, BLOB, LONGBLOB, MEDIUMBLOB, TINYBLOB, VARBINARY, TIME = (
    _type(n, None) for n in ("BINARY", "BLOB", "LONGBLOB", "MEDIUMBLOB", "TINYBLOB", "VARBINARY", "TIME")
)
DATE = _type("DATE", "date")
DATETIME, TIMESTAMP = _type("DATETIME", "datetime"), _type("TIMESTAMP", "datetime")
JSON = _type("JSON", "json")
BOOLEAN = _type("BOOLEAN", "bool")
VECTOR = _type("VECTOR", "vector")  # VECTOR(dimensions); declare such fields with VectorField

__all__ = [
    "BIGINT",
    "BINARY",
    "BIT",
    "BLOB",
    "BOOLEAN",
    "CHAR",
    "DATE",
    "DATETIME",
    "DECIMAL",
    "DOUBLE",
    "ENUM",
    "FLOAT",
    "INT",
    "INTEGER",
    "JSON",
    "LONGBLOB",
    "LONGTEXT",
    "MEDIUMBLOB",
    "MEDIUMINT",
    "MEDIUMTEXT",
    "NCHAR",
    "NUMERIC",
    "NVARCHAR",
    "REAL",
    "SET",
    "SMALLINT",
    "TEXT",
    "TIME",
    "TIMESTAMP",
    "TINYBLOB",
    "TINYINT",
    "TINYTEXT",
    "VARBINARY",
    "VARCHAR",
    "VECTOR",
    "YEAR",
]
