"""pytidb's API on livevec: code written for pytidb runs with its imports changed from `pytidb` to
`livevec.compat.pytidb` and a livevec URL given to `TiDBClient.connect`.

    from livevec.compat.pytidb import TiDBClient
    from livevec.compat.pytidb.schema import TableModel, Field
    from livevec.compat.pytidb.embeddings import EmbeddingFunction

    db = TiDBClient.connect("shop.db")      # a SQLite file, or "postgresql://user:pass@host/db"

What only TiDB (or a hosted service) does raises `NotSupportedError`, a `LivevecError` that says what
to use instead. The docs' guide "Coming from pytidb" (docs/guides/pytidb.md) lists what differs.
"""

from ._errors import NotSupportedError
from .client import Session, TiDBClient
from .search import SearchResult
from .table import Table

__all__ = ["NotSupportedError", "SearchResult", "Session", "Table", "TiDBClient"]
