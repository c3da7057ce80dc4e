"""The errors of the compat layer: what only TiDB does, and bad input as pytidb reports it."""

from __future__ import annotations

from ..._errors import LivevecError, ValidationError


class NotSupportedError(LivevecError):
    """A pytidb feature that needs TiDB or a hosted service; the message says what to use instead."""


class ArgumentError(ValidationError, ValueError):
    """Bad input where pytidb raises `ValueError`: still a livevec `ValidationError`, so code written
    for either catches it."""


def tidb_only(what: str, instead: str) -> NotSupportedError:
    return NotSupportedError(f"{what} needs TiDB, which livevec does not use: {instead}")
