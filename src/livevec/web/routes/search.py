"""Finding products: nearest to a profile or search text, a shopper's recommendations, more like this."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.sse import EventSourceResponse, ServerSentEvent

from ..._table import Table
from ...live import LiveResult
from ...recommend import Recommendation
from ...search import Search, SearchType
from .._identity import QueryToken, for_shopper
from .._models import ProductOut, RecommendedProduct, ScoredProduct, problems
from .._security import OPTIONAL_TOKEN, Credentials
from .._shop import Shop, ShopDep, StreamSlot, existing_product
from .._workers import open_handle
from .products import FilterText, Price, product_filters

router = APIRouter(tags=["recommendations"])


@dataclass(frozen=True)
class NearestOptions:
    """The options /recommendations, /search and /similar share."""

    limit: int
    distance_threshold: float | None
    filters: dict[str, Any]


def _nearest_options(
    shop: ShopDep,
    limit: Annotated[int, Query(ge=1, le=100, description="how many products")] = 10,
    distance_threshold: Annotated[
        float | None, Query(ge=0, le=2, description="keep products at most this cosine distance away")
    ] = None,
    category: Annotated[str | None, Query(max_length=200, description="only this category")] = None,
    min_price: Price = None,
    max_price: Price = None,
    filter: FilterText = None,
) -> NearestOptions:
    filters = product_filters(shop.table, category, min_price, max_price, filter)
    return NearestOptions(limit, distance_threshold, filters)


Options = Annotated[NearestOptions, Depends(_nearest_options)]


def _not_blank(text: str | None) -> str | None:
    if text is not None and not text.strip():
        raise ValueError("is blank: give some text to compare products with")
    return text


SearchText = Annotated[str, Query(min_length=1, max_length=2000), pydantic.AfterValidator(_not_blank)]
ProfileText = Annotated[
    str | None,
    Query(min_length=1, max_length=2000, description="what the shopper likes, in words"),
    pydantic.AfterValidator(_not_blank),
]


def _search(table: Table, text: str, options: NearestOptions, search_type: SearchType = "vector") -> Search:
    # the fields the API returns, not the vector: a stream's live result is held while it is open
    search = table.search(text, search_type=search_type).select(*ProductOut.model_fields)
    search = search.limit(options.limit).filter(options.filters)
    if options.distance_threshold is not None:
        search = search.distance_threshold(options.distance_threshold)
    return search


def _scored(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Search results as the API names their scores."""
    return [
        {**row, "distance": row["_distance"], "match_score": row.get("_match_score"), "score": row["_score"]}
        for row in rows
    ]


def _nearest(
    table: Table, text: str, options: NearestOptions, search_type: SearchType = "vector"
) -> list[dict[str, Any]]:
    return _scored(_search(table, text, options, search_type).to_list())


def _recommended(recommendation: Recommendation) -> dict[str, Any]:
    by_similarity = recommendation.because in ("interest", "product")
    return {
        **recommendation.product,
        "score": recommendation.score,
        "distance": 1.0 - recommendation.score if by_similarity else None,
        "reason": recommendation.reason,
        "because": recommendation.because,
        "because_product": recommendation.because_product,
    }


def _within(rows: list[dict[str, Any]], distance_threshold: float | None) -> list[dict[str, Any]]:
    """The rows at most `distance_threshold` away; popular picks have no distance and stay."""
    if distance_threshold is None:
        return rows
    return [r for r in rows if r["distance"] is None or r["distance"] <= distance_threshold]


ShopperId = Annotated[
    str | None, Query(min_length=1, max_length=200, description="a shopper: profile and events")
]
Diversity = Annotated[
    float, Query(ge=0, le=1, description="with user_id: 0 ranks by similarity alone, 1 by variety")
]


@dataclass(frozen=True)
class Target:
    """Whom to recommend for: a profile text or a shopper, exactly one."""

    profile: str | None
    user_id: str | None


def _target(
    request: Request,
    credentials: Credentials,
    profile: ProfileText = None,
    user_id: ShopperId = None,
    token: QueryToken = None,
) -> Target:
    # a dependency: checked before a stream starts, so a bad request is a 422 or 401, not a cut stream
    if (profile is None) == (user_id is None):
        raise RequestValidationError(
            [{"loc": ["query", "profile"], "msg": "give either profile or user_id", "type": "missing"}]
        )
    # PostgreSQL cannot hold a NUL in text (SQLite can): refused here on both, before a stream starts
    for name, value in (("profile", profile), ("user_id", user_id)):
        if value is not None and "\x00" in value:
            raise RequestValidationError(
                [{"loc": ["query", name], "msg": "must not contain a NUL character", "type": "value_error"}]
            )
    if user_id is not None:  # a shopper's recommendations are theirs; a profile text's are anyone's
        for_shopper(request, credentials, user_id, token)
    return Target(profile, user_id)


For = Annotated[Target, Depends(_target)]


def _profile_items(rows: list[dict[str, Any]], profile: str) -> list[dict[str, Any]]:
    reason = f"matches “{' '.join(profile.split())}”"
    return [{**row, "reason": reason, "because": "interest"} for row in rows]


@router.get(
    "/recommendations",
    response_model=list[RecommendedProduct],
    responses=problems(401),
    openapi_extra=OPTIONAL_TOKEN,
)
def recommendations(
    shop: ShopDep, options: Options, target: For, diversity: Diversity = 0.3
) -> list[dict[str, Any]]:
    """Products for a shopper (`user_id`) or a profile text (`profile`), best first, each with why.

    A shopper's results blend their profile with what they viewed, liked, put in the cart and
    bought, leave out what they dismissed or already saw, and change with their very next event.
    They want the service token or a shopper token for them (`Authorization`, or `?token=`); a
    profile text's are open to anyone.
    """
    if target.profile is not None:
        return _profile_items(_nearest(shop.table, target.profile, options), target.profile)
    results = shop.recommender.for_user(
        target.user_id, limit=options.limit, filters=options.filters, diversity=diversity
    )
    return _within([_recommended(r) for r in results], options.distance_threshold)


_ITEMS = pydantic.TypeAdapter(list[RecommendedProduct])


def _open_live(
    shop: Shop, options: NearestOptions, target: Target, diversity: float
) -> tuple[LiveResult, Callable[[Any], list[dict[str, Any]]]]:
    """A live query for these parameters and how to turn its result into `/recommendations` items."""
    profile, user_id = target.profile, target.user_id
    if profile is not None:
        live = _search(shop.table, profile, options).live()
        return live, lambda rows: _profile_items(_scored(rows), profile)
    live = shop.recommender.live_for_user(
        user_id, limit=options.limit, filters=options.filters, diversity=diversity
    )
    return live, lambda results: _within([_recommended(r) for r in results], options.distance_threshold)


@router.get(
    "/recommendations/stream",
    response_class=EventSourceResponse,
    responses={
        200: {"description": '`{"items": [...]}` now, then each time the recommendations change'},
        422: {"description": "bad parameters"},
        **problems(401, 429, 503),
    },
    openapi_extra=OPTIONAL_TOKEN,
    dependencies=[StreamSlot],
)
async def recommendations_stream(
    shop: ShopDep, options: Options, target: For, diversity: Diversity = 0.3
) -> AsyncIterator[ServerSentEvent]:
    """`GET /recommendations`, live: Server-Sent Events whose data is `{"items": [...]}` with the items
    `GET /recommendations` returns, once at connect and then each time they change (a product
    added, edited or removed by anyone, the shopper's events or profile), never otherwise.

    Streams with the same parameters share one evaluation on the server.
    """
    # opened on the streams' own threads; a client gone before it is open leaves nothing behind
    live, items = await open_handle(
        shop.workers.streams, lambda: _open_live(shop, options, target, diversity)
    )
    try:
        yield ServerSentEvent(comment="recommendations follow", retry=1000)
        async for result in live.changes():
            key = (live.key, live.seen, options.distance_threshold)
            message = shop.messages.get(key)
            if message is None:
                checked = _ITEMS.validate_python(items(result))
                message = json.dumps({"items": _ITEMS.dump_python(checked, mode="json")})
                shop.messages.put(key, message)
            yield ServerSentEvent(raw_data=message)  # encoded once for every stream of the query
    finally:
        live.close()


@router.get(
    "/products/{product_id}/similar", response_model=list[RecommendedProduct], responses=problems(404)
)
def similar_products(shop: ShopDep, product_id: str, options: Options) -> list[dict[str, Any]]:
    """ "More like this": the products nearest to this one, itself left out."""
    existing_product(shop.table, product_id)
    results = shop.recommender.similar(product_id, limit=options.limit, filters=options.filters)
    return _within([_recommended(r) for r in results], options.distance_threshold)


@router.get("/search", response_model=list[ScoredProduct])
def search(
    shop: ShopDep,
    options: Options,
    q: SearchText,
    search_type: Annotated[
        SearchType,
        Query(
            description="vector: nearest in meaning to the description; fulltext: BM25 on the name and "
            "description; hybrid: both rankings fused (reciprocal rank fusion)"
        ),
    ] = "vector",
) -> list[dict[str, Any]]:
    """Products ranked for the search text: by meaning, by its words, or by both."""
    return _nearest(shop.table, q, options, search_type)
