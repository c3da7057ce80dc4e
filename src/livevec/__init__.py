"""livevec: tables that embed their text automatically, with similarity search that is always fresh."""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, for type checkers and editors; at run time they load on first use
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

# where each public name lives: `import livevec` loads none of it, so a command that needs little
# (`livevec --help`) starts at once, and each name's module is imported the first time it is used
_WHERE = {
    "Change": ".storage",
    "ChangeLogGapError": "._errors",
    "Database": "._database",
    "DatabaseClosedError": "._errors",
    "DuplicateKeyError": "._errors",
    "EmbeddingError": "._errors",
    "EmbeddingFunction": ".embeddings",
    "EmbeddingProvider": ".embeddings",
    "Field": "._schema",
    "FilterError": "._errors",
    "IndexOptions": ".storage",
    "LiveResult": ".live",
    "LivevecError": "._errors",
    "QueryResult": ".search",
    "Recommendation": ".recommend",
    "Recommender": ".recommend",
    "Reembedding": "._table",
    "SQLResult": "._database",
    "SchemaError": "._errors",
    "Search": ".search",
    "SearchHit": ".search",
    "StorageError": "._errors",
    "Table": "._table",
    "TableExistsError": "._errors",
    "TableModel": "._schema",
    "TableNotFoundError": "._errors",
    "TruncationWarning": "._errors",
    "ValidationError": "._errors",
    "connect": "._database",
    "copy_table": "._copy",
    "register_provider": ".embeddings",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'livevec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once: later uses find it without this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


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
