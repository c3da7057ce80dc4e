"""The API's request and response bodies, made from the `Product` schema so the rules live in one place."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
from pydantic.fields import FieldInfo

from ..demo import Product
from ..recommend import EventKind

EDITABLE = ("name", "description", "category", "price")
INT64_MAX = 2**63 - 1  # the largest integer a column, an offset or a change seq holds
_STRICT = pydantic.ConfigDict(extra="forbid")


def _field(name: str, *, optional: bool = False) -> tuple[Any, FieldInfo]:
    info = Product.model_fields[name]
    annotation = info.annotation
    if float in getattr(annotation, "__args__", (annotation,)):
        # NaN and infinities (JSON's NaN, Infinity and 1e400 parse as such) cannot be stored
        annotation = Annotated[annotation, pydantic.Field(allow_inf_nan=False)]
    if not optional:
        return annotation, info
    # for PATCH: every field may be left out; the field's own checks still apply to a given value
    return annotation | None, FieldInfo.merge_field_infos(info, default=None)


def _addressable(product_id: str | None) -> str | None:
    """An id must survive a trip through a URL path: `/products/{id}` cannot hold "/", ".", ".."."""
    if product_id is not None and ("/" in product_id or product_id in (".", "..")):
        raise ValueError('cannot be part of a URL: no "/", and not "." or ".."')
    return product_id


ProductCreate = pydantic.create_model(
    "ProductCreate",
    __config__=_STRICT,
    __doc__="A new product; the id is made up when left out. The description is embedded.",
    __validators__={"addressable_id": pydantic.field_validator("id")(_addressable)},
    id=_field("id", optional=True),
    **{name: _field(name) for name in EDITABLE},
)


def product_row(product: pydantic.BaseModel) -> dict[str, Any]:
    """A validated new product (`ProductCreate`) as a row to insert, its id made up if it has none."""
    row = product.model_dump()
    return {**row, "id": row["id"] or uuid.uuid4().hex[:12]}


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
    """How many products of the import were new, and how many replaced one with the same id."""

    created: int
    replaced: int


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


class Problem(pydantic.BaseModel):
    """Why the request was refused."""

    detail: str


class ShopperToken(pydantic.BaseModel):
    """A shopper token (a JWT) and when it expires, in unix seconds."""

    token: str
    expires_at: int


class AuthStatus(pydantic.BaseModel):
    """Whether catalog writes need the server's token, and whether this request holds it."""

    token_required: bool
    authorized: bool


class Status(pydantic.BaseModel):
    status: Literal["ok", "ready"]


class FieldProblem(pydantic.BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Invalid(pydantic.BaseModel):
    """What is wrong with the request, field by field (FastAPI's 422, without the rejected input)."""

    detail: list[FieldProblem]


PROBLEMS = {
    400: "the Host header names no host this server answers to, the path is not UTF-8, or the body "
    "cannot be parsed",
    401: "this request needs `Authorization: Bearer <token>`: the token the server was started with, or "
    "for a shopper's own data a shopper token for them",
    403: "a cross-site request: its Origin is not this server",
    404: "no such product or shopper",
    409: "a product with this id already exists",
    413: "the body is larger than the server takes (--max-body, --max-import)",
    415: "the body's Content-Type is not one this request takes",
    422: "a value is missing, of the wrong type or out of bounds: `loc` names it",
    431: "the request line and headers are larger than the server takes (--max-head)",
    429: "this client has as many streams open as it may (see Retry-After)",
    503: "the database is unreachable or busy, or the server has as many streams open as it may: try again",
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these refusals: a `Problem`, or for 422 an `Invalid`."""
    return {
        code: {"model": Invalid if code == 422 else Problem, "description": PROBLEMS[code]} for code in codes
    }
