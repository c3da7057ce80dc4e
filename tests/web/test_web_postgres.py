"""Two `livevec serve` processes on one PostgreSQL database: each one's page, events and searches
follow the writes made through the other, or by any other client of the database."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest
from playwright.sync_api import expect

import livevec

from ..conftest import fresh_schema
from .conftest import ServerProcess
from .events import EventStream

expect.set_options(timeout=20_000)  # a change shows within a second; leave room for a busy machine


@pytest.fixture(scope="session")
def postgres_shop(postgres_server, shop_db, shop) -> str:
    """A PostgreSQL database holding the demo shop, copied from the demo's SQLite file."""
    with fresh_schema(postgres_server) as url:
        copied = subprocess.run(
            [sys.executable, "-m", "livevec", "copy", str(shop_db), url, "--table", "products"],
            capture_output=True,
            text=True,
            env=shop.env,
        )
        assert copied.returncode == 0, copied.stderr
        yield url


@pytest.fixture(scope="session")
def instances(postgres_shop, shop) -> tuple[ServerProcess, ServerProcess]:
    """Instances A and B: `livevec serve --db postgresql://...` twice."""
    started = [ServerProcess(["serve", "--db", postgres_shop, "--port", "0"], shop.env).start() for _ in "AB"]
    yield tuple(started)
    for server in started:
        server.stop()


def new_product(key: str, **fields) -> dict:
    return {
        "id": key,
        "name": "Whitewater canoe paddle",
        "description": f"A light carbon paddle for canoe trips on rivers and lakes, model {key}",
        "category": "water sports",
        "price": 79.0,
        **fields,
    }


def test_a_product_added_through_one_instance_shows_on_the_page_of_the_other(browser, instances):
    a, b = instances
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(b.url)
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    page.fill("#profile", "a paddle for canoe trips on the river")
    expect(page.locator("#recs .card").first).to_be_visible()
    page.evaluate("window.sameDocument = true")  # gone if the page reloads
    key = f"paddle-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=a.url, timeout=60) as api:
        assert api.post("/products", json=new_product(key)).status_code == 201
        card = page.locator("#recs .card").filter(has=page.get_by_text("Whitewater canoe paddle", exact=True))
        expect(card).to_have_count(1)
        assert api.patch(f"/products/{key}", json={"price": 65}).status_code == 200
        expect(card.locator(".card-price")).to_have_text("$65.00")
        assert api.delete(f"/products/{key}").status_code == 204
        expect(card).to_have_count(0)
    assert page.evaluate("window.sameDocument") is True, "the page reloaded"
    context.close()


def test_each_instance_streams_and_searches_the_others_writes(instances, postgres_shop):
    a, b = instances
    streams = [EventStream(a.url), EventStream(b.url)]
    try:
        key = f"paddle-{uuid.uuid4().hex[:8]}"
        with httpx.Client(timeout=60) as api:
            assert api.post(f"{a.url}products", json=new_product(key)).status_code == 201
            for stream in streams:
                event = stream.take(key, 1)[0]
                assert event["op"] == "created" and event["product"]["name"] == "Whitewater canoe paddle"
            text = new_product(key)["description"]
            assert api.get(f"{b.url}search", params={"q": text, "limit": 1}).json()[0]["id"] == key
            words = {"q": f"model {key}", "search_type": "fulltext", "limit": 1}  # PostgreSQL's text search
            assert api.get(f"{b.url}search", params=words).json()[0]["id"] == key
            # a writer that is neither instance: a script using the library on the same database
            with livevec.connect(postgres_shop) as db:
                db.open_table("products").update(values={"price": 12.5}, filters={"id": key})
            for stream in streams:
                assert stream.take(key, 1)[0]["product"]["price"] == 12.5
            assert api.get(f"{a.url}products/{key}").json()["price"] == 12.5
            assert api.delete(f"{b.url}products/{key}").status_code == 204
            for stream in streams:
                assert stream.take(key, 1)[0]["op"] == "deleted"
            assert api.get(f"{a.url}products/{key}").status_code == 404
    finally:
        for stream in streams:
            stream.close()


def test_a_recommendation_stream_on_one_instance_follows_writes_through_the_other(instances):
    from .test_web_live import RecommendationStream, shown

    a, b = instances
    params = {"profile": "a canoe paddle for river trips", "limit": 4}
    stream = RecommendationStream(a.url, params)
    stream.next()
    key = f"pg-paddle-{uuid.uuid4().hex[:8]}"
    with httpx.Client(base_url=b.url, timeout=60) as api_b, httpx.Client(base_url=a.url, timeout=60) as api_a:
        assert api_b.post("/products", json=new_product(key)).status_code == 201
        entered = stream.next()
        assert entered[0]["id"] == key
        assert shown(entered) == shown(api_a.get("/recommendations", params=params).json())
        assert api_b.delete(f"/products/{key}").status_code == 204
        assert key not in [item["id"] for item in stream.next()]
    stream.close()


def test_a_stream_with_a_nul_in_its_shopper_is_a_422_as_its_get_twin(instances):
    a, _ = instances
    with httpx.Client(base_url=a.url, timeout=30) as client:
        for params in ({"user_id": "a\x00b"}, {"profile": "x\x00y"}):
            assert client.get("/recommendations/stream", params=params).status_code == 422
            assert client.get("/recommendations", params=params).status_code == 422
