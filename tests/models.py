"""Schemas and a small catalog shared by the tests."""

from __future__ import annotations

from livevec import EmbeddingFunction, Field, TableModel

embed = EmbeddingFunction("local/all-MiniLM-L6-v2")


class Product(TableModel):
    __tablename__ = "products"
    id: int = Field(primary_key=True)
    name: str
    description: str
    description_vec: list[float] = embed.VectorField(source_field="description")
    category: str
    price: float


CATALOG = [
    dict(
        id=1,
        name="Yoga mat",
        description="A non-slip mat for yoga and pilates",
        category="fitness",
        price=20.0,
    ),
    dict(
        id=2,
        name="Football",
        description="A leather football for weekend matches",
        category="sports",
        price=30.0,
    ),
    dict(
        id=3,
        name="Running shoes",
        description="Light running shoes for marathon training",
        category="sports",
        price=90.0,
    ),
    dict(
        id=4,
        name="Lipstick",
        description="A red matte lipstick that lasts all day",
        category="beauty",
        price=12.0,
    ),
    dict(
        id=5,
        name="Espresso beans",
        description="Dark roasted coffee beans for espresso",
        category="groceries",
        price=15.0,
    ),
    dict(
        id=6,
        name="Dumbbells",
        description="A pair of adjustable dumbbells for strength training",
        category="fitness",
        price=60.0,
    ),
    dict(
        id=7,
        name="Tennis racket",
        description="A carbon tennis racket for club players",
        category="sports",
        price=120.0,
    ),
    dict(
        id=8,
        name="Face cream",
        description="A moisturising face cream for dry skin",
        category="beauty",
        price=25.0,
    ),
]
