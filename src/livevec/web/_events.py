"""Product change events for `/events`: one poller follows the database's change feed for every client.

The feed (`db.changes(since)`) holds committed writes from every process that uses the database, so
a product added by another server, a script or the API shows up here the same way. Writes to the
recommender's tables become "activity" events, so a page showing a shopper follows what they do
(`visible()` keeps each shopper's activity to the streams that follow that shopper). One task polls it
and hands each event to the subscribers' queues; a subscriber that falls too far behind is dropped
and reconnects with `Last-Event-ID`, which replays the missed changes from the feed. A failed read
(the database locked, unreachable or restarting) never ends the task: it backs off and reads again
from the last change it published, so open streams miss nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from .._database import Database
from .._errors import ChangeLogGapError
from .._table import Table
from ..recommend import Recommender
from ..storage import Change
from ._workers import Workers, run

_OPS = {"insert": "created", "update": "updated", "delete": "deleted", "reset": "reset"}
_BATCH = 1000
_RETRY_FIRST, _RETRY_MAX = 0.1, 5.0  # seconds between attempts after a failed read: doubling, capped
logger = logging.getLogger(__name__)

# a subscriber's queue of events; None in it ends the stream
Subscription = asyncio.Queue[dict[str, Any] | None]


class ChangeBroadcaster:
    """Turns the change feed of one table into product events and fans them out to subscribers."""

    def __init__(
        self,
        db: Database,
        table: Table,
        *,
        recommender: Recommender | None = None,
        poll_interval: float = 0.2,
        queue_size: int = 2000,
        workers: Workers | None = None,
    ) -> None:
        self.db = db
        self.table = table
        self.recommender = recommender
        self.poll_interval = poll_interval
        self.queue_size = queue_size
        self._workers = workers or Workers()
        self._subscribers: set[Subscription] = set()
        self._closed = False

    def events_since(self, since: int) -> tuple[list[dict[str, Any]], int]:
        """The next batch of product events after change `since`, and the seq it reached (blocking).

        If the log was pruned past `since`, what changed is lost: one "reset" event at the newest
        change tells the pages to load everything again."""
        try:
            changes = self.db.changes(since, _BATCH)
        except ChangeLogGapError:
            newest = self.db.last_change()
            logger.warning("the change log was pruned past /events (at %d): sending a reset", since)
            reset = {"seq": newest, "op": "reset", "id": None, "product": None, "at": time.time()}
            return [reset], newest
        if not changes:
            return [], since
        return self._events(changes), changes[-1].seq

    def _events(self, changes: list[Change]) -> list[dict[str, Any]]:
        events = self._product_events(changes) + self._activity_events(changes)
        return sorted(events, key=lambda event: event["seq"])

    def _product_events(self, changes: list[Change]) -> list[dict[str, Any]]:
        mine = [c for c in changes if c.table == self.table.name]
        if not mine:  # a batch of other tables' writes only
            return []
        # one write can log a row twice in a row (its new vector, then its other fields): send it once
        mine = [c for c, after in zip(mine, [*mine[1:], None], strict=True) if not _same_row(c, after)]
        spec = self.table.spec
        pk = spec.primary_key.name
        keys = [c.key for c in mine if c.op in ("insert", "update")]
        # the vectors stay in the database: a page has no use for them, and reading 384 floats per
        # changed row made the feed cost more than the requests it serves
        columns = [c.name for c in spec.columns if spec.vector(c.name) is None]
        products = {}
        for start in range(0, len(keys), 500):
            rows = self.table.backend.select(spec, {pk: {"$in": keys[start : start + 500]}}, columns=columns)
            products.update((row[pk], row) for row in rows)
        return [
            {
                "seq": c.seq,
                "op": _OPS.get(c.op, c.op),
                "id": c.key,
                # the row as it is now; None once it is deleted (a later change in the feed says so)
                "product": products.get(c.key) if c.op in ("insert", "update") else None,
                "at": c.at,
            }
            for c in mine
        ]

    def _activity_events(self, changes: list[Change]) -> list[dict[str, Any]]:
        """Who did what: a shopper's new event (recorded once, never edited) or changed profile."""
        if self.recommender is None:
            return []
        users, events = self.recommender.users_table, self.recommender.events_table
        new_events = [c.key for c in changes if c.table == events.name and c.op == "insert"]
        recorded = {}
        for start in range(0, len(new_events), 500):
            for row in events.query({"id": {"$in": new_events[start : start + 500]}}):
                recorded[row["id"]] = row
        activity = []
        for c in changes:
            if c.table == users.name and c.op in ("insert", "update"):
                user, kind, product = c.key, "profile", None
            elif c.table == events.name and c.key in recorded:
                row = recorded[c.key]
                user, kind, product = row["user_id"], row["kind"], row["product_id"]
            else:
                continue
            activity.append(
                {"seq": c.seq, "op": "activity", "user_id": user, "kind": kind, "id": product, "at": c.at}
            )
        return activity

    async def run(self) -> None:
        """Poll the feed from its newest change on and publish what comes; runs until cancelled."""
        since: int | None = None
        delay = 0.0  # > 0 while reads fail
        followers = self.db.backend.followers
        follower = followers.register(0)  # pruning spares what the streams have not been sent
        try:
            await self._follow(since, delay, followers, follower)
        finally:
            followers.release(follower)

    async def _follow(self, since: int | None, delay: float, followers: Any, follower: int) -> None:
        while True:
            try:
                if since is None:
                    since = await run(self._workers.feed, self.db.last_change)
                followers.move(follower, since)
                events, since = await run(self._workers.feed, self.events_since, since)
                for event in events:
                    self._publish(event)
                if not events:  # on PostgreSQL a NOTIFY from any instance ends the wait at once
                    await run(self._workers.feed, self.db.wait_for_change, since, self.poll_interval)
            except Exception:  # a locked or unreachable database must not end live updates for good
                if not delay:  # once per outage, not at every attempt
                    logger.warning(
                        "reading the change feed failed; trying again until it works", exc_info=True
                    )
                delay = min(max(2 * delay, _RETRY_FIRST), _RETRY_MAX)
                await asyncio.sleep(delay)
                continue
            if delay:
                logger.info("reading the change feed works again")
                delay = 0.0

    def _publish(self, event: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # too slow to keep up: end its stream; the client resumes from its Last-Event-ID
                self._end(queue)

    def _end(self, queue: Subscription) -> None:
        self._subscribers.discard(queue)
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)

    def close(self) -> None:
        """End every open stream (the server is stopping: clients will reconnect to the next one)."""
        self._closed = True
        for queue in list(self._subscribers):
            self._end(queue)

    def subscribe(self) -> Subscription:
        """A queue that receives every event published from now on; pass it to `stream()`."""
        queue: Subscription = asyncio.Queue(self.queue_size)
        if self._closed:
            queue.put_nowait(None)
        else:
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: Subscription) -> None:
        self._subscribers.discard(queue)

    async def stream(self, queue: Subscription, since: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """The subscription's events; with `since`, first those after that seq still in the feed."""
        last = since if since is not None else 0
        # the queue was subscribed before this replay, so no change falls between the two
        while since is not None:
            events, reached = await run(self._workers.streams, self.events_since, last)
            for event in events:
                yield event
            if reached == last:
                break
            last = reached
        while (event := await queue.get()) is not None:
            if event["seq"] > last:
                last = event["seq"]
                yield event


def visible(
    event: dict[str, Any], user_id: str | None, everything: bool, may_list: bool
) -> dict[str, Any] | None:
    """The event as a stream sees it, or None: a shopper's activity goes only to the streams that follow
    that shopper (`user_id`) and to `everything` (the service token). The others learn only that the
    list of shoppers changed (a new shopper or profile): with the shopper's id where the stream may
    list shoppers anyway (`may_list`: a server without a token), so a page fetches that one shopper
    rather than the whole list."""
    if event["op"] != "activity" or everything or event["user_id"] == user_id:
        return event
    if event["kind"] == "profile":
        notice = {"seq": event["seq"], "op": "shoppers", "at": event["at"]}
        return {**notice, "user_id": event["user_id"]} if may_list else notice
    return None


def _same_row(change: Change, after: Change | None) -> bool:
    return after is not None and (change.table, change.key, change.op) == (after.table, after.key, after.op)
