"""`Recommender` on a real SQLite file, the real local model and real catalog products."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

import livevec
from livevec.demo import Product, embed, load_catalog

from . import models

KITCHEN = "kitchen-accessories"
WATCH = "24-MG01"  # Endurance Watch
STRAPS = ("24-WG085", "24-WG086", "24-WG087", "24-WG085_Group")  # four near-identical yoga straps


@pytest.fixture(scope="module")
def catalog():
    """Luma gear and training videos plus kitchen tools, embedded once for the whole module."""
    rows = [p for p in load_catalog() if p["category"] in ("Gear", "Training", KITCHEN)]
    vectors = embed.embed_documents([r["description"] for r in rows])
    return [{**r, "description_vec": v} for r, v in zip(rows, vectors, strict=True)]


@pytest.fixture
def shop(db, catalog):
    table = db.create_table(schema=Product)
    table.insert(catalog)
    return table


@pytest.fixture
def rec(shop):
    return livevec.Recommender(shop)


def ids(results):
    return [r.product["id"] for r in results]


def score_of(rec, user, product_id, **options):
    """The product's similarity to the user's taste (it must be recommendable)."""
    ranked = rec.for_user(user, limit=200, diversity=0.0, **options)
    return next(r.score for r in ranked if r.product["id"] == product_id)


def unit(vector):
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def nearest_neighbour(rec, product_id):
    return rec.similar(product_id, limit=1)[0].product["id"]


def test_the_readme_example_runs_with_integer_keys(db):
    table = db.create_table(schema=models.Product)
    table.insert(models.CATALOG)
    rec = livevec.Recommender(table)
    rec.set_profile("ann", "yoga at home, and good coffee")
    rec.record("ann", 1, "like")
    results = rec.for_user("ann", limit=10, filters={"price": {"$lt": 50}}, diversity=0.3)
    assert results and all(r.product["price"] < 50 and r.product["id"] != 1 for r in results)
    assert "Espresso beans" in [r.product["name"] for r in results[:3]]
    assert {r.reason for r in results} >= {"matches your interest “yoga at home, and good coffee”"}
    similar = rec.similar(1, limit=5)
    assert len(similar) == 5 and 1 not in ids(similar)
    assert all(r.because_product == 1 and r.reason == "similar to “Yoga mat”" for r in similar)


def test_users_and_events_are_tables_of_the_same_database(db, db_path, shop, rec):
    rec.set_profile("ann", "yoga at home")
    rec.record("ann", WATCH, "view")
    rec.record("bob", "24-WG084", "like")
    assert {"products_users", "products_events"} <= set(db.tables())
    assert [(u.user_id, u.profile) for u in rec.users()] == [("ann", "yoga at home"), ("bob", None)]
    # another connection (as another process would open it) sees the same users and events
    with livevec.connect(db_path) as other:
        again = livevec.Recommender(other.open_table("products", schema=Product))
        assert again.user("ann").profile == "yoga at home"
        assert [(e.product_id, e.kind) for e in again.events("ann")] == [(WATCH, "view")]
        assert ids(again.for_user("ann")) == ids(rec.for_user("ann"))


def test_a_profile_alone_gives_results_that_match_it(rec):
    rec.set_profile("ann", "I practise yoga and pilates")
    results = rec.for_user("ann", limit=5)
    assert len(results) == 5
    assert all("yoga" in (r.product["name"] + r.product["description"]).lower() for r in results)
    assert all(r.because == "interest" and "yoga and pilates" in r.reason for r in results)
    assert all("description_vec" not in r.product for r in results)


@pytest.mark.parametrize("kind", ["view", "like", "cart", "purchase"])
def test_each_positive_event_pulls_the_taste_towards_its_product(rec, kind):
    neighbour = nearest_neighbour(rec, WATCH)
    rec.set_profile("ann", "cooking tools for my kitchen")
    before = score_of(rec, "ann", neighbour)
    rec.record("ann", WATCH, kind)
    after = score_of(rec, "ann", neighbour)
    assert after > before + 0.02
    assert WATCH not in ids(rec.for_user("ann", limit=200))  # seen: not recommended again


def test_stronger_kinds_pull_harder(rec):
    neighbour = nearest_neighbour(rec, WATCH)
    scores = []
    for kind in ("view", "like", "cart", "purchase"):
        rec.set_profile(kind, "cooking tools for my kitchen")
        rec.record(kind, WATCH, kind)
        scores.append(score_of(rec, kind, neighbour))
    assert scores == sorted(scores) and len(set(scores)) == 4


def test_a_dismissal_removes_the_product_and_pushes_its_neighbours_down(rec):
    rec.set_profile("ann", "yoga straps and blocks")
    assert "24-WG085" in ids(rec.for_user("ann", limit=10, diversity=0.0))
    before = score_of(rec, "ann", "24-WG086")
    rec.record("ann", "24-WG085", "dismiss")
    assert "24-WG085" not in ids(rec.for_user("ann", limit=200, exclude_seen=False))
    assert score_of(rec, "ann", "24-WG086") < before


def test_seen_and_purchased_exclusions(rec):
    rec.set_profile("ann", "yoga")
    rec.record("ann", "24-WG084", "view")
    rec.record("ann", "24-WG088", "purchase")
    rec.record("ann", "24-WG080", "dismiss")
    default = ids(rec.for_user("ann", limit=200))
    assert not {"24-WG084", "24-WG088", "24-WG080"} & set(default)
    seen_too = ids(rec.for_user("ann", limit=200, exclude_seen=False))
    assert "24-WG084" in seen_too and "24-WG088" not in seen_too and "24-WG080" not in seen_too
    everything = ids(rec.for_user("ann", limit=200, exclude_seen=False, exclude_purchased=False))
    assert "24-WG088" in everything and "24-WG080" not in everything


def test_old_events_fade_with_the_half_life(shop):
    now = datetime.now(UTC)
    rec = livevec.Recommender(shop, half_life=timedelta(days=7))
    rec.record("ann", WATCH, "like", at=now - timedelta(days=60))  # about 1/380 of a like today
    rec.record("ann", "dj-52", "like", at=now)  # Carbon Steel Wok
    top = rec.for_user("ann", limit=5, diversity=0.0)
    assert all(r.product["category"] == KITCHEN for r in top)
    assert all(r.because_product == "dj-52" for r in top)

    # the same two events, the other way round in time
    rec.record("bob", WATCH, "like", at=now)
    rec.record("bob", "dj-52", "like", at=now - timedelta(days=60))
    assert all(r.product["category"] != KITCHEN for r in rec.for_user("bob", limit=5, diversity=0.0))

    # with a half-life of years the old like still counts almost fully
    patient = livevec.Recommender(shop, half_life=timedelta(days=3650))
    neighbour = nearest_neighbour(rec, WATCH)
    assert score_of(patient, "ann", neighbour) > score_of(rec, "ann", neighbour) + 0.1
    assert WATCH in {r.because_product for r in patient.for_user("ann", limit=10, diversity=0.0)}


def test_diversity_spreads_the_results(rec):
    rec.set_profile("ann", "a strap to stretch in yoga class")

    def mean_similarity(results):
        vectors = np.array([unit(rec.table.get(r.product["id"]).description_vec) for r in results])
        sims = vectors @ vectors.T
        return (sims.sum() - len(results)) / (len(results) * (len(results) - 1))

    focused = rec.for_user("ann", limit=6, diversity=0.0)
    varied = rec.for_user("ann", limit=6, diversity=0.7)
    assert [r.score for r in focused] == sorted((r.score for r in focused), reverse=True)
    assert set(STRAPS) <= set(ids(focused))  # the near-duplicates crowd the plain ranking
    assert len(set(STRAPS) & set(ids(varied))) <= 2
    assert ids(varied)[0] == ids(focused)[0]  # the best match still leads
    assert mean_similarity(varied) < mean_similarity(focused) - 0.05


def test_each_result_names_the_interest_or_product_it_is_closest_to(rec):
    rec.set_profile("ann", "cooking tools for my kitchen")
    rec.record("ann", WATCH, "cart")
    results = rec.for_user("ann", limit=20, diversity=0.0)
    reasons = {r.because for r in results}
    assert reasons == {"interest", "product"}
    profile = unit(embed.embed_query("cooking tools for my kitchen"))
    watch = unit(rec.table.get(WATCH).description_vec)
    for r in results:
        vector = unit(rec.table.get(r.product["id"]).description_vec)
        if r.because == "product":
            assert r.because_product == WATCH and vector @ watch > vector @ profile
            assert r.reason == "because you put in your cart “Endurance Watch”"
            assert r.product["category"] != KITCHEN
        else:
            assert r.because_product is None and vector @ profile > vector @ watch
            assert r.reason == "matches your interest “cooking tools for my kitchen”"
            assert r.product["category"] == KITCHEN


def test_the_reason_uses_the_strongest_kind_of_event(rec):
    rec.record("ann", WATCH, "view")
    rec.record("ann", WATCH, "purchase")
    assert rec.for_user("ann", limit=1)[0].reason == "because you bought “Endurance Watch”"


def test_cold_start_gives_popular_products_within_the_filters(rec):
    assert {r.because for r in rec.for_user("new")} == {"catalog"}  # nobody did anything yet
    now = datetime.now(UTC)
    rec.record("u1", "dj-52", "purchase")  # 2.0
    rec.record("u2", "dj-52", "view")  # 0.3
    rec.record("u2", "24-MG02", "like")  # 1.0
    rec.record("u3", "dj-64", "cart")  # 1.5
    rec.record("u3", "24-WG084", "view")  # 0.3
    rec.record("u3", "24-WG088", "view", at=now - timedelta(days=45))  # outside the 30-day window
    rec.record("u3", "dj-60", "dismiss")  # dismissals make nothing popular
    results = rec.for_user("new", limit=5)
    assert ids(results)[:4] == ["dj-52", "dj-64", "24-MG02", "24-WG084"]
    assert [r.because for r in results] == ["popular"] * 4 + ["catalog"]
    assert results[0].reason == "popular right now" and results[0].score == pytest.approx(2.3, rel=1e-3)
    assert "24-WG088" not in ids(results[:4])

    gear = rec.for_user("new", limit=3, filters={"category": "Gear"})
    assert ids(gear)[:2] == ["24-MG02", "24-WG084"] and all(r.product["category"] == "Gear" for r in gear)

    rec.record("new", "dj-52", "dismiss")  # only a dismissal: still a cold start, without it
    assert ids(rec.for_user("new", limit=3)) == ["dj-64", "24-MG02", "24-WG084"]


def test_an_event_changes_the_very_next_call(rec):
    rec.set_profile("ann", "cooking tools for my kitchen")
    before = rec.for_user("ann", limit=5, diversity=0.0)
    rec.record("ann", WATCH, "purchase")
    rec.record("ann", "24-MG02", "like")
    after = rec.for_user("ann", limit=5, diversity=0.0)
    assert ids(after) != ids(before)
    assert any(r.because == "product" for r in after)


def test_edited_and_removed_products_change_results_without_a_rebuild(rec, shop):
    rec.record("ann", WATCH, "like")
    assert all("watch" in r.product["description"].lower() for r in rec.for_user("ann", limit=3))

    # the liked product becomes a kitchen product: the taste follows its new vector
    shop.update({"description": "A heavy cast iron skillet for searing and frying."}, {"id": WATCH})
    assert any(r.product["category"] == KITCHEN for r in rec.for_user("ann", limit=3, diversity=0.0))

    top = rec.for_user("ann", limit=3, diversity=0.0)[0].product["id"]
    shop.delete({"id": top})
    assert top not in ids(rec.for_user("ann", limit=200))

    new = dict(id="pan-1", name="Skillet", description="A cast iron skillet for frying.", category=KITCHEN)
    shop.insert(new)
    assert rec.for_user("ann", limit=1, diversity=0.0)[0].product["id"] == "pan-1"

    shop.delete({"id": WATCH})  # the only product the user liked is gone: back to the cold start
    assert {r.because for r in rec.for_user("ann")} == {"catalog"}


def test_similar_leaves_the_product_out_and_respects_filters(rec):
    results = rec.similar("24-WG085", limit=5)
    assert "24-WG085" not in ids(results)
    assert set(ids(results)[:3]) <= set(STRAPS)
    assert results[0].reason == "similar to “Sprite Yoga Strap 6 foot”"
    assert results[0].because_product == "24-WG085"
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
    kitchen = rec.similar("24-WG085", limit=3, filters={"category": KITCHEN})
    assert len(kitchen) == 3 and all(r.product["category"] == KITCHEN for r in kitchen)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda r: r.record("ann", WATCH, "love"), "kind"),
        (lambda r: r.record("ann", "no-such-product", "like"), "product_id"),
        (lambda r: r.record("ann", ["x"], "like"), "product_id"),
        (lambda r: r.record("", WATCH, "like"), "user_id"),
        (lambda r: r.record(7, WATCH, "like"), "user_id"),
        (lambda r: r.record("ann", WATCH, "like", at=datetime(2024, 1, 1)), "at"),
        (lambda r: r.set_profile("ann", "   "), "profile"),
        (lambda r: r.set_profile("ann", "x" * 5001), "profile"),
        (lambda r: r.for_user("ann", limit=0), "limit"),
        (lambda r: r.for_user("ann", diversity=1.5), "diversity"),
        (lambda r: r.for_user("ann", filters={"colour": "red"}), "colour"),
        (lambda r: r.similar("no-such-product"), "product_id"),
        (lambda r: r.similar(WATCH, limit="ten"), "limit"),
        (lambda r: r.events("ann", limit=-1), "limit"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(rec, call, field):
    with pytest.raises(livevec.ValidationError) as info:
        call(rec)
    assert info.value.field == field
    assert rec.users() == [] and rec.events_table.count() == 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"half_life": timedelta(0)}, "half_life"),
        ({"popular_window": 30}, "popular_window"),
        ({"weights": {"share": 1.0}}, "weights"),
        ({"weights": {"like": float("nan")}}, "weights['like']"),
        ({"profile_weight": -1}, "profile_weight"),
        ({"vector_column": "name"}, "vector_column"),
        ({"label_field": "title"}, "label_field"),
        ({"history": 0}, "history"),
    ],
)
def test_bad_options_are_refused(shop, options, field):
    with pytest.raises(livevec.ValidationError) as info:
        livevec.Recommender(shop, **options)
    assert info.value.field == field
