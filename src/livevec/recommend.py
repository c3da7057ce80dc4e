"""`Recommender`: live, explained recommendations from what shoppers say and do.

Users and their events are two ordinary tables beside the product table (`<products>_users` and
`<products>_events`), so they live in the same store and work on every backend. Nothing is
precomputed: each call reads the user's events and the products' current vectors, so an event
recorded now, or a product edited or removed, shows in the very next call.

A user's taste is one vector: the profile text's embedding plus the vectors of the products they
interacted with, each weighted by the kind of event and halved every `half_life`. Candidates come
from `table.search(taste)` with the caller's filters; maximal marginal relevance then trades some
similarity for variety, and each result names the interest or product it is closest to.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pydantic

from ._database import Database
from ._errors import ValidationError
from ._schema import Field, TableModel
from ._table import Table
from .filters import Filters, compile_filters
from .search import MAX_LIMIT

if TYPE_CHECKING:
    from .live import LiveResult
    from .storage import Change

EventKind = Literal["view", "like", "cart", "purchase", "dismiss"]
EVENT_KINDS: tuple[str, ...] = ("view", "like", "cart", "purchase", "dismiss")
# how much one fresh event of each kind pulls the taste towards (or, negative, away from) its product
DEFAULT_WEIGHTS: dict[str, float] = {"view": 0.3, "like": 1.0, "cart": 1.5, "purchase": 2.0, "dismiss": -0.5}
_VERBS = {"view": "viewed", "like": "liked", "cart": "put in your cart", "purchase": "bought"}
_CHUNK = 500  # keys per `$in` filter, well under every backend's parameter limit
_POPULAR_SCAN = 50_000  # newest events read to rank popular products


class _User(TableModel):
    __tablename__ = "users"
    user_id: str = Field(primary_key=True, min_length=1, max_length=200)
    profile: str | None = Field(default=None, max_length=5000)
    created_at: float


def _event_schema(key_type: type) -> type[TableModel]:
    """Events name products by the product table's key, so `product_id` takes that key's type."""
    model = pydantic.create_model(
        "Event",
        __base__=TableModel,
        id=(int | None, Field(default=None, primary_key=True)),
        user_id=(str, Field(min_length=1, max_length=200)),
        product_id=(key_type, Field()),
        kind=(str, Field()),
        at=(float, Field()),
    )
    model.__tablename__ = "events"
    return model


@dataclass(frozen=True)
class User:
    user_id: str
    profile: str | None


@dataclass(frozen=True)
class Event:
    user_id: str
    product_id: Any
    kind: str
    at: datetime


@dataclass(frozen=True)
class Recommendation:
    """One recommended product and why.

    Attributes:
        product: the product's columns, vectors left out.
        score: cosine similarity to the user's taste (or to the product, for `similar`); popularity
            at cold start.
        reason: one sentence for the shopper ('because you liked “Yoga mat”').
        because: "interest" (the profile), "product" (a product the user interacted with),
            "popular" or "catalog" (cold start).
        because_product: the key of the product the result is closest to, when `because` is "product".
    """

    product: dict[str, Any]  # the product's columns, vectors left out
    score: (
        float  # cosine similarity to the taste (or to the product, for `similar`); popularity at cold start
    )
    reason: str  # one sentence for the shopper
    because: Literal["interest", "product", "popular", "catalog"]
    because_product: Any = None  # key of the product the result is closest to, when because == "product"


class Recommender:
    """Recommendations over a product table, learned from each user's profile and events.

    Users and events live in two tables beside the product table (`<table>_users`,
    `<table>_events`). Nothing is precomputed: an event, or a product edited or deleted, changes the
    very next call.

    Usage:
        ```python
        rec = livevec.Recommender(table)
        rec.set_profile("ann", "yoga at home, and good coffee")
        rec.record("ann", 1, "like")
        for r in rec.for_user("ann", limit=10, filters={"price": {"$lt": 50}}):
            print(r.product["name"], r.reason)
        ```

    Parameters:
        table: the product table.
        vector_column: its vector column to rank by; the only one by default.
        label_field: the field a reason names a product by; "name" if there is one, else the key.
        half_life: how long until an event counts half.
        weights: overrides `DEFAULT_WEIGHTS` per kind (`view` 0.3, `like` 1, `cart` 1.5,
            `purchase` 2, `dismiss` -0.5).
        profile_weight: the profile's pull, in the same unit as one fresh like.
        history: only the newest this many events of a user count.
        popular_window: cold start ranks products by the decayed, weighted events of every user
            within this window.
        prefix: the name the users and events tables start with; the table's name by default.

    Raises:
        ValidationError: a column that is not there, a window that is not a positive timedelta, or a
            weight or count out of range.
    """

    def __init__(
        self,
        table: Table,
        *,
        vector_column: str | None = None,
        label_field: str | None = None,
        half_life: timedelta = timedelta(days=14),
        weights: Mapping[str, float] | None = None,
        profile_weight: float = 1.0,
        history: int = 500,
        popular_window: timedelta = timedelta(days=30),
        prefix: str | None = None,
    ) -> None:
        self.table = table
        self.vector_column = _pick_vector(table, vector_column)
        self.label_field = label_field or (
            "name" if table.spec.column("name") else table.spec.primary_key.name
        )
        if table.spec.column(self.label_field) is None:
            raise ValidationError(f"not a column of {table.name!r}", field="label_field")
        for name, value in (("half_life", half_life), ("popular_window", popular_window)):
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise ValidationError(f"must be a positive timedelta, got {value!r}", field=name)
        self.half_life = half_life
        self.popular_window = popular_window
        self.weights = {**DEFAULT_WEIGHTS, **_check_weights(weights or {})}
        self.profile_weight = _finite(profile_weight, "profile_weight", minimum=0.0)
        self.history = _count(history, "history")
        self._key = table.spec.primary_key.name
        db = Database(table.backend)
        prefix = table.name if prefix is None else prefix
        key_type = int if table.spec.primary_key.type == "int" else str
        self.users_table = db.create_table(_User, name=f"{prefix}_users", if_exists="skip")
        self.events_table = db.create_table(
            _event_schema(key_type), name=f"{prefix}_events", if_exists="skip"
        )

    def __repr__(self) -> str:
        return f"<Recommender over {self.table.name!r}>"

    # --- users and events ---------------------------------------------------------------------

    def set_profile(self, user_id: str, text: str | None) -> User:
        """Describe the user's interests in words; creates the user if new.

        Parameters:
            user_id: the user.
            text: what they like ("yoga at home, and good coffee"); None clears it.

        Returns:
            The `User` (`user_id`, `profile`).

        Raises:
            ValidationError: the user id is not one, or `text` is empty.
        """
        _check_user_id(user_id)
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValidationError("give a non-empty text, or None to clear it", field="profile")
        with self.table.backend.transaction():
            existing = self.users_table.get(user_id)
            created = existing.created_at if existing else time.time()
            self.users_table.upsert({"user_id": user_id, "profile": text, "created_at": created})
        return User(user_id, text)

    def record(self, user_id: str, product_id: Any, kind: EventKind, *, at: datetime | None = None) -> Event:
        """Note that the user viewed, liked, carted, bought or dismissed a product.

        Parameters:
            user_id: the user (created if new).
            product_id: the product's key.
            kind: "view", "like", "cart", "purchase" or "dismiss".
            at: when, as a timezone-aware datetime; now by default.

        Returns:
            The `Event` recorded.

        Raises:
            ValidationError: an unknown kind, a product that is not in the table, a naive datetime, or a
                user id that is not one.
        """
        _check_user_id(user_id)
        if kind not in EVENT_KINDS:
            raise ValidationError(f"must be one of {list(EVENT_KINDS)}, got {kind!r}", field="kind")
        if isinstance(product_id, bool) or not isinstance(product_id, str | int):
            raise ValidationError(f"expected a product key, got {product_id!r}", field="product_id")
        if at is None:
            stamp = time.time()
        elif isinstance(at, datetime) and at.tzinfo is not None:
            stamp = at.timestamp()
        else:
            raise ValidationError(f"expected a timezone-aware datetime, got {at!r}", field="at")
        if not self.table.count({self._key: product_id}):
            raise ValidationError(
                f"no product with key {product_id!r} in {self.table.name!r}", field="product_id"
            )
        with self.table.backend.transaction():
            if self.users_table.get(user_id) is None:
                self.users_table.insert({"user_id": user_id, "profile": None, "created_at": stamp})
            self.events_table.insert(
                {"user_id": user_id, "product_id": product_id, "kind": kind, "at": stamp}
            )
        return Event(user_id, product_id, kind, datetime.fromtimestamp(stamp, UTC))

    def users(self, limit: int | None = None, after: str | None = None) -> list[User]:
        """The users by id: every one, or a page of `limit` of them after the id `after`.

        Parameters:
            limit: at most this many (None: no limit).
            after: only ids after this one, in order: the last id of the page before.

        Returns:
            The `User`s, by id.

        Raises:
            ValidationError: `limit` is not a count, or `after` is not a user id.
        """
        filters = None
        if after is not None:
            _check_user_id(after)
            filters = {"user_id": {"$gt": after}}
        rows = self.users_table.query(
            filters, order_by="user_id", limit=None if limit is None else _count(limit, "limit")
        )
        return [User(r["user_id"], r["profile"]) for r in rows]

    def user(self, user_id: str) -> User | None:
        """One user.

        Parameters:
            user_id: the user.

        Returns:
            The `User` (`user_id`, `profile`), or None when there is none.

        Raises:
            ValidationError: the user id is not one.
        """
        _check_user_id(user_id)
        row = self.users_table.get(user_id)
        return User(row.user_id, row.profile) if row else None

    def events(self, user_id: str, limit: int = 50) -> list[Event]:
        """The user's newest events, newest first.

        Parameters:
            user_id: the user.
            limit: at most this many.

        Returns:
            The `Event`s (`user_id`, `product_id`, `kind`, `at`).

        Raises:
            ValidationError: the user id is not one, or `limit` is not a count.
        """
        _check_user_id(user_id)
        rows = self.events_table.query(
            {"user_id": user_id}, order_by=["-at", "-id"], limit=_count(limit, "limit")
        )
        return [
            Event(r["user_id"], r["product_id"], r["kind"], datetime.fromtimestamp(r["at"], UTC))
            for r in rows
        ]

    # --- recommendations ----------------------------------------------------------------------

    def for_user(
        self,
        user_id: str,
        limit: int = 10,
        filters: Filters | None = None,
        diversity: float = 0.3,
        exclude_seen: bool = True,
        exclude_purchased: bool = True,
    ) -> list[Recommendation]:
        """Products for this user, each with the reason it is there.

        Dismissed products never come back; products the user interacted with only with
        `exclude_seen=False`, and purchased ones only if `exclude_purchased=False` too. A user with no
        profile and no events gets the popular products, then the catalog.

        Parameters:
            user_id: the user.
            limit: at most this many products.
            filters: only products matching these, in the filter language.
            diversity: 0 ranks by similarity alone, 1 by variety (maximal marginal relevance).
            exclude_seen: leave out the products the user interacted with.
            exclude_purchased: leave out the products the user bought (with `exclude_seen=False`).

        Returns:
            The `Recommendation`s, best first.

        Raises:
            ValidationError: a bad user id, limit or diversity.
            FilterError: the filter is malformed or names an unknown field.
        """
        return self._rank(user_id, limit, filters, diversity, exclude_seen, exclude_purchased).results

    def live_for_user(
        self,
        user_id: str,
        limit: int = 10,
        filters: Filters | None = None,
        diversity: float = 0.3,
        exclude_seen: bool = True,
        exclude_purchased: bool = True,
    ) -> LiveResult[list[Recommendation]]:
        """`for_user(...)` kept up to date (see `livevec.live`).

        A new result comes when this user's profile or events change, or a product changes that is in
        the result, shapes the taste, or is near enough to the taste to enter it. Close the handle when
        done.

        Usage:
            ```python
            with rec.live_for_user("ann", limit=5) as live:
                for recommendations in live:
                    print([r.product["name"] for r in recommendations])
            ```

        Parameters:
            user_id: the user.
            limit: at most this many products.
            filters: only products matching these.
            diversity: 0 ranks by similarity alone, 1 by variety.
            exclude_seen: leave out the products the user interacted with.
            exclude_purchased: leave out the products the user bought.

        Returns:
            A `LiveResult` whose results are lists of `Recommendation`s.
        """
        from .live import live_queries

        args = (user_id, limit, filters, diversity, exclude_seen, exclude_purchased)
        first = self._rank(*args)  # bad arguments fail here, not in the follower thread
        key = ("for_user", self.table.name, self.users_table.name, json.dumps(args, default=repr))
        state = {"last": first}

        def evaluate() -> list[Recommendation]:
            state["last"] = self._rank(*args)
            return state["last"].results

        def affected(changes: list[Change], _: list[Recommendation]) -> bool:
            return self._affected(user_id, state["last"], changes)

        registry = live_queries(self.table.backend)
        registry.keep_fresh(self.table.name, self.table.refresh)
        return registry.open(key, evaluate, affected, _same_recommendations)

    def _rank(
        self,
        user_id: str,
        limit: int,
        filters: Filters | None,
        diversity: float,
        exclude_seen: bool,
        exclude_purchased: bool,
    ) -> _Ranking:
        _check_user_id(user_id)
        limit = _limit(limit)
        diversity = _finite(diversity, "diversity", minimum=0.0, maximum=1.0)
        compile_filters(filters, self.table.spec)  # a bad filter fails here, whichever path runs
        user = self.users_table.get(user_id)
        profile = user.profile if user else None
        events = self.events_table.query({"user_id": user_id}, order_by=["-at", "-id"], limit=self.history)
        now = time.time()
        pull: dict[Any, float] = defaultdict(float)  # product key -> decayed, weighted sum of its events
        strongest: dict[Any, str] = {}  # product key -> its positive kind of highest weight, for the reason
        excluded = set()
        for event in events:
            key, kind = event["product_id"], event["kind"]
            pull[key] += self.weights[kind] * self._decay(now - event["at"])
            if self.weights[kind] > 0 and self.weights[kind] > self.weights.get(strongest.get(key, ""), 0.0):
                strongest[key] = kind
            if exclude_seen or kind == "dismiss" or (kind == "purchase" and exclude_purchased):
                excluded.add(key)
        where = _all_of(filters, {self._key: {"$nin": sorted(excluded)}} if excluded else None)
        # anchors: what the taste is made of, and what a result can be explained by
        anchors: list[tuple[np.ndarray, float, Any]] = []  # (unit vector, weight, product key or None)
        if profile:
            vector = self.table.embedding_function(self.vector_column).embed_query(profile)
            anchors.append((_unit(vector), self.profile_weight, None))
        interacted = self._interacted(list(pull))
        anchors += [(vector, pull[key], key) for key, (vector, _) in interacted.items()]
        watched = set(pull)  # the products the user interacted with: their changes move the taste
        taste = np.sum([weight * vector for vector, weight, _ in anchors], axis=0) if anchors else None
        if not any(weight > 0 for _, weight, _ in anchors) or np.linalg.norm(taste) < 1e-6:
            # nothing to go on, or the dismissals cancel out the likes: no direction left
            return _Ranking(self._popular(limit, where, now), watched, where)
        taste = _unit(taste)
        pool = limit if diversity == 0 else min(MAX_LIMIT, max(4 * limit, 40))
        search = self.table.search(taste, vector_column=self.vector_column).select(
            *self._product_fields(),
            self.vector_column,  # the taste's column, for the diversity pass
        )
        rows = search.filter(where).limit(pool).to_list()
        if not rows:
            return _Ranking([], watched, where, taste)
        vectors = np.stack([_unit(np.asarray(r[self.vector_column], dtype=np.float32)) for r in rows])
        relevance = vectors @ taste
        chosen = _mmr(vectors, relevance, limit, diversity)
        explainers = [(v, key) for v, weight, key in anchors if weight > 0]
        closeness = vectors[chosen] @ np.stack([v for v, _ in explainers]).T
        results = []
        for position, row_index in enumerate(chosen):
            key = explainers[int(np.argmax(closeness[position]))][1]
            if key is None:
                reason, because = f"matches your interest “{_shorten(profile)}”", "interest"
            else:
                label = interacted[key][1]
                reason, because = f"because you {_VERBS[strongest[key]]} “{label}”", "product"
            results.append(
                Recommendation(
                    self._product(rows[row_index]), float(relevance[row_index]), reason, because, key
                )
            )
        worst = rows[-1]["_distance"] if len(rows) == pool else None
        return _Ranking(results, watched, where, taste, worst)

    def _affected(self, user_id: str, ranking: _Ranking, changes: list[Change]) -> bool:
        """Can these changes alter this user's recommendations (`ranking`, their last)?"""
        catalog: list[Any] = []
        events: list[Any] = []
        for change in changes:
            if change.op == "reset":
                if change.table in (self.table.name, self.users_table.name, self.events_table.name):
                    return True
            elif change.table == self.users_table.name and change.key == user_id:
                return True
            elif change.table == self.events_table.name:
                if ranking.taste is None or change.op != "insert":
                    return True  # popularity counts everyone's events; a deleted event's user is unknown
                events.append(change.key)
            elif change.table == self.table.name:
                catalog.append(change.key)
        for start in range(0, len(events), _CHUNK):  # one query for the batch's new events
            if self.events_table.count({"id": {"$in": events[start : start + _CHUNK]}, "user_id": user_id}):
                return True
        if not catalog:
            return False
        shown = {r.product[self._key] for r in ranking.results}
        if ranking.taste is None or set(catalog) & (shown | ranking.watched):
            return True
        # another product matters if it passes the filters and is near enough to enter the pool
        catalog = list(dict.fromkeys(catalog))
        for start in range(0, len(catalog), _CHUNK):
            where = _all_of(ranking.where, {self._key: {"$in": catalog[start : start + _CHUNK]}})
            for row in self.table.query(where):
                vector = row[self.vector_column]
                if vector is None:
                    continue
                distance = 1.0 - float(_unit(np.asarray(vector, dtype=np.float32)) @ ranking.taste)
                if ranking.worst_distance is None or distance <= ranking.worst_distance + 1e-5:
                    return True
        return False

    def similar(
        self, product_id: Any, limit: int = 10, filters: Filters | None = None
    ) -> list[Recommendation]:
        """ "More like this": the products nearest to one product, itself left out.

        Parameters:
            product_id: the product's key.
            limit: at most this many.
            filters: only products matching these.

        Returns:
            `Recommendation`s whose `because` is "product", nearest first.

        Raises:
            ValidationError: the product is not in the table or has no vector, or `limit` is out of range.
        """
        limit = _limit(limit)
        if isinstance(product_id, bool) or not isinstance(product_id, str | int):
            raise ValidationError(f"expected a product key, got {product_id!r}", field="product_id")
        found = self.table.query({self._key: product_id}, limit=1).to_list()
        if not found:
            raise ValidationError(
                f"no product with key {product_id!r} in {self.table.name!r}", field="product_id"
            )
        vector = found[0][self.vector_column]
        if vector is None:
            raise ValidationError(f"product {product_id!r} has no {self.vector_column}", field="product_id")
        where = _all_of(filters, {self._key: {"$ne": product_id}})
        search = self.table.search(vector, vector_column=self.vector_column).select(*self._product_fields())
        rows = search.filter(where).limit(limit).to_list()
        reason = f"similar to “{found[0][self.label_field]}”"
        return [Recommendation(self._product(r), r["_score"], reason, "product", product_id) for r in rows]

    # --- helpers ------------------------------------------------------------------------------

    def _decay(self, age_seconds: float) -> float:
        return 0.5 ** (max(age_seconds, 0.0) / self.half_life.total_seconds())

    def _interacted(self, keys: list[Any]) -> dict[Any, tuple[np.ndarray, str]]:
        """(current unit vector, label) of each product that still exists and has a vector."""
        found = {}
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            for row in self.table.query({self._key: {"$in": chunk}}):
                if row[self.vector_column] is not None:
                    vector = _unit(np.asarray(row[self.vector_column], dtype=np.float32))
                    found[row[self._key]] = (vector, str(row[self.label_field]))
        return found

    def _product_fields(self) -> list[str]:
        """The columns a recommended product carries: all but the vectors."""
        vectors = {v.name for v in self.table.spec.vectors}
        return [name for name in self.table.spec.column_names if name not in vectors]

    def _product(self, row: Mapping[str, Any]) -> dict[str, Any]:
        vectors = {v.name for v in self.table.spec.vectors}
        return {k: v for k, v in row.items() if k not in vectors and not k.startswith("_")}

    def _popular(self, limit: int, where: Filters | None, now: float) -> list[Recommendation]:
        """Cold start: the most engaged-with products lately within `where`, then the catalog's first."""
        since = now - self.popular_window.total_seconds()
        recent = self.events_table.query({"at": {"$gte": since}}, order_by=["-at"], limit=_POPULAR_SCAN)
        popularity: dict[Any, float] = defaultdict(float)
        for event in recent:
            weight = self.weights[event["kind"]]
            if weight > 0:
                popularity[event["product_id"]] += weight * self._decay(now - event["at"])
        ranked = sorted(popularity, key=lambda k: (-popularity[k], k))
        results: list[Recommendation] = []
        for start in range(0, len(ranked), _CHUNK):
            chunk = ranked[start : start + _CHUNK]
            rows = {r[self._key]: r for r in self.table.query(_all_of(where, {self._key: {"$in": chunk}}))}
            for key in chunk:
                if key in rows and len(results) < limit:
                    results.append(
                        Recommendation(
                            self._product(rows[key]), popularity[key], "popular right now", "popular"
                        )
                    )
            if len(results) == limit:
                return results
        shown = [r.product[self._key] for r in results]
        rest = self.table.query(_all_of(where, {self._key: {"$nin": shown}}), limit=limit - len(results))
        results += [Recommendation(self._product(r), 0.0, "from our catalog", "catalog") for r in rest]
        return results


@dataclass
class _Ranking:
    """A user's recommendations and what they were made of, to tell which changes can alter them."""

    results: list[Recommendation]
    watched: set[Any]  # the products the user interacted with
    where: Filters | None  # the caller's filters and the exclusions
    taste: np.ndarray | None = None  # None at cold start (popular or catalog)
    worst_distance: float | None = None  # the farthest candidate's; None when there were fewer than asked


def _same_recommendations(a: list[Recommendation], b: list[Recommendation]) -> bool:
    """The same for a shopper: products, reasons, and scores to three decimals (time moves the decay)."""

    def shown(results: list[Recommendation]) -> list[tuple]:
        return [(r.product, round(r.score, 3), r.reason, r.because, r.because_product) for r in results]

    return shown(a) == shown(b)


def _mmr(vectors: np.ndarray, relevance: np.ndarray, k: int, diversity: float) -> list[int]:
    """Row indices picked one by one, each maximising relevance minus similarity to the picks so far."""
    chosen: list[int] = []
    redundancy = np.zeros(len(vectors), dtype=np.float32)
    available = np.ones(len(vectors), dtype=bool)
    for _ in range(min(k, len(vectors))):
        score = np.where(available, (1 - diversity) * relevance - diversity * redundancy, -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        available[best] = False
        redundancy = np.maximum(redundancy, vectors @ vectors[best])
    return chosen


def _pick_vector(table: Table, name: str | None) -> str:
    names = [v.name for v in table.spec.vectors]
    if name is None and len(names) == 1:
        return names[0]
    if name is None or name not in names:
        raise ValidationError(f"name one of the table's vector fields {names}", field="vector_column")
    return name


def _all_of(*filters: Filters | None) -> Filters | None:
    given = [f for f in filters if f]
    return None if not given else given[0] if len(given) == 1 else {"$and": given}


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def _shorten(text: str | None, size: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def _check_user_id(user_id: Any) -> None:
    if not isinstance(user_id, str) or not user_id.strip() or len(user_id) > 200:
        raise ValidationError(
            f"expected a non-empty string of up to 200 characters, got {user_id!r}", field="user_id"
        )


def _check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    for kind, value in weights.items():
        if kind not in EVENT_KINDS:
            raise ValidationError(
                f"unknown event kind {kind!r}; kinds are {list(EVENT_KINDS)}", field="weights"
            )
        _finite(value, f"weights[{kind!r}]")
    return dict(weights)


def _finite(value: Any, field: str, minimum: float = -math.inf, maximum: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(f"must be a finite number, got {value!r}", field=field)
    if not minimum <= value <= maximum:
        raise ValidationError(f"must lie in [{minimum}, {maximum}], got {value!r}", field=field)
    return float(value)


def _count(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"must be a positive integer, got {value!r}", field=field)
    return value


def _limit(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise ValidationError(f"must be an integer from 1 to {MAX_LIMIT}, got {value!r}", field="limit")
    return value
