"""One exception hierarchy for everything livevec raises on purpose."""

from __future__ import annotations


class LivevecError(Exception):
    """Base class of every error livevec raises."""


class SchemaError(LivevecError):
    """A TableModel that cannot become a table (no primary key, unsupported type...)."""


class TableNotFoundError(LivevecError):
    """The named table does not exist."""


class TableExistsError(LivevecError):
    """create_table(if_exists="fail") found a table of that name."""


class ValidationError(LivevecError):
    """Bad input to a call; `field` names what was wrong (None when it is the call itself).

    Nothing is written when it is raised.

    Usage:
        ```python
        try:
            table.insert({"id": 1, "price": float("nan")})
        except livevec.ValidationError as error:
            print(error.field)          # "price"
        ```

    Parameters:
        message: what was wrong.
        field: the field, argument or filter path that was wrong; kept as the `field` attribute.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)


class DuplicateKeyError(ValidationError):
    """An insert brought a primary key that is already in the table (or twice in the batch)."""


class FilterError(ValidationError):
    """A filter names an unknown field, an unknown operator or a value of the wrong kind."""


class EmbeddingError(LivevecError):
    """The embedding model is missing, failed, or returned vectors of the wrong shape."""


class StorageError(LivevecError):
    """The storage backend failed (cannot open the file, connection lost...)."""


class DatabaseClosedError(StorageError):
    """The database (or the handle on it) was closed: open it again with `livevec.connect()`."""


class ChangeLogGapError(LivevecError):
    """The change log no longer holds entries a follower needs: they were pruned.

    A follower that catches this must start over from the tables (evaluate again what it derived
    from them), then go on from the newest change.

    Parameters:
        since: the position the follower asked to continue from (kept as `since`).
        pruned_through: the newest position the log has forgotten (kept as `pruned_through`).
    """

    def __init__(self, since: int, pruned_through: int) -> None:
        self.since = since
        self.pruned_through = pruned_through
        super().__init__(
            f"the change log was pruned through {pruned_through}, past position {since}: "
            "changes after it are gone; evaluate again from the tables"
        )


class TruncationWarning(UserWarning):
    """Texts were longer than the embedding model's window: only their first tokens were embedded."""
