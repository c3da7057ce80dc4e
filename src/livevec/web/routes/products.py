"""The catalog: anyone reads it; creating, changing, deleting and importing products need the token."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError

from ..._errors import DuplicateKeyError, FilterError, ValidationError
from ..._table import Table
from ...filters import compile_filters
from ...sql_filters import parse_filter
from .._imports import IMPORT_TYPES, parse_import
from .._models import (
    EDITABLE,
    INT64_MAX,
    ImportResult,
    ProductCreate,
    ProductOut,
    ProductPage,
    ProductUpdate,
    problems,
    product_row,
)
from .._security import IMPORT_PATH, service_only
from .._shop import ShopDep, existing_product
from .._workers import run

reads = APIRouter(prefix="/products", tags=["products"])
writes = APIRouter(
    prefix="/products", tags=["products"], dependencies=[Depends(service_only)], responses=problems(401)
)
# the import is a write too; a router of its own lets create_app give it its larger body limit
imports = APIRouter(tags=["products"], dependencies=[Depends(service_only)], responses=problems(401))

Price = Annotated[float | None, Query(ge=0, allow_inf_nan=False)]


FilterText = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=2000,
        description="a SQL condition on the products' fields, as `Table.filter` reads one: "
        "`price < 50 and category in ('Bags', 'Gear')`, `name like 'Yoga%'` (livevec.sql_filters)",
    ),
]


def product_filters(
    table: Table,
    category: str | None,
    min_price: float | None,
    max_price: float | None,
    condition: str | None = None,
) -> dict:
    """The filters the query's options mean, checked against `table` (a bad `filter` is a 422 that
    names what is wrong, raised before anything runs, and before a stream starts)."""
    filters: dict[str, Any] = {}
    if category is not None:
        filters["category"] = category
    price = {op: v for op, v in (("$gte", min_price), ("$lte", max_price)) if v is not None}
    if price:
        filters["price"] = price
    if condition is None:
        return filters
    try:
        if "\x00" in condition:  # PostgreSQL holds no NUL in text: refused on both stores alike
            raise FilterError("holds a NUL character", field="filters")
        parsed = parse_filter(condition)
        combined = {"$and": [filters, parsed]} if filters else parsed
        compile_filters(combined, table.spec)  # names and values checked as a search checks them
    except FilterError as exc:
        raise RequestValidationError(
            [{"loc": ["query", "filter"], "msg": str(exc), "type": "value_error"}]
        ) from None
    return combined


@reads.get("", response_model=ProductPage)
def list_products(
    shop: ShopDep,
    offset: Annotated[int, Query(ge=0, le=INT64_MAX)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    category: Annotated[str | None, Query(max_length=200)] = None,
    min_price: Price = None,
    max_price: Price = None,
    order_by: Literal["id", "name", "category", "price", "-price"] = "id",
    filter: FilterText = None,
) -> dict[str, Any]:
    """A page of products, filtered and ordered; `total` counts every match."""
    filters = product_filters(shop.table, category, min_price, max_price, filter)
    rows = shop.table.query(filters, order_by=order_by, limit=limit, offset=offset).to_list()
    return {"items": rows, "total": shop.table.count(filters), "offset": offset, "limit": limit}


@reads.get("/{product_id}", response_model=ProductOut, responses=problems(404))
def get_product(shop: ShopDep, product_id: str) -> Any:
    return existing_product(shop.table, product_id)


@writes.post("", response_model=ProductOut, status_code=201, responses=problems(409, 413, 415))
def create_product(shop: ShopDep, product: ProductCreate) -> Any:
    """Add a product; its description is embedded before the call returns.

    An id may hold any text but "/" (and may not be "." or ".."), so that `/products/{id}` reaches it.
    """
    row = product_row(product)
    try:
        return shop.table.insert(row)
    except DuplicateKeyError:
        raise HTTPException(409, f"a product with id {row['id']!r} already exists") from None


@writes.patch("/{product_id}", response_model=ProductOut, responses=problems(404, 413, 415))
def update_product(shop: ShopDep, product_id: str, changes: ProductUpdate) -> Any:
    """Change some fields of a product; a new description is embedded again."""
    values = changes.model_dump(exclude_unset=True)
    if not values:
        raise ValidationError(f"give at least one of the fields {list(EDITABLE)}")
    if shop.table.update(values, {"id": product_id}) == 0:
        raise HTTPException(404, f"no product with id {product_id!r}")
    return existing_product(shop.table, product_id)


@writes.delete("/{product_id}", status_code=204, responses=problems(404))
def delete_product(shop: ShopDep, product_id: str) -> Response:
    if shop.table.delete({"id": product_id}) == 0:
        raise HTTPException(404, f"no product with id {product_id!r}")
    return Response(status_code=204)


@imports.post(
    IMPORT_PATH,
    response_model=ImportResult,
    responses=problems(413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {media_type: {"schema": {"type": "string"}} for media_type in IMPORT_TYPES},
        }
    },
)
async def import_products(shop: ShopDep, request: Request) -> dict[str, int]:
    """Add or replace many products: JSON lines or CSV with the product fields. All of them or none.

    The Content-Type says which (`text/csv`, or `application/x-ndjson` / `application/jsonl`); an id
    may appear once. The answer counts the new products and those that replaced one with their id.
    """
    body = await request.body()
    csv = request.headers.get("content-type", "").lower().startswith("text/csv")
    # parsing, and embedding the new descriptions, take a while: the event loop goes on meanwhile
    rows = await run(shop.workers.imports, parse_import, body, "csv" if csv else "jsonl")
    return await run(shop.workers.imports, _upsert, shop.table, rows)


def _upsert(table: Table, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Write the rows; counts as seen just before (a writer elsewhere may add one of the ids meanwhile)."""
    ids = [row["id"] for row in rows]
    replaced = sum(table.count({"id": {"$in": ids[i : i + 500]}}) for i in range(0, len(ids), 500))
    table.upsert(rows)
    return {"created": len(rows) - replaced, "replaced": replaced}
