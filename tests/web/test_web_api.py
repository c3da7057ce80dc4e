"""The shop's HTTP API, through a real HTTP client, against `livevec demo` serving a real database file."""

from __future__ import annotations

import json
import uuid

import pytest

from livevec.demo import load_catalog

from .events import EventStream


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def product(**fields):
    return {
        "name": "Trail runner",
        "description": "Light trail running shoes with a grippy sole for muddy paths",
        "category": "shoes",
        "price": 89.5,
        **fields,
    }


def test_the_demo_serves_the_whole_catalog_the_page_and_the_docs(api, shop_db):
    page = api.get("/products", params={"limit": 1})
    assert page.status_code == 200
    assert page.json()["total"] >= len(load_catalog())
    html = api.get("/")
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    assert "Catalog admin" in html.text and "/static/shop.js" in html.text
    assert api.get("/static/shop.js").status_code == 200
    assert api.get("/docs").status_code == 200
    paths = api.get("/openapi.json").json()["paths"]
    for path in (
        "/products",
        "/products/{product_id}",
        "/products/import",
        "/recommendations",
        "/search",
        "/events",
    ):
        assert path in paths


def test_create_read_update_delete(api):
    created = api.post("/products", json=product(id=unique("crud")))
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "Trail runner" and body["price"] == 89.5
    assert "description_vec" not in body
    key = body["id"]
    assert api.get(f"/products/{key}").json() == body

    # a new description is embedded again: searching for it now finds this product first
    text = "A hand-carved wooden chess board with felt-lined storage for the pieces"
    changed = api.patch(f"/products/{key}", json={"description": text, "price": 95})
    assert changed.status_code == 200
    assert changed.json() == {**body, "description": text, "price": 95.0}
    assert api.get("/search", params={"q": text, "limit": 1}).json()[0]["id"] == key
    cleared = api.patch(f"/products/{key}", json={"price": None})
    assert cleared.status_code == 200 and cleared.json()["price"] is None

    assert api.delete(f"/products/{key}").status_code == 204
    for missing in (
        api.get(f"/products/{key}"),
        api.patch(f"/products/{key}", json={"price": 1}),
        api.delete(f"/products/{key}"),
    ):
        assert missing.status_code == 404
        assert key in missing.json()["detail"]


def test_an_id_is_made_up_when_left_out_and_a_taken_id_is_a_conflict(api):
    first = api.post("/products", json=product())
    assert first.status_code == 201 and first.json()["id"]
    again = api.post("/products", json=product(id=first.json()["id"], name="Another"))
    assert again.status_code == 409
    assert api.get(f"/products/{first.json()['id']}").json()["name"] == "Trail runner"
    api.delete(f"/products/{first.json()['id']}")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in product().items() if k != "name"}, "name"),
        (product(name=""), "name"),
        (product(price=-3), "price"),
        (product(price="cheap"), "price"),
        (product(colour="red"), "colour"),
        (product(description="   "), "description"),  # nothing to embed
        (product(id="x" * 65), "id"),
    ],
)
def test_bad_products_are_422_naming_the_field_and_write_nothing(api, body, field):
    before = api.get("/products", params={"limit": 1}).json()["total"]
    response = api.post("/products", json=body)
    assert response.status_code == 422
    assert [e["loc"][-1] for e in response.json()["detail"]] == [field]
    assert api.get("/products", params={"limit": 1}).json()["total"] == before


def test_bad_updates_are_422_and_change_nothing(api):
    key = api.post("/products", json=product(id=unique("upd"))).json()["id"]
    for body, field in (({"name": None}, "name"), ({"price": -1}, "price"), ({"id": "other"}, "id")):
        response = api.patch(f"/products/{key}", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"][0]["loc"][-1] == field
    empty = api.patch(f"/products/{key}", json={})
    assert empty.status_code == 422 and "at least one" in empty.json()["detail"][0]["msg"]
    assert api.get(f"/products/{key}").json()["name"] == "Trail runner"
    api.delete(f"/products/{key}")


def test_listing_pages_filters_and_orders(api):
    first = api.get("/products", params={"limit": 5, "offset": 0, "order_by": "name"}).json()
    second = api.get("/products", params={"limit": 5, "offset": 5, "order_by": "name"}).json()
    names = [p["name"] for p in first["items"] + second["items"]]
    assert len(names) == 10 and names == sorted(names)
    assert first["total"] == second["total"] and (first["offset"], second["offset"]) == (0, 5)

    fitness = api.get("/products", params={"category": "sports-accessories", "limit": 500}).json()
    assert fitness["total"] == len(fitness["items"]) > 0
    assert {p["category"] for p in fitness["items"]} == {"sports-accessories"}

    priced = api.get(
        "/products", params={"min_price": 10, "max_price": 20, "order_by": "-price", "limit": 500}
    ).json()
    prices = [p["price"] for p in priced["items"]]
    assert prices and all(10 <= p <= 20 for p in prices) and prices == sorted(prices, reverse=True)

    for params, field in (
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"order_by": "vec"}, "order_by"),
    ):
        response = api.get("/products", params=params)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["query", field]


def test_recommendations_rank_by_profile_with_every_parameter(api):
    params = {"profile": "a user likes sports", "limit": 8}
    items = api.get("/recommendations", params=params).json()
    assert len(items) == 8
    distances = [p["distance"] for p in items]
    assert distances == sorted(distances)
    assert all(p["score"] == pytest.approx(1 - p["distance"]) for p in items)
    assert sum("sport" in (p["category"] + p["name"] + p["description"]).lower() for p in items) >= 4

    near = api.get("/recommendations", params={**params, "distance_threshold": distances[2]}).json()
    assert [p["id"] for p in near] == [p["id"] for p in items[:3]]

    filtered = api.get(
        "/recommendations",
        params={**params, "category": "mens-shoes", "min_price": 50, "max_price": 150},
    ).json()
    assert filtered and all(p["category"] == "mens-shoes" and 50 <= p["price"] <= 150 for p in filtered)

    coffee = api.get("/search", params={"q": "coffee for my morning espresso", "limit": 3}).json()
    assert "coffee" in coffee[0]["name"].lower()


def test_a_sql_filter_narrows_lists_searches_and_recommendations(api):
    condition = "price between 10 and 40 and category in ('mens-shoes', 'sports-accessories')"
    listed = api.get("/products", params={"filter": condition, "limit": 500}).json()
    assert listed["total"] == len(listed["items"]) > 0
    assert all(
        10 <= p["price"] <= 40 and p["category"] in ("mens-shoes", "sports-accessories")
        for p in listed["items"]
    )
    every = api.get("/products", params={"limit": 500}).json()["items"]
    assert listed["total"] == sum(
        p["price"] is not None
        and 10 <= p["price"] <= 40
        and p["category"] in ("mens-shoes", "sports-accessories")
        for p in every
    )
    # beside the other options: both apply
    both = api.get("/products", params={"filter": condition, "max_price": 20, "limit": 500}).json()
    assert both["total"] == sum(p["price"] <= 20 for p in listed["items"])
    for path, params in (
        ("/recommendations", {"profile": "a user likes sports"}),
        ("/search", {"q": "shoes"}),
    ):
        found = api.get(
            path, params={**params, "filter": "name like 'W%' and price < 100", "limit": 20}
        ).json()
        assert found and all(p["name"].startswith("W") and p["price"] < 100 for p in found)
        unfiltered = api.get(path, params={**params, "limit": 100}).json()
        expected = [p["id"] for p in unfiltered if p["name"].startswith("W") and p["price"] < 100][:20]
        assert [p["id"] for p in found][: len(expected)] == expected[: len(found)]


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("price <", "is not a condition"),
        ("colour = 'red'", "unknown field"),
        ("price = 'cheap'", "price"),
        ("price < 5; drop table products", "without ';'"),
        ("lower(name) = 'x'", "function"),
        ("name = 'a\x00b'", "NUL"),
        ("(" * 600 + "price < 1" + ")" * 600, "nested too deeply"),
        ("price < 1 or " * 200 + "price < 1", "at most 2000 characters"),
    ],
)
def test_a_bad_sql_filter_is_a_422_naming_what_is_wrong(api, condition, message):
    for path, params in (
        ("/products", {}),
        ("/recommendations", {"profile": "yoga"}),
        ("/recommendations/stream", {"profile": "yoga"}),
        ("/search", {"q": "yoga"}),
    ):
        response = api.get(path, params={**params, "filter": condition})
        assert response.status_code == 422, (path, response.text)
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["query", "filter"] and message in detail["msg"], detail
    assert api.get("/products", params={"limit": 1}).status_code == 200  # and nothing else changed


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/recommendations", {}, "profile"),
        ("/recommendations", {"profile": "   "}, "profile"),
        ("/recommendations", {"profile": "yoga", "limit": 0}, "limit"),
        ("/recommendations", {"profile": "yoga", "limit": 101}, "limit"),
        ("/recommendations", {"profile": "yoga", "distance_threshold": 3}, "distance_threshold"),
        ("/recommendations", {"profile": "yoga", "min_price": "cheap"}, "min_price"),
        ("/search", {"q": ""}, "q"),
    ],
)
def test_bad_search_parameters_are_422_naming_the_parameter(api, path, params, field):
    response = api.get(path, params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_bulk_import_json_lines_and_csv_add_or_replace_all_or_nothing(api):
    category = unique("imported")
    rows = [product(id=f"{category}-{i}", name=f"Imported {i}", category=category) for i in range(3)]
    jsonl = "\n".join(json.dumps(r) for r in rows) + "\n"
    response = api.post("/products/import", content=jsonl, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200 and response.json() == {"created": 3, "replaced": 0}
    listed = api.get("/products", params={"category": category}).json()
    assert sorted(p["name"] for p in listed["items"]) == ["Imported 0", "Imported 1", "Imported 2"]

    # CSV replaces rows with the same id; an empty cell is a missing value
    csv_text = (
        "id,name,description,category,price\n"
        f'{category}-0,Imported 0,"Renamed, with a comma in its description",{category},\n'
        f"{category}-3,Imported 3,A new one,{category},12.5\n"
    )
    response = api.post("/products/import", content=csv_text, headers={"content-type": "text/csv"})
    assert response.status_code == 200 and response.json() == {"created": 1, "replaced": 1}
    by_id = {p["id"]: p for p in api.get("/products", params={"category": category}).json()["items"]}
    assert len(by_id) == 4
    assert by_id[f"{category}-0"]["description"] == "Renamed, with a comma in its description"
    assert by_id[f"{category}-0"]["price"] is None and by_id[f"{category}-3"]["price"] == 12.5

    # one bad line: a 422 that names it, and none of the lines is written
    other = unique("rejected")
    bad = "\n".join(
        [
            json.dumps(product(id=f"{other}-1", category=other)),
            json.dumps(product(id=f"{other}-2", category=other, price=-1)),
        ]
    )
    response = api.post("/products/import", content=bad, headers={"content-type": "application/jsonl"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "line 2", "price"]
    not_json = api.post("/products/import", content="{oops", headers={"content-type": "application/jsonl"})
    assert not_json.status_code == 422 and not_json.json()["detail"][0]["loc"] == ["body", "line 1"]
    empty = api.post("/products/import", content="id,name\n", headers={"content-type": "text/csv"})
    assert empty.status_code == 422
    assert api.get("/products", params={"category": other}).json()["total"] == 0
    for key in by_id:
        assert api.delete(f"/products/{key}").status_code == 204


def test_events_stream_every_change_with_the_product(shop, api):
    stream = EventStream(shop.url)
    try:
        assert stream.content_type.startswith("text/event-stream") and stream.retry_ms == 1000
        key = unique("live")
        api.post("/products", json=product(id=key))
        created = stream.take(key, 1)[0]
        assert created["op"] == "created" and created["product"]["name"] == "Trail runner"
        assert "description_vec" not in created["product"]
        api.patch(f"/products/{key}", json={"description": "Waterproof hiking boots", "price": 120})
        updated = stream.take(key, 1)[0]  # one event, though the row's vector and fields both changed
        assert updated["op"] == "updated"
        assert updated["product"]["description"] == "Waterproof hiking boots"
        api.delete(f"/products/{key}")
        deleted = stream.take(key, 1)[0]
        assert deleted["op"] == "deleted" and deleted["product"] is None
        assert created["seq"] < updated["seq"] < deleted["seq"]
        assert deleted["_event_id"] == str(deleted["seq"])
    finally:
        stream.close()

    # a client that lost the connection resumes after its Last-Event-ID (or ?since=) with no gap
    for options in (
        {"headers": {"Last-Event-ID": str(created["seq"] - 1)}},
        {"params": {"since": created["seq"] - 1}},
    ):
        replay = EventStream(shop.url, **options)
        try:
            assert [e["op"] for e in replay.take(key, 3)] == ["created", "updated", "deleted"]
        finally:
            replay.close()


def test_a_write_through_another_server_process_reaches_this_ones_events(shop, second_shop, api):
    stream = EventStream(shop.url)
    try:
        key = unique("peer")
        text = f"A solar-powered camping lantern, model {key}"
        response = api.post(
            f"{second_shop.url}products",
            json=product(id=key, name="From the other process", description=text),
        )
        assert response.status_code == 201
        event = stream.take(key, 1)[0]
        assert event["op"] == "created" and event["product"]["name"] == "From the other process"
        # and this server's search sees it at once
        assert api.get("/search", params={"q": text, "limit": 1}).json()[0]["id"] == key
        api.delete(f"/products/{key}")
        assert stream.take(key, 1)[0]["op"] == "deleted"
    finally:
        stream.close()


def test_search_by_words_meaning_or_both(api):
    key = unique("fts")
    teapot = product(id=key, name="Zanzibar teapot", description="A cast iron teapot with a bamboo handle")
    assert api.post("/products", json=teapot).status_code == 201
    words = api.get("/search", params={"q": "zanzibar", "search_type": "fulltext", "limit": 5}).json()
    assert [p["id"] for p in words] == [key]
    assert words[0]["distance"] is None and words[0]["match_score"] > 0
    assert words[0]["score"] == words[0]["match_score"]
    both = api.get("/search", params={"q": "zanzibar teapot", "search_type": "hybrid", "limit": 3}).json()
    assert both[0]["id"] == key and both[0]["distance"] is not None and both[0]["match_score"] > 0
    meaning = api.get("/search", params={"q": "a cast iron teapot", "limit": 3}).json()
    assert meaning[0]["id"] == key and meaning[0]["match_score"] is None
    assert meaning[0]["score"] == pytest.approx(1 - meaning[0]["distance"])
    other_category = {"q": "zanzibar", "search_type": "fulltext", "category": unique("none")}
    assert api.get("/search", params=other_category).json() == []
    bad = api.get("/search", params={"q": "tea", "search_type": "semantic"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "search_type"]
    assert api.delete(f"/products/{key}").status_code == 204
    assert api.get("/search", params={"q": "zanzibar", "search_type": "fulltext"}).json() == []
