"""pytidb's `Table` over a livevec table: the same calls, with pytidb's defaults.

Where they differ from livevec's: `update` and `delete` without filters touch every row (livevec asks
for `{}`), `insert` takes one row and `bulk_insert` a list, `save` is livevec's `upsert`.
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
    """A table of a `TiDBClient`; `table.table` is the livevec `Table` underneath.

    Parameters:
        client: the client it was opened by.
        table: the livevec table.
    """

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
        """How many rows the table has.

        Returns:
            The number of rows.
        """
        return self.table.count()

    def columns(self) -> list[ColumnInfo]:
        """The table's columns with their SQL types, as pytidb reports them.

        Returns:
            One `ColumnInfo` (`column_name`, `column_type`) per column.
        """
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
        """Add one row, embedding its text.

        Parameters:
            data: the row, a model instance or a dict.

        Returns:
            The row as stored, with its key (assigned if left out).
        """
        return self.table.insert(_one_row(data))

    def save(self, data: TableModel | Mapping[str, Any]) -> TableModel:
        """Insert the row, or replace the row with its key.

        Parameters:
            data: the row, a model instance or a dict.

        Returns:
            The row as stored.
        """
        return self.table.upsert(_one_row(data))

    def bulk_insert(self, data: Sequence[TableModel | Mapping[str, Any]]) -> list[TableModel]:
        """Add rows, all or none, embedding their texts in batches.

        Parameters:
            data: a list of rows.

        Returns:
            The rows as stored, with their keys.

        Raises:
            ValidationError: `data` is not a list, or a row does not fit the table.
        """
        if not isinstance(data, list):
            raise ValidationError(f"expected a list of rows, got {type(data).__name__}", field="data")
        return self.table.insert(data)

    def update(self, values: Mapping[str, Any], filters: Mapping[str, Any] | None = None) -> int:
        """Set `values` on the rows matching `filters`; re-embed where a source text changes.

        Parameters:
            values: field name to new value.
            filters: the rows to change; every row without filters.

        Returns:
            How many rows were changed.
        """
        return self.table.update(values, {} if filters is None else filters)

    def delete(self, filters: Mapping[str, Any] | None = None) -> int:
        """Remove the rows matching `filters`.

        Parameters:
            filters: the rows to remove; every row without filters.

        Returns:
            How many rows were removed.
        """
        return self.table.delete({} if filters is None else filters)

    def truncate(self) -> None:
        """Remove every row."""
        self.table.delete({})

    # --- reads --------------------------------------------------------------------------------

    def get(self, id: Any) -> TableModel | None:
        """The row with this primary key.

        Parameters:
            id: the primary key.

        Returns:
            The row, or None when there is none.
        """
        return self.table.get(id)

    def query(
        self,
        filters: Mapping[str, Any] | None = None,
        order_by: str | Sequence[str] | Mapping[str, str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> QueryResult:
        """Rows matching `filters`, in order, a page at a time.

        Parameters:
            filters: a dict in the filter language (`{"price": {"$lt": 50}}`); every row without it.
            order_by: a field, a list of them ("-price" descending), or `{field: "asc" | "desc"}`.
            limit: at most this many rows.
            offset: rows skipped first.

        Returns:
            A `QueryResult`: `to_list()`, `to_pandas()`, `to_pydantic()`.

        Raises:
            ValidationError: a direction that is neither "asc" nor "desc".
        """
        if isinstance(order_by, Mapping):
            for direction in order_by.values():
                if direction not in ("asc", "desc"):
                    raise ValidationError(f"must be 'asc' or 'desc', got {direction!r}", field="order_by")
            order_by = [("-" if d == "desc" else "") + name for name, d in order_by.items()]
        return self.table.query(filters, order_by=order_by, limit=limit, offset=offset or 0)

    def search(self, query: Any = None, search_type: str = "vector") -> Search:
        """Rows ranked for a text, a vector or `{"query": text, "query_vector": vector}`.

        Usage:
            ```python
            table.search("a user likes sports").distance_threshold(0.85).limit(5).to_list()
            ```

        Parameters:
            query: a text, a vector, a dict of both, or None to give them with `.text()` / `.vector()`.
            search_type: "vector", "fulltext" or "hybrid".

        Returns:
            pytidb's generative search builder.

        Raises:
            ValidationError: `query` is neither a text nor a vector.
        """
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
