"""pytidb's `Table` over a livevec table: the same calls, with pytidb's defaults.

Where they differ from livevec's: `update` and `delete` without filters touch every row (livevec asks
for `{}`), `insert` takes one row and `bulk_insert` a list, `save` is livevec's `upsert`. Filters are
dicts or SQL conditions (`"user_id in (1, 2)"`), as livevec's (`livevec.sql_filters`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._errors import ValidationError
from .schema import ColumnInfo
from .search import Search

if TYPE_CHECKING:
    from ... import QueryResult
    from ... import Table as _Table
    from ..._schema import TableModel
    from ...filters import Filters
    from .client import TiDBClient

# livevec's column types under the names pytidb's columns() reports
_SQL_NAMES = {
    "int": "BIGINT",
    "float": "DOUBLE",
    "str": "TEXT",
    "bool": "BOOLEAN",
    "datetime": "DATETIME",
    "date": "DATE",
    "json": "JSON",
}


class Table:
    """A table of a `TiDBClient`; `table.table` is the livevec `Table` underneath."""

    def __init__(self, client: TiDBClient, table: _Table) -> None:
        self._client = client
        self.table = table

    def __repr__(self) -> str:
        return f"<pytidb-compatible Table {self.table_name!r}>"

    @property
    def table_model(self) -> type[TableModel]:
        return self.table.model

    @property
    def table_name(self) -> str:
        return self.table.name

    @property
    def client(self) -> TiDBClient:
        return self._client

    def rows(self) -> int:
        return self.table.count()

    def columns(self) -> list[ColumnInfo]:
        return [
            ColumnInfo(
                column_name=c.name,
                column_type=f"VECTOR({self.table.spec.vector(c.name).dimensions})"
                if c.type == "vector"
                else _SQL_NAMES[c.type],
            )
            for c in self.table.spec.columns
        ]

    # --- writes -------------------------------------------------------------------------------

    def insert(self, data: TableModel | Mapping[str, Any]) -> TableModel:
        """Add one row (embedding its text); returns it with its key, assigned if left out."""
        return self.table.insert(_one_row(data))

    def save(self, data: TableModel | Mapping[str, Any]) -> TableModel:
        """Insert the row, or replace the row with its key."""
        return self.table.upsert(_one_row(data))

    def bulk_insert(self, data: Sequence[TableModel | Mapping[str, Any]]) -> list[TableModel]:
        """Add rows, all or none, embedding their texts in batches."""
        if not isinstance(data, list):
            raise ValidationError(f"expected a list of rows, got {type(data).__name__}", field="data")
        return self.table.insert(data)

    def update(self, values: Mapping[str, Any], filters: Filters | None = None) -> int:
        """Set `values` on the rows matching `filters` (every row without filters); returns how many."""
        return self.table.update(values, {} if filters is None else filters)

    def delete(self, filters: Filters | None = None) -> int:
        """Remove the rows matching `filters` (every row without filters); returns how many."""
        return self.table.delete({} if filters is None else filters)

    def truncate(self) -> None:
        self.table.delete({})

    # --- reads --------------------------------------------------------------------------------

    def get(self, id: Any) -> TableModel | None:
        return self.table.get(id)

    def query(
        self,
        filters: Filters | None = None,
        order_by: str | Sequence[str] | Mapping[str, str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> QueryResult:
        """Rows matching `filters`; `order_by` is a field, a list of them, or {field: "asc" | "desc"}."""
        if isinstance(order_by, Mapping):
            for direction in order_by.values():
                if direction not in ("asc", "desc"):
                    raise ValidationError(f"must be 'asc' or 'desc', got {direction!r}", field="order_by")
            order_by = [("-" if d == "desc" else "") + name for name, d in order_by.items()]
        return self.table.query(filters, order_by=order_by, limit=limit, offset=offset or 0)

    def search(self, query: Any = None, search_type: str = "vector") -> Search:
        """Rows ranked for a text, a vector or `{"query": text, "query_vector": vector}`."""
        if isinstance(query, Mapping):
            return Search(self.table, search_type, query.get("query"), query.get("query_vector"))
        if isinstance(query, str) or query is None:
            return Search(self.table, search_type, _text=query)
        if isinstance(query, Sequence | np.ndarray):
            return Search(self.table, search_type, _vector=query)
        raise ValidationError(f"expected a text or a vector, got {type(query).__name__}", field="query")


def _one_row(data: Any) -> Any:
    if isinstance(data, Sequence) and not isinstance(data, str):
        raise ValidationError("insert() and save() take one row: bulk_insert() takes a list", field="data")
    return data
