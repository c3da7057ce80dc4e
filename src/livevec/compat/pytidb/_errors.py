"""The error raised for what only a TiDB server (or a hosted service) can do."""

from __future__ import annotations

from ..._errors import LivevecError


class NotSupportedError(LivevecError):
    """A pytidb feature that needs TiDB or a hosted service; the message says what to use instead."""


def tidb_only(what: str, instead: str) -> NotSupportedError:
    return NotSupportedError(f"{what} needs TiDB, which livevec does not use: {instead}")
