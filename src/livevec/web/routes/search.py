"""Finding products: nearest to a profile or search text, a shopper's recommendations, more like this."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pydantic
from fastapi import APIRouter, Depends, Query
from fastapi.exceptions import RequestValidationError

from ..._table import Table
from ...recommend import Recommendation
from ...search import SearchType
from .._models import RecommendedProduct, ScoredProduct, problems
from .._shop import ShopDep, existing_product
from .products import Price, product_filters

router = APIRouter(tags=["recommendations"])


@dataclass(frozen=True)
class NearestOptions:
    """The options /recommendations, /search and /similar share."""

    limit: int
    distance_threshold: float | None
    filters: dict[str, Any]


def _nearest_options(
    limit: Annotated[int, Query(ge=1, le=100, description="how many products")] = 10,
    distance_threshold: Annotated[
        float | None, Query(ge=0, le=2, description="keep products at most this cosine distance away")
    ] = None,
    category: Annotated[str | None, Query(max_length=200, description="only this category")] = None,
    min_price: Price = None,
    max_price: Price = None,
) -> NearestOptions:
    return NearestOptions(limit, distance_threshold, product_filters(category, min_price, max_price))


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


def _nearest(
    table: Table, text: str, options: NearestOptions, search_type: SearchType = "vector"
) -> list[dict[str, Any]]:
    search = table.search(text, search_type=search_type).limit(options.limit).filter(options.filters)
    if options.distance_threshold is not None:
        search = search.distance_threshold(options.distance_threshold)
    return [
        {**row, "distance": row["_distance"], "match_score": row.get("_match_score"), "score": row["_score"]}
        for row in search.to_list()
    ]


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


@router.get("/recommendations", response_model=list[RecommendedProduct])
def recommendations(
    shop: ShopDep,
    options: Options,
    profile: ProfileText = None,
    user_id: Annotated[
        str | None, Query(min_length=1, max_length=200, description="a shopper: profile and events")
    ] = None,
    diversity: Annotated[
        float, Query(ge=0, le=1, description="with user_id: 0 ranks by similarity alone, 1 by variety")
    ] = 0.3,
) -> list[dict[str, Any]]:
    """Products for a shopper (`user_id`) or a profile text (`profile`), best first, each with why.

    A shopper's results blend their profile with what they viewed, liked, put in the cart and
    bought, leave out what they dismissed or already saw, and change with their very next event.
    """
    if (profile is None) == (user_id is None):
        raise RequestValidationError(
            [{"loc": ["query", "profile"], "msg": "give either profile or user_id", "type": "missing"}]
        )
    if profile is not None:
        reason = f"matches “{' '.join(profile.split())}”"
        rows = _nearest(shop.table, profile, options)
        return [{**row, "reason": reason, "because": "interest"} for row in rows]
    results = shop.recommender.for_user(
        user_id, limit=options.limit, filters=options.filters, diversity=diversity
    )
    return _within([_recommended(r) for r in results], options.distance_threshold)


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
