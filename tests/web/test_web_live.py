"""`GET /recommendations/stream`: the recommendations now, then again each time they change, and after
any writes the last message equals a fresh `GET /recommendations`."""

from __future__ import annotations

import json
import queue
import random
import threading
import time
import uuid
from typing import Any

import httpx
import pytest


class RecommendationStream:
    """Follows `/recommendations/stream` in a background thread; `messages` holds each `items` list."""

    def __init__(self, base_url: str, params: dict[str, Any]) -> None:
        self.messages: queue.Queue[list[dict[str, Any]]] = queue.Queue()
        self.last: list[dict[str, Any]] | None = None
        self.arrived = 0.0  # when the last message arrived
        self.count = 0
        self.error: BaseException | None = None
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(30, read=None))
        self._response: httpx.Response | None = None
        threading.Thread(target=self._read, args=(params,), daemon=True).start()

    def _read(self, params: dict[str, Any]) -> None:
        try:
            with self._client.stream("GET", "/recommendations/stream", params=params) as response:
                self._response = response
                assert response.status_code == 200, response.read()
                assert response.headers["content-type"].startswith("text/event-stream")
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        items = json.loads(line[5:])["items"]
                        self.last, self.arrived, self.count = items, time.monotonic(), self.count + 1
                        self.messages.put(items)
        except (httpx.HTTPError, AssertionError) as exc:
            self.error = exc

    def next(self, timeout: float = 30) -> list[dict[str, Any]]:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s (error: {self.error!r})") from None

    def close(self) -> None:
        self._client.close()


def shown(items: list[dict[str, Any]]) -> list[tuple]:
    """What a shopper sees: the products, in order, their reason, and scores to three decimals
    (a shopper's scores move a little with time, as their events age)."""
    return [(i["id"], i["name"], i["price"], i["reason"], round(i["score"], 3)) for i in items]


def fresh(api: httpx.Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.get("/recommendations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def settled(streams: list[RecommendationStream], quiet: float = 2.0, timeout: float = 60) -> None:
    """Wait until no stream has received a message for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(time.monotonic() - s.arrived > quiet for s in streams):
            return
        time.sleep(0.2)
    raise AssertionError("the streams kept changing")


def paddle(key: str, **fields) -> dict[str, Any]:
    return {
        "id": key,
        "name": "Whitewater canoe paddle",
        "description": "A light carbon paddle for canoe trips on wild rivers and quiet lakes",
        "category": "water sports",
        "price": 79.0,
        **fields,
    }


def test_a_stream_starts_with_the_recommendations_and_follows_a_product_that_enters_and_leaves(shop, api):
    params = {"profile": "a canoe paddle for river trips", "limit": 5}
    stream = RecommendationStream(shop.url, params)
    assert shown(stream.next()) == shown(fresh(api, params))
    key = f"paddle-{uuid.uuid4().hex[:8]}"
    assert api.post("/products", json=paddle(key)).status_code == 201
    entered = stream.next()
    assert entered[0]["id"] == key and shown(entered) == shown(fresh(api, params))
    assert api.patch(f"/products/{key}", json={"price": 59.0}).status_code == 200
    assert stream.next()[0]["price"] == 59.0  # a shown product's new price is pushed too
    assert api.delete(f"/products/{key}").status_code == 204
    left = stream.next()
    assert key not in [i["id"] for i in left] and shown(left) == shown(fresh(api, params))
    stream.close()


def test_a_write_that_cannot_change_a_stream_sends_it_nothing(shop, api):
    params = {"profile": "a canoe paddle for river trips", "limit": 3, "category": "water sports"}
    stream = RecommendationStream(shop.url, params)
    first = stream.next()
    key = f"kettle-{uuid.uuid4().hex[:8]}"  # another category: the filter leaves it out
    kettle = {
        "id": key,
        "name": "Kettle",
        "description": "An electric kettle",
        "category": "kitchen",
        "price": 30.0,
    }
    assert api.post("/products", json=kettle).status_code == 201
    assert api.patch(f"/products/{key}", json={"price": 25.0}).status_code == 200
    with pytest.raises(AssertionError, match="no message"):
        stream.next(timeout=2)
    assert shown(first) == shown(fresh(api, params))
    api.delete(f"/products/{key}")
    stream.close()


def test_a_stream_with_a_sql_filter_follows_only_what_it_lets_through(shop, api):
    params = {
        "profile": "a canoe paddle for river trips",
        "limit": 3,
        "filter": "price < 60 and name like 'Whitewater%'",
    }
    stream = RecommendationStream(shop.url, params)
    first = stream.next()
    assert shown(first) == shown(fresh(api, params))
    dear, cheap = f"paddle-{uuid.uuid4().hex[:8]}", f"paddle-{uuid.uuid4().hex[:8]}"
    assert api.post("/products", json=paddle(dear)).status_code == 201  # 79.0: the filter leaves it out
    with pytest.raises(AssertionError, match="no message"):
        stream.next(timeout=2)
    assert api.post("/products", json=paddle(cheap, price=45.0)).status_code == 201
    entered = stream.next()
    assert entered[0]["id"] == cheap and dear not in [i["id"] for i in entered]
    assert shown(entered) == shown(fresh(api, params))
    assert api.patch(f"/products/{dear}", json={"price": 50.0}).status_code == 200  # now it may enter
    assert dear in [i["id"] for i in stream.next()]
    for key in (dear, cheap):
        api.delete(f"/products/{key}")
    stream.close()


def test_a_shoppers_stream_follows_their_events_and_profile(shop, api):
    user = f"shopper-{uuid.uuid4().hex[:8]}"
    assert api.put(f"/users/{user}", json={"profile": "trail running shoes"}).status_code == 200
    params = {"user_id": user, "limit": 4}
    stream = RecommendationStream(shop.url, params)
    first = stream.next()
    assert shown(first) == shown(fresh(api, params))
    liked = first[0]["id"]
    assert api.post(f"/users/{user}/events", json={"product_id": liked, "kind": "like"}).status_code == 201
    after_like = stream.next()  # a liked product counts as seen: it leaves, and the taste moves
    assert liked not in [i["id"] for i in after_like] and shown(after_like) == shown(fresh(api, params))
    assert api.put(f"/users/{user}", json={"profile": "espresso and a coffee grinder"}).status_code == 200
    assert shown(stream.next()) == shown(fresh(api, params))
    stream.close()


def test_after_random_writes_every_stream_ends_equal_to_a_fresh_request(shop, api):
    rng = random.Random(0)
    user = f"shopper-{uuid.uuid4().hex[:8]}"
    api.put(f"/users/{user}", json={"profile": "camping and the outdoors"})
    shapes = [
        {"profile": "a canoe paddle for river trips", "limit": 5},
        {"profile": "a canoe paddle for river trips", "limit": 5},  # shares the evaluation above
        {"profile": "yoga at home", "limit": 8, "max_price": 60},
        {"profile": "a warm jacket", "limit": 3, "distance_threshold": 0.8},
        {"profile": "water sports gear", "limit": 6, "category": "water sports"},
        {"user_id": user, "limit": 5},
        {"user_id": user, "limit": 5, "diversity": 0},
    ]
    streams = [RecommendationStream(shop.url, params) for params in shapes]
    for stream in streams:
        stream.next()
    mine: list[str] = []
    for step in range(16):
        action = rng.choice(["create", "price", "text", "delete", "event"])
        if action == "create" or not mine:
            key = f"rand-{uuid.uuid4().hex[:8]}"
            mine.append(key)
            text = rng.choice(["paddle for rivers", "yoga mat", "down jacket", "kayak", "tent"])
            api.post(
                "/products",
                json=paddle(key, description=f"A {text}, model {step}", price=rng.randint(10, 90)),
            )
        elif action == "price":
            api.patch(f"/products/{rng.choice(mine)}", json={"price": rng.randint(10, 90)})
        elif action == "text":
            api.patch(f"/products/{rng.choice(mine)}", json={"description": f"A yoga block, model {step}"})
        elif action == "delete":
            api.delete(f"/products/{mine.pop(rng.randrange(len(mine)))}")
        else:
            kind = rng.choice(["view", "like", "cart", "dismiss"])
            api.post(f"/users/{user}/events", json={"product_id": rng.choice(mine), "kind": kind})
    settled(streams)
    for stream, params in zip(streams, shapes, strict=True):
        assert stream.error is None
        assert shown(stream.last) == shown(fresh(api, params)), params
    for key in mine:
        api.delete(f"/products/{key}")
    for stream in streams:
        stream.close()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"profile": "x", "user_id": "y"},
        {"profile": "  "},
        {"profile": "x", "limit": 0},
        {"user_id": "y", "diversity": 2},
        {"user_id": "a\x00b"},
        {"profile": "likes\x00sports"},
    ],
)
def test_bad_stream_parameters_are_a_422(api, params):
    response = api.get("/recommendations/stream", params=params)
    assert response.status_code == 422
    assert api.get("/recommendations", params=params).status_code == 422  # as its GET twin


def test_a_path_that_is_not_utf8_is_refused(api):
    # different byte sequences would otherwise name one shopper, "\ufffd\ufffd\ufffd"
    for path in ("/users/%ED%A0%80", "/products/%FF", "/users/%C3"):
        response = api.put(path, json={"profile": "x"}) if "users" in path else api.get(path)
        assert response.status_code == 400, path
        assert "UTF-8" in response.json()["detail"]
    assert api.get("/products/%C3%A9").status_code == 404  # "é", valid: no such product


def test_a_stream_opened_after_the_last_one_closed_starts_from_the_current_result(shop, api):
    # the server makes each message once per result; a query dropped with its last stream and
    # opened again starts a new series, which must not be answered with the old series' messages
    user = f"shopper-{uuid.uuid4().hex[:8]}"
    api.put(f"/users/{user}", json={"profile": "yoga and pilates"})
    params = {"user_id": user, "limit": 6}
    first = RecommendationStream(shop.url, params)
    first.next()
    first.close()
    time.sleep(1.0)  # the server notices the closed stream
    api.put(f"/users/{user}", json={"profile": "coffee for my morning espresso"})
    again = RecommendationStream(shop.url, params)
    assert shown(again.next()) == shown(fresh(api, params))
    again.close()
