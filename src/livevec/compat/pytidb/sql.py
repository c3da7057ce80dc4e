"""pytidb's `pytidb.sql`: SQLAlchemy's statement builders, for code that builds SQL with them
(livevec[compat] brings SQLAlchemy). Run such statements on `client.db_engine`."""

from __future__ import annotations

try:
    from sqlalchemy import and_, asc, delete, desc, func, insert, not_, or_, select, text, update
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "livevec.compat.pytidb.sql re-exports SQLAlchemy's builders: pip install 'livevec[compat]'"
    ) from exc

__all__ = ["and_", "asc", "delete", "desc", "func", "insert", "not_", "or_", "select", "text", "update"]
