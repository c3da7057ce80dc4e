"""Live queries: a search (or a shopper's recommendations) kept up to date as the data changes.

    live = table.search("a user likes sports").filter({"price": {"$lt": 50}}).limit(5).live()
    print(live.result)                       # the current result, as `to_list()` gives it
    for result in live:                      # blocks; yields each new result, only when it differs
        print([row["name"] for row in result])

One thread per database follows the change log (`db.changes`), so writes from any process count. For
each batch of committed changes it asks every live query whether the batch can affect it, and only
those that can are evaluated again; a query whose new result equals its last one notifies nobody.
Live queries with the same parameters are evaluated once and shared by all their handles.

A vector search is affected by a change to a row in its result, or to a row that passes its filter,
lies within its distance bounds and is nearer than its last row (or the result is not full). A
full-text or hybrid search is affected by any change to its table: a BM25 score depends on every row.

Only committed state is published: a live query cannot be opened inside `db.transaction()` (its
rows could be rolled back), and it is evaluated on the caller's or the follower's own connection.
The follower is registered with the store (`Backend.followers`), so pruning spares what it has not
read; if the log was pruned past it all the same (a follower in a process that stopped publishing),
`changes()` says so (`ChangeLogGapError`) and every query is evaluated again from the tables.

Lock order (a thread holding one may take those below it, never those above):
    `_registries_lock` (module) > `LiveQueries._lock` > `_Entry.changed` > `Followers._lock`
No query is evaluated, no callback called and no store touched while any of them is held: a query's
evaluation may embed stale rows, which takes the store's writer lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from ._errors import ChangeLogGapError, DatabaseClosedError, ValidationError

if TYPE_CHECKING:
    from .storage import Backend, Change

T = TypeVar("T")
logger = logging.getLogger("livevec")

_serials = itertools.count()
# how often the follower looks for changes on a store that cannot notify (SQLite)
POLL_INTERVAL = 0.02
_BATCH = 1000


@dataclass
class _Entry:
    """One evaluated query, shared by every handle with the same key."""

    key: Any
    evaluate: Callable[[], Any]  # the current result
    affected: Callable[[list[Change], Any], bool]  # may these changes alter this result?
    same: Callable[[Any, Any], bool]  # are two results the same for a subscriber?
    result: Any = None
    version: int = 0
    handles: int = 0
    closed: bool = False  # the store is closing: every handle's waiting ends
    serial: int = field(default_factory=lambda: next(_serials))  # unique in the process
    changed: threading.Condition = field(default_factory=threading.Condition)
    # (the handle that asked, its callback): a handle's callbacks leave with it
    callbacks: list[tuple[LiveResult, Callable[[Any], None]]] = field(default_factory=list)
    futures: set[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = field(default_factory=set)

    def publish(self, result: Any) -> None:
        with self.changed:
            callbacks = [callback for _, callback in self.callbacks]
        for callback in callbacks:  # before the waiters wake: whoever waits sees them done
            try:
                callback(result)
            except Exception:
                logger.exception("livevec: a live query's callback failed")
        with self.changed:
            self.result, self.version = result, self.version + 1
            futures, self.futures = self.futures, set()
            self.changed.notify_all()
        _wake(futures)

    def close(self) -> None:
        with self.changed:
            self.closed = True
            futures, self.futures = self.futures, set()
            self.changed.notify_all()
        _wake(futures)


def _wake(futures: set[tuple[asyncio.AbstractEventLoop, asyncio.Future]]) -> None:
    """Resolve waiting futures from this thread: one call into each event loop for all of its
    futures (a thousand streams of one query would otherwise be a thousand wake-ups)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future]] = {}
    for loop, future in futures:
        by_loop.setdefault(loop, []).append(future)
    for loop, waiting in by_loop.items():
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve, waiting)


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)


class LiveResult(Generic[T]):
    """A handle on a live query: `result`, iteration over new results, `on_change`, `changes()`.

    Made by `Search.live()` and `Recommender.live_for_user()`. Close it (or use it as a context
    manager) when done: the query is dropped with its last handle.

    Usage:
        ```python
        with table.search("yoga").limit(5).live() as live:
            print(live.result)
            new = live.wait(timeout=10)      # None if nothing changed meanwhile
        ```

    Parameters:
        registry: the live queries of the handle's store.
        entry: the query this handle follows (shared by every handle with the same key).
    """

    def __init__(self, registry: LiveQueries, entry: _Entry) -> None:
        self._registry = registry
        self._entry = entry
        self._seen = entry.version
        self._closed = False

    @property
    def closed(self) -> bool:
        """Closed by `close()`, or its database was closed."""
        return self._closed or self._entry.closed

    @property
    def key(self) -> Any:
        """What identifies the query: handles with equal keys share one evaluation."""
        return self._entry.key

    def __repr__(self) -> str:
        return f"<LiveResult version={self.version} of {self._entry.key!r}>"

    def __enter__(self) -> LiveResult[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def result(self) -> T:
        """The newest result."""
        return self._entry.result

    @property
    def version(self) -> int:
        """How many results there have been (1 for the first)."""
        return self._entry.version

    def wait(self, timeout: float | None = None) -> T | None:
        """Block until there is a result newer than the last one this handle returned.

        Parameters:
            timeout: the longest wait, in seconds (None: until one comes or the handle is closed).

        Returns:
            The new result; None on timeout, or once the handle is closed.
        """
        entry = self._entry
        with entry.changed:
            if not entry.changed.wait_for(lambda: entry.version > self._seen or self.closed, timeout):
                return None
            self._seen = entry.version
            return None if self.closed else entry.result

    def __iter__(self) -> Iterator[T]:
        """Each new result as it comes (blocks between them), until the handle is closed."""
        while not self.closed:
            result = self.wait(timeout=1.0)
            if result is not None:
                yield result

    def on_change(self, callback: Callable[[T], None]) -> None:
        """Call `callback(result)` with each new result, until this handle is closed.

        The callback runs on the follower thread: keep it short.

        Parameters:
            callback: called with each new result.

        Raises:
            DatabaseClosedError: the handle is closed.
        """
        with self._entry.changed:
            if self.closed:
                raise DatabaseClosedError("this live query is closed")
            self._entry.callbacks.append((self, callback))

    async def changes(self) -> AsyncIterator[T]:
        """The current result at once, then each new one: `async for result in live.changes()`.

        Usage:
            ```python
            async for result in live.changes():
                await send(result)
            ```

        Yields:
            Each result, from the current one on, until the handle is closed.
        """
        entry = self._entry
        loop = asyncio.get_running_loop()
        with entry.changed:
            self._seen, result = entry.version, entry.result
        yield result
        while not self.closed:
            future = loop.create_future()
            waiting = (loop, future)
            with entry.changed:
                if entry.version == self._seen and not self.closed:
                    entry.futures.add(waiting)
                else:
                    future.set_result(None)
            try:
                await future
            finally:  # a cancelled wait (a client gone) leaves nothing behind
                with entry.changed:
                    entry.futures.discard(waiting)
            with entry.changed:
                if entry.version == self._seen or self.closed:
                    continue
                self._seen, result = entry.version, entry.result
            yield result

    @property
    def seen(self) -> tuple[int, int]:
        """Which result this handle last returned: equal for equal results of one query, unique in
        the process (a query opened again after its last handle closed starts a new series)."""
        return self._entry.serial, self._seen

    def close(self) -> None:
        """Stop following: its callbacks are dropped, its waits end, and the query with its last handle."""
        if self._closed:
            return
        entry = self._entry
        with entry.changed:
            self._closed = True
            entry.callbacks = [(handle, c) for handle, c in entry.callbacks if handle is not self]
            entry.changed.notify_all()
        self._registry.release(entry)
        with entry.changed:  # its async waiters end; the other handles' wait again
            futures, entry.futures = entry.futures, set()
        _wake(futures)


class LiveQueries:
    """The live queries of one store and the thread that keeps them up to date (see `live_queries`)."""

    def __init__(self, backend: Backend, poll_interval: float = POLL_INTERVAL) -> None:
        self._db = backend
        self._poll_interval = poll_interval
        self._entries: dict[Any, _Entry] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._follower: int | None = None  # this registry's id in `backend.followers`
        # the log position every registered entry is checked through: set when the follower takes
        # a batch (with the entries it checks), so an entry registered later starts after it
        self._position = 0
        self._since = 0  # the position fully applied (what `settle` waits for)
        self._stopped = False
        self._caught_up = threading.Condition()  # notified each time `_since` moves
        self._refreshers: dict[str, Callable[[], Any]] = {}  # table name: its `Table.refresh`
        self.evaluations = 0  # how many times a query was evaluated (tests and benchmarks read it)
        self.gaps = 0  # how many times the log was pruned past the follower (tests read it)

    @property
    def size(self) -> int:
        """How many distinct live queries are open."""
        with self._lock:
            return len(self._entries)

    def open(
        self,
        key: Any,
        evaluate: Callable[[], T],
        affected: Callable[[list[Change], T], bool],
        same: Callable[[T, T], bool] = lambda a, b: a == b,
    ) -> LiveResult[T]:
        """A handle on the query `key`, evaluated now (outside every lock) if no handle has it yet.

        Raises:
            ValidationError: called inside `db.transaction()`, whose writes may yet be rolled back.
            DatabaseClosedError: the database was closed.
        """
        if self._db.in_transaction():
            raise ValidationError(
                "a live query shows committed data only: open it outside db.transaction()", field="live"
            )
        with self._lock:
            if self._stopped:
                raise DatabaseClosedError(f"the database {self._db.url!r} is closed")
            if self._thread is None:
                # changes committed from here on are checked against every query opened after this
                self._position = self._since = self._db.last_change()
                self._follower = self._db.followers.register(self._since)
                self._thread = threading.Thread(target=self._follow, name="livevec-live", daemon=True)
                self._thread.start()
            entry = self._shared(key)
        if entry is not None:
            return LiveResult(self, entry)
        start = self._db.last_change()
        result = evaluate()
        self.evaluations += 1
        while True:
            with self._lock:
                if (entry := self._shared(key)) is not None:
                    return LiveResult(self, entry)
                if start >= self._position:  # the follower checks every change after `start`
                    entry = _Entry(key, evaluate, affected, same, result=result, version=1, handles=1)
                    self._entries[key] = entry
                    return LiveResult(self, entry)
                position = self._position
            # the follower took changes up to `position` before this query was registered: check
            # those after `start` here, evaluating again if they may alter the result
            try:
                missed = [c for c in self._changes_between(start, position)]
                stale = bool(missed) and affected(missed, result)
            except ChangeLogGapError:
                stale = True
            start = position
            if stale:
                start = self._db.last_change()
                result = evaluate()
                self.evaluations += 1

    def _shared(self, key: Any) -> _Entry | None:
        """The open entry for `key`, with one more handle (called with `_lock` held)."""
        entry = self._entries.get(key)
        if entry is not None:
            entry.handles += 1
        return entry

    def _changes_between(self, after: int, through: int) -> list[Change]:
        found: list[Change] = []
        while after < through:
            batch = [c for c in self._db.changes(after, _BATCH) if c.seq <= through]
            if not batch:
                break
            found += batch
            after = batch[-1].seq
        return found

    def keep_fresh(self, table: str, refresh: Callable[[], Any]) -> None:
        """Before the live queries look at a batch of changes to `table`, call `refresh()` (its
        `Table.refresh`): a text another client changed is embedded again, and the queries see the
        new vector in that same batch."""
        with self._lock:
            self._refreshers.setdefault(table, refresh)

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until every change committed before this call has been checked (and the queries it
        affects evaluated again); False on timeout. For tests and benchmarks."""
        target = self._db.last_change()
        deadline = time.monotonic() + timeout
        with self._caught_up:
            return self._caught_up.wait_for(
                lambda: self._since >= target or self._thread is None, max(0.0, deadline - time.monotonic())
            )

    def release(self, entry: _Entry) -> None:
        """One handle of `entry` is closed: the query goes with its last one."""
        with self._lock:
            entry.handles -= 1
            if entry.handles == 0 and self._entries.get(entry.key) is entry:
                del self._entries[entry.key]

    def close(self) -> None:
        """Stop following the store; every handle's waiting and iteration ends."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        with self._lock:
            entries = list(self._entries.values())
            self._entries.clear()
            if self._follower is not None:
                self._db.followers.release(self._follower)
        for entry in entries:
            entry.close()

    def _follow(self) -> None:
        backoff = self._poll_interval
        while not self._stopped:
            try:
                self._db.publish_followers()  # writes only when due
                if self._db.closed:  # closed under us (close_live_queries stops us first, normally)
                    return
                try:
                    changes = self._db.changes(self._since, _BATCH)
                except ChangeLogGapError:
                    logger.warning("livevec: the change log was pruned past the live queries; evaluating all")
                    self.gaps += 1
                    self._apply(None, self._db.last_change())
                    continue
                if not changes:
                    self._db.wait_for_change(self._since, self._poll_interval)
                    continue
                self._apply(changes, changes[-1].seq)
                backoff = self._poll_interval
            except Exception:  # a store that is away for a while: try again, never die
                if self._stopped:
                    return
                logger.exception("livevec: live queries could not read the change log; retrying")
                time.sleep(backoff)
                backoff = min(5.0, backoff * 2)

    def _apply(self, changes: list[Change] | None, through: int) -> None:
        """Evaluate again the queries `changes` may affect (all of them for None: a gap), then
        record that every change up to `through` was applied."""
        with self._lock:
            entries = list(self._entries.values())
            self._position = through
            tables = {c.table for c in changes} if changes is not None else set(self._refreshers)
            refreshers = [self._refreshers[t] for t in tables if t in self._refreshers]
        for refresh in refreshers:
            try:
                refresh()
            except Exception:  # e.g. the model failed: the searches themselves will say so
                logger.exception("livevec: stale vectors could not be embedded again")
        for entry in entries:
            try:
                if changes is not None and not entry.affected(changes, entry.result):
                    continue
                result = entry.evaluate()
                self.evaluations += 1
            except Exception:
                logger.exception("livevec: a live query could not be evaluated again: %r", entry.key)
                continue
            if not entry.same(entry.result, result):
                entry.publish(result)
        if self._follower is not None:
            self._db.followers.move(self._follower, through)
        with self._caught_up:
            self._since = through
            self._caught_up.notify_all()


_registries: weakref.WeakKeyDictionary[Backend, LiveQueries] = weakref.WeakKeyDictionary()
_registries_lock = threading.Lock()


def live_queries(backend: Backend) -> LiveQueries:
    """The live queries of this store (one follower thread per open database).

    Raises:
        DatabaseClosedError: the store was closed.
    """
    with _registries_lock:
        if backend.closed:
            raise DatabaseClosedError(f"the database {backend.url!r} is closed")
        registry = _registries.get(backend)
        if registry is None:
            registry = _registries[backend] = LiveQueries(backend)
        return registry


def close_live_queries(backend: Backend) -> None:
    """Stop following the store (its database is closing)."""
    with _registries_lock:
        registry = _registries.pop(backend, None)
    if registry is not None:
        registry.close()
