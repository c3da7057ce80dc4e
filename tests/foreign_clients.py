"""What another client can do to a livevec database behind its back."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def delete_without_a_log_entry(path: str | Path, table: str, where: str) -> None:
    """Drop livevec's delete trigger on `table`, then delete the rows `where` keeps (SQL): the change
    log never hears of it, so the index still holds them (ghosts)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        (trigger,) = other.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '_livevec_delete:%'"
        ).fetchone()
        other.execute(f'DROP TRIGGER "{trigger}"')
        other.execute(f'DELETE FROM "{table}" WHERE {where}')
    finally:
        other.close()
