"""livevec: tables that embed their text automatically, with similarity search that is always fresh."""

from ._copy import copy_table
from ._database import Database, SQLResult, connect
from ._errors import (
    ChangeLogGapError,
    DatabaseClosedError,
    DuplicateKeyError,
    EmbeddingError,
    FilterError,
    LivevecError,
    SchemaError,
    StorageError,
    TableExistsError,
    TableNotFoundError,
    TruncationWarning,
    ValidationError,
)
from ._schema import Field, TableModel
from ._table import Reembedding, Table
from .embeddings import EmbeddingFunction, EmbeddingProvider, register_provider
from .live import LiveResult
from .recommend import Recommendation, Recommender
from .search import QueryResult, Search, SearchHit
from .storage import Change, IndexOptions

__version__ = "0.1.0"

__all__ = [
    "Change",
    "ChangeLogGapError",
    "Database",
    "DatabaseClosedError",
    "DuplicateKeyError",
    "EmbeddingError",
    "EmbeddingFunction",
    "EmbeddingProvider",
    "Field",
    "FilterError",
    "IndexOptions",
    "LiveResult",
    "LivevecError",
    "QueryResult",
    "Recommendation",
    "Recommender",
    "Reembedding",
    "SQLResult",
    "SchemaError",
    "Search",
    "SearchHit",
    "StorageError",
    "Table",
    "TableExistsError",
    "TableModel",
    "TableNotFoundError",
    "TruncationWarning",
    "ValidationError",
    "connect",
    "copy_table",
    "register_provider",
]
