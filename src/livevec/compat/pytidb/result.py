"""What pytidb's raw SQL calls return: `SQLExecuteResult` and `SQLQueryResult`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from ..._errors import LivevecError

if TYPE_CHECKING:
    import pandas

    from ..._database import SQLResult


class SQLExecuteResult(pydantic.BaseModel):
    """`client.execute(...)`: rows changed, and whether the statement ran (`message` says why not)."""

    rowcount: int = 0
    success: bool = False
    message: str | None = None


class SQLQueryResult:
    """`client.query(...)`: the rows as dicts, tuples, pydantic models or a DataFrame, or one value."""

    def __init__(self, result: SQLResult) -> None:
        self._result = result

    def scalar(self) -> Any:
        """The first column of the first row, or None when there is no row."""
        return self._result.rows[0][0] if self._result.rows else None

    def one(self) -> tuple:
        if len(self._result.rows) != 1:
            raise LivevecError(f"expected exactly one row, got {len(self._result.rows)}")
        return self._result.rows[0]

    def to_rows(self) -> list[tuple]:
        return list(self._result.rows)

    def to_list(self) -> list[dict[str, Any]]:
        return self._result.to_list()

    def to_pandas(self) -> pandas.DataFrame:
        return self._result.to_pandas()

    def to_pydantic(self, model: type[pydantic.BaseModel]) -> list[pydantic.BaseModel]:
        return [model.model_validate(row) for row in self._result]


__all__ = ["SQLExecuteResult", "SQLQueryResult"]
