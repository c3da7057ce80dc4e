"""A vector column's HNSW graph saved beside the SQLite file, and read back only if it can be trusted.

The file (`<db>.livevec-index/<table>.<column>.usearch`, and its `.json` metadata) records the
change-log position the graph reflects, its row count, the options it was built with and a BLAKE2
checksum keyed with a secret kept in the database, so a file damaged in any way, written for another
database or column, or restored beside an older copy of the database fails a check and is rebuilt
from the table instead. Saves and loads of one folder are serialised across processes by a lock
file; what a killed save left behind is deleted under it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote as url_quote

from .vector_index import HnswIndex

logger = logging.getLogger("livevec")

_FORMAT = 2


class GraphFile:
    """Where one column's graph is saved, and the checks a saved graph must pass to be used."""

    def __init__(
        self,
        directory: Path | None,
        table: str,
        column: str,
        options: dict[str, Any],
        key: bytes | None,
    ) -> None:
        """`directory`: the folder beside the database (None: in memory only); `options`: what the
        graph was built with, which a saved graph must match; `key`: the database's secret (None:
        never saved)."""
        stem = ".".join(url_quote(name, safe="").replace(".", "%2E") for name in (table, column))
        self.path = directory / f"{stem}.usearch" if directory else None
        self._names = (table, column)
        self._identity = {"format": _FORMAT, "table": table, "column": column, **options}
        self._key = key

    @property
    def usable(self) -> bool:
        """Can graphs of this column be saved at all (a file database, persistence on)?"""
        return self.path is not None and self._key is not None

    @property
    def _meta_path(self) -> Path:
        assert self.path is not None
        return self.path.with_suffix(".json")

    @contextlib.contextmanager
    def _locked(self, exclusive: bool) -> Iterator[None]:
        """Serialise savers and readers of the files across processes; while held, no save is
        under way, so a temporary file is what a killed save left behind."""
        assert self.path is not None
        self.path.parent.mkdir(exist_ok=True)
        with open(self.path.parent / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            try:
                for temp in self.path.parent.glob(f"{self.path.stem}.*.tmp*"):
                    temp.unlink(missing_ok=True)
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def save(self, graph: HnswIndex, at: tuple[int, tuple[str, float]]) -> bool:
        """Write `graph`, which reflects the log entry `at` (seq, (table, time)); False (and a
        warning) if the folder cannot be written."""
        if not self.usable:
            return False
        assert self.path is not None and self._key is not None
        try:
            with self._locked(exclusive=True):
                temp = Path(f"{self.path}.tmp{os.getpid()}")
                graph.save(temp)
                meta = {
                    **self._identity,
                    "seq": at[0],
                    "seq_table": at[1][0],
                    "seq_at": at[1][1],
                    "count": len(graph),
                    "mac": _mac(temp, self._key),
                }
                temp_meta = Path(f"{self._meta_path}.tmp{os.getpid()}")
                temp_meta.write_text(json.dumps(meta))
                # the graph is replaced first: a crash between the two leaves a graph whose MAC
                # does not match the old metadata, which is rebuilt, never trusted
                os.replace(temp, self.path)
                os.replace(temp_meta, self._meta_path)
        except OSError as exc:
            logger.warning(
                "livevec: cannot save the index of %s.%s in %s (%s); it stays in memory only",
                *self._names,
                self.path.parent,
                exc,
            )
            return False
        return True

    def load(
        self, conn: sqlite3.Connection, new_graph: Callable[[], HnswIndex]
    ) -> tuple[HnswIndex, int, tuple[str, float]] | None:
        """The saved graph and the log position it reflects, if the file can be trusted; else None
        (with a warning naming what was wrong, unless there is no file)."""
        if not self.usable:
            return None
        assert self.path is not None and self._key is not None
        try:
            with self._locked(exclusive=False):
                if not self._meta_path.exists() and not self.path.exists():
                    return None
                meta = json.loads(self._meta_path.read_text())
                if not isinstance(meta, dict):
                    raise ValueError("the metadata is not a JSON object")
                if {k: meta.get(k) for k in self._identity} != self._identity:
                    raise ValueError("it was saved for another column or with other options")
                if _mac(self.path, self._key) != meta.get("mac"):
                    raise ValueError("its checksum does not match (damaged, or from another database)")
                graph = new_graph()
                graph.load(self.path)
            if len(graph) != meta["count"]:
                raise ValueError("it holds another number of rows than it says")
            # the log entry the file reflects must still be there, unchanged: else this database is
            # not the one the file was saved from (restored from a backup) or the log was pruned
            at = conn.execute(
                "SELECT table_name, at FROM _livevec_changes WHERE seq = ?", (meta["seq"],)
            ).fetchone()
            if at is None or list(at) != [meta["seq_table"], meta["seq_at"]]:
                raise ValueError("the change log no longer holds the position it was saved at")
        except Exception as exc:  # any damage means a rebuild, never a failed search
            logger.warning("livevec: not using the saved index of %s.%s: %s", *self._names, exc)
            return None
        return graph, int(meta["seq"]), (at[0], at[1])

    def delete(self) -> None:
        """Remove the saved graph (its table was dropped)."""
        if self.path is not None:
            with contextlib.suppress(OSError), self._locked(exclusive=True):
                self.path.unlink(missing_ok=True)
                self._meta_path.unlink(missing_ok=True)


def _mac(path: Path, key: bytes) -> str:
    """A checksum keyed by the database's own secret: damage, and files of other databases, fail it."""
    digest = hashlib.blake2b(key=key[:64], digest_size=32)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()
