"""pytidb's `Table` over a livevec table: the same calls, with pytidb's defaults.

Where they differ from livevec's: `update` and `delete` without filters touch every row (livevec asks
for `{}`), `insert` takes one row and `bulk_insert` a list, `save` is livevec's `upsert`. Filters are
dicts or SQL conditions (`"user_id in (1, 2)"`), as livevec's (`livevec.sql_filters`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._errors import ValidationError
from ._errors import ArgumentError, NotSupportedError
from .expressions import livevec_filters, sa_table
from .orm.distance_metric import validate_distance_metric
from .relationships import bind
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
    """A table of a `TiDBClient`; `table.table` is the livevec `Table` underneath.

    Parameters:
        client: the client it was opened by.
        table: the livevec table.
    """

    def __init__(self, client: TiDBClient, table: _Table) -> None:
        self._client = client
        self.table = table
        bind(table.model, client.database)  # its rows read their relationships from this database

    def __repr__(self) -> str:
        return f"<pytidb-compatible Table {self.table_name!r}>"

    @property
    def table_model(self) -> type[TableModel]:
        return self.table.model

    @property
    def _sa_table(self) -> Any:
        """pytidb's private name, which its tests use: the SQLAlchemy `Table` standing for this one
        (livevec[compat])."""
        return sa_table(self.table.model)

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

    # --- indexes ------------------------------------------------------------------------------
    # livevec indexes every vector field (HNSW) and builds the full-text index with the table

    def has_vector_index(self, column_name: str) -> bool:
        """Whether `column_name` has a vector index: True for every vector field.

        Parameters:
            column_name: the field asked about.

        Returns:
            True if it is a vector field.
        """
        return self.table.spec.vector(column_name) is not None

    def create_vector_index(self, column_name: str, name: str | None = None, **kwargs: Any) -> None:
        """pytidb's experimental call (it warns, as pytidb does): the vector field is indexed
        already, by the distance it was declared with; another `distance_metric` is an error.

        Parameters:
            column_name: the vector field.
            name: the index's name in pytidb; unused.
            kwargs: pytidb's options; `distance_metric` must be the field's own.

        Raises:
            ArgumentError: (a `ValueError`) not a vector field, or another distance.
        """
        warnings.warn(
            "table.create_vector_index() is an experimental API, use VectorField instead.", stacklevel=2
        )
        vector = self.table.spec.vector(column_name)
        if vector is None:
            raise ArgumentError(f"Invalid vector column: {column_name}", field="column_name")
        metric = kwargs.get("distance_metric")
        if metric is not None and validate_distance_metric(metric).value.lower() != vector.distance:
            raise ArgumentError(
                f"{column_name} is indexed by {vector.distance.upper()} distance, declared with the field",
                field="distance_metric",
            )

    def has_fts_index(self, column_name: str) -> bool:
        """Whether `column_name` is in the table's full-text index.

        Parameters:
            column_name: the field asked about.

        Returns:
            True if it is a full-text field.
        """
        return any(c.name == column_name and c.fulltext for c in self.table.spec.columns)

    def create_fts_index(self, column_name: str, name: str | None = None, if_exists: str = "raise") -> None:
        """pytidb's experimental call (it warns, as pytidb does). livevec builds the full-text index
        with the table: a field in it is left as is with `if_exists="skip"`.

        Parameters:
            column_name: the text field.
            name: the index's name in pytidb; unused.
            if_exists: "raise" or "skip", for a field indexed already.

        Raises:
            ArgumentError: the field is indexed already (and `if_exists="raise"`), or not a text field.
            NotSupportedError: the field is not in the index: declare it `FullTextField()`.
        """
        warnings.warn(
            "table.create_fts_index() is an experimental API, use FullTextField instead.", stacklevel=2
        )
        if if_exists not in ("raise", "skip"):
            raise ArgumentError(f"must be 'raise' or 'skip', got {if_exists!r}", field="if_exists")
        column = next((c for c in self.table.spec.columns if c.name == column_name), None)
        if column is None or column.type != "str":
            raise ArgumentError(f"Invalid text column: {column_name}", field="column_name")
        if column.fulltext:
            if if_exists == "raise":
                raise ArgumentError(f"{column_name} has a full-text index already", field="column_name")
            return
        raise NotSupportedError(
            f"adding {column_name} to the full-text index of a table with rows: livevec builds it with the "
            "table; declare the field FullTextField() (or FullTextIndex in __table_args__)"
        )

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

    def update(self, values: Mapping[str, Any], filters: Filters | Any = None) -> int:
        """Set `values` on the rows matching `filters`; re-embed where a source text changes.

        Parameters:
            values: field name to new value.
            filters: the rows to change (a dict, a SQL condition or an SQLAlchemy expression);
                every row without filters.

        Returns:
            How many rows were changed.
        """
        return self.table.update(values, {} if filters is None else livevec_filters(filters))

    def delete(self, filters: Filters | Any = None) -> int:
        """Remove the rows matching `filters`.

        Parameters:
            filters: the rows to remove (a dict, a SQL condition or an SQLAlchemy expression);
                every row without filters.

        Returns:
            How many rows were removed.
        """
        return self.table.delete({} if filters is None else livevec_filters(filters))

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
        filters: Filters | Any = None,
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
        return self.table.query(livevec_filters(filters), order_by=order_by, limit=limit, offset=offset or 0)

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
