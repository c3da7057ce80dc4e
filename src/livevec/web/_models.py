"""The API's request and response bodies, made from the `Product` schema so the rules live in one place."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import pydantic
from pydantic.fields import FieldInfo

from ..demo import Product
from ..recommend import EventKind

EDITABLE = ("name", "description", "category", "price")
_STRICT = pydantic.ConfigDict(extra="forbid")


def _field(name: str, *, optional: bool = False) -> tuple[Any, FieldInfo]:
    info = Product.model_fields[name]
    if not optional:
        return info.annotation, info
    # for PATCH: every field may be left out; the field's own checks still apply to a given value
    return info.annotation | None, FieldInfo.merge_field_infos(info, default=None)


ProductCreate = pydantic.create_model(
    "ProductCreate",
    __config__=_STRICT,
    __doc__="A new product; the id is made up when left out. The description is embedded.",
    id=_field("id", optional=True),
    **{name: _field(name) for name in EDITABLE},
)

ProductUpdate = pydantic.create_model(
    "ProductUpdate",
    __config__=_STRICT,
    __doc__="The fields to change; a changed description is embedded again.",
    **{name: _field(name, optional=True) for name in EDITABLE},
)

ProductOut = pydantic.create_model(
    "ProductOut",
    __doc__="A product as the API returns it (without its vector).",
    **{name: (Product.model_fields[name].annotation, ...) for name in ("id", *EDITABLE)},
)


class ScoredProduct(ProductOut):
    """A product found by /search, with how it was ranked.

    vector: `distance` (0 is identical) and `score` = 1 - distance. fulltext: `match_score` (BM25,
    higher is better) and `score` = match_score; `distance` is null. hybrid: both, and `score` is their
    fusion. `match_score` is null in a vector search.
    """

    distance: float | None
    match_score: float | None = None
    score: float


class ProductPage(pydantic.BaseModel):
    items: list[ProductOut]
    total: int
    offset: int
    limit: int


class ImportResult(pydantic.BaseModel):
    imported: int


class RecommendedProduct(ProductOut):
    """A recommended product and why: distance 0 is identical, score = 1 - distance.

    At a cold start (a shopper with no profile and no events) `score` is the product's popularity
    (recent events of every shopper, weighted by kind) and `distance` is null.
    """

    score: float
    distance: float | None
    reason: str
    because: Literal["interest", "product", "popular", "catalog"]
    because_product: str | None = None


class ProfileIn(pydantic.BaseModel):
    """What the shopper likes, in words; null clears it."""

    model_config = _STRICT
    profile: str | None = pydantic.Field(max_length=5000)


class UserOut(pydantic.BaseModel):
    user_id: str
    profile: str | None


class EventIn(pydantic.BaseModel):
    """Something the shopper did with a product."""

    model_config = _STRICT
    product_id: str = pydantic.Field(min_length=1, max_length=64)
    kind: EventKind


class EventOut(EventIn):
    user_id: str
    at: datetime
