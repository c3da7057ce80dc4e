"""The change log's contract, the same for every store.

- Each committed write appends entries to `_livevec_changes`, `seq` increasing in commit order.
- `changes(since)` returns the entries after `since`, or raises `ChangeLogGapError` when entries after
  `since` were pruned (`since < pruned_through`): the follower must then start over from the tables.
  Entries and the pruned mark are read in one statement, so a prune running meanwhile cannot hide a
  gap.
- The log is pruned inside a commit to its newest `KEEP` entries, but never past a follower that is
  registered and alive: one whose position was published less than `ALIVE_SECONDS` ago. Followers of
  this process (live queries, `/events`) are registered in memory here (`Followers`); the lowest of
  their positions is published in `_livevec_followers` at each commit of this process and every
  `PUBLISH_SECONDS` by the follower threads, so a writer in another process spares them too.
  `pruned_through` is kept beside the log, updated in the same transaction as the prune.

Lock order: `Followers._lock` is a leaf (nothing else is taken while it is held).
"""

from __future__ import annotations

import itertools
import os
import secrets
import threading

# the log keeps at least this many entries; a follower further behind and not registered gets a gap
KEEP = 100_000
# a published follower position counts for this long; a process that stopped publishing is forgotten
ALIVE_SECONDS = 30.0
# how often a follower thread publishes its position (a process that never writes still counts)
PUBLISH_SECONDS = 5.0

_names = itertools.count(1)


class Followers:
    """The followers of one store in this process and the positions they have read through."""

    def __init__(self) -> None:
        # unique per process and store: a restarted process (same pid in a container) starts afresh
        self.process = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._lock = threading.Lock()
        self._positions: dict[int, int] = {}

    def register(self, seq: int) -> int:
        """A new follower at `seq`; returns its id for `move` and `release`."""
        with self._lock:
            follower = next(_names)
            self._positions[follower] = seq
            return follower

    def move(self, follower: int, seq: int) -> None:
        with self._lock:
            if follower in self._positions:
                self._positions[follower] = seq

    def release(self, follower: int) -> None:
        with self._lock:
            self._positions.pop(follower, None)

    def lowest(self) -> int | None:
        """The position the slowest follower has read through; None when there is none."""
        with self._lock:
            return min(self._positions.values(), default=None)


def publish_due(lowest: int | None, published: tuple[int | None, float], now: float) -> bool:
    """Must this process's slowest follower position be written again? `published` is (position,
    time) of the last write: when the position moved, or the last write is getting old."""
    position, at = published
    return lowest != position or now - at >= PUBLISH_SECONDS


def prune_bound(newest: int, pruned: int | None, slowest: int | None) -> int | None:
    """The position to prune the log through (entries at or below it go), or None to keep it all:
    the newest `KEEP` entries stay, and everything after the slowest live follower (`slowest`,
    None when none is registered)."""
    bound = newest - KEEP
    if slowest is not None:
        bound = min(bound, slowest)
    return bound if bound > (pruned or 0) else None
