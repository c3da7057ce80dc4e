"""The demo shop: its product schema and the bundled catalog (Magento Luma + DummyJSON products)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from ._database import Database, connect
from ._schema import Field, TableModel
from ._table import Table
from .embeddings import EmbeddingFunction

CATALOG_FILES = ("luma_products.jsonl", "dummyjson_products.jsonl")

embed = EmbeddingFunction()
# what the shop's vectors embed; ["name", "category", "description"] measures better on search
# (benchmarks/multifield.py) but moves the rankings the tests of the shop expect: not the default yet
EMBEDDED_FIELDS = ["description"]


class Product(TableModel):
    __tablename__ = "products"
    id: str = Field(primary_key=True, min_length=1, max_length=64)
    name: str = Field(fulltext=True, min_length=1, max_length=300)
    description: str = Field(fulltext=True, min_length=1, max_length=20_000)
    description_vec: list[float] = embed.VectorField(source_field=EMBEDDED_FIELDS[0])
    category: str = Field(max_length=200)
    price: float | None = Field(default=None, ge=0)


def load_catalog() -> list[dict[str, Any]]:
    """The ~390 bundled products as dicts with the `Product` fields."""
    products = []
    folder = resources.files("livevec") / "data"
    for name in CATALOG_FILES:
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            products.append({k: item[k] for k in ("id", "name", "description", "category", "price")})
    return products


def shop_model(embedded_fields: list[str] | None = None) -> type[Product]:
    """`Product`, or a variant whose vector embeds these text fields together, one per line (e.g.
    `["name", "category", "description"]`; the default is `EMBEDDED_FIELDS`, the description)."""
    if embedded_fields is None or list(embedded_fields) == EMBEDDED_FIELDS:
        return Product

    class ShopProduct(Product):
        description_vec: list[float] = embed.VectorField(source_field=list(embedded_fields))

    return ShopProduct


def open_shop(path: str | Path, embedded_fields: list[str] | None = None) -> tuple[Database, Table]:
    """The shop database at `path`, with the catalog loaded on first use. `embedded_fields`: what a
    new shop's vectors embed (`EMBEDDED_FIELDS` by default); an existing shop keeps what it has."""
    db = connect(path)
    table = db.create_table(schema=shop_model(embedded_fields), if_exists="skip")
    if table.count() == 0:
        table.insert(load_catalog())
    return db, table
