"""The rules that make the shop safe to expose, each tried over HTTP against real server processes:
`shop` (`livevec demo`: loopback, no token) and `guarded_shop` (a token, a public name, small limits)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import time
import uuid
from urllib.parse import quote, urlsplit

import httpx
import pytest

from livevec.web import shopper_token

from .conftest import TOKEN
from .events import EventStream
from .test_web_api import product, unique

BEARER = {"Authorization": f"Bearer {TOKEN}"}


def shopper_bearer(user_id: str) -> dict[str, str]:
    """The `Authorization` header of a shopper token for `user_id` on the guarded shop."""
    return {"Authorization": f"Bearer {shopper_token(TOKEN, user_id)['token']}"}


STRAP = "24-WG085"  # a product of the demo catalog
JSONL = {"content-type": "application/x-ndjson"}


@pytest.fixture
def guarded(guarded_shop) -> httpx.Client:
    with httpx.Client(base_url=guarded_shop.url, timeout=60) as client:
        yield client


# --- authentication --------------------------------------------------------------------------------


def test_catalog_writes_need_the_token_and_nothing_else_does(guarded):
    key = unique("tok")
    line = json.dumps(product(id=key)) + "\n"
    writes = [
        ("POST", "/products", {"json": product(id=key)}),
        ("PATCH", f"/products/{STRAP}", {"json": {"price": 0}}),
        ("DELETE", f"/products/{STRAP}", {}),
        ("POST", "/products/import", {"content": line, "headers": JSONL}),
    ]
    before = guarded.get(f"/products/{STRAP}").json()
    for credentials in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        for method, path, kwargs in writes:
            headers = {**kwargs.get("headers", {}), **credentials}
            response = guarded.request(method, path, **{**kwargs, "headers": headers})
            assert response.status_code == 401, (method, path, credentials, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
    assert guarded.get(f"/products/{key}").status_code == 404
    assert guarded.get(f"/products/{STRAP}").json() == before

    # reads, searches and a profile text's recommendations need none (a shopper's: test_web_identity)
    assert guarded.get("/products", params={"limit": 1}).status_code == 200
    assert guarded.get("/search", params={"q": "yoga", "limit": 1}).status_code == 200
    assert guarded.get("/recommendations", params={"profile": "yoga", "limit": 1}).status_code == 200

    # with it, every write goes through
    assert guarded.post("/products", json=product(id=key), headers=BEARER).status_code == 201
    assert guarded.patch(f"/products/{key}", json={"price": 1}, headers=BEARER).status_code == 200
    imported = guarded.post("/products/import", content=line, headers={**BEARER, **JSONL})
    assert imported.json() == {"created": 0, "replaced": 1}
    assert guarded.delete(f"/products/{key}", headers=BEARER).status_code == 204


def test_the_page_can_ask_whether_writes_want_a_token(api, guarded):
    assert api.get("/auth").json() == {"token_required": False, "authorized": True}
    assert guarded.get("/auth").json() == {"token_required": True, "authorized": False}
    assert guarded.get("/auth", headers={"Authorization": "Bearer nope"}).json()["authorized"] is False
    assert guarded.get("/auth", headers=BEARER).json() == {"token_required": True, "authorized": True}


# --- cross-site requests and DNS rebinding ------------------------------------------------------------


def json_writes(key: str) -> list[tuple[str, str, dict]]:
    """A JSON body each write route would take as application/json."""
    return [
        ("POST", "/products", product(id=key)),
        ("PATCH", f"/products/{STRAP}", {"price": 0}),
        ("PUT", f"/users/{key}", {"profile": "yoga"}),
        ("POST", f"/users/{key}/events", {"product_id": STRAP, "kind": "like"}),
    ]


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/csv"],
)
def test_writes_take_only_their_own_content_types(api, content_type):
    key = unique("ctype")
    strap = api.get(f"/products/{STRAP}").json()
    headers = {"content-type": content_type} if content_type else {}
    for method, path, body in json_writes(key):
        response = api.request(method, path, content=json.dumps(body), headers=headers)
        assert response.status_code == 415, (method, path, response.text)
        assert response.json()["detail"].startswith("send the body as application/json")
    # an import is JSON lines or CSV, whatever a query parameter says
    csv_text = f"id,name,description,category,price\n{key},Imported,Some text,things,1\n"
    for params, sent_as in (({"format": "csv"}, "text/plain"), ({}, "application/json"), ({}, content_type)):
        if sent_as == "text/csv":
            continue
        headers = {"content-type": sent_as} if sent_as else {}
        response = api.post("/products/import", params=params, content=csv_text, headers=headers)
        assert response.status_code == 415, (params, sent_as, response.text)
    assert api.get(f"/products/{key}").status_code == 404
    assert api.get(f"/users/{key}").status_code == 404
    assert api.get(f"/products/{STRAP}").json() == strap


def test_a_content_type_with_parameters_is_its_type(api):
    key = unique("charset")
    body = json.dumps(product(id=key))
    response = api.post(
        "/products", content=body, headers={"content-type": "Application/JSON; charset=utf-8"}
    )
    assert response.status_code == 201
    assert api.delete(f"/products/{key}").status_code == 204


def test_requests_from_another_sites_page_are_refused(api, shop):
    own = shop.url.rstrip("/")
    key = unique("xsite")
    other_port = f"http://127.0.0.1:{urlsplit(shop.url).port + 1}"
    for origin in ("http://evil.example", other_port, "null"):
        for method, path, body in [*json_writes(key), ("GET", "/products", None), ("GET", "/events", None)]:
            response = api.request(method, path, json=body, headers={"Origin": origin})
            assert response.status_code == 403, (origin, method, path)
            assert response.json()["detail"].startswith("cross-site request refused")
    assert api.get(f"/products/{key}").status_code == 404 and api.get(f"/users/{key}").status_code == 404
    # the shop's own page sends its origin too
    assert api.post("/products", json=product(id=key), headers={"Origin": own}).status_code == 201
    assert api.delete(f"/products/{key}", headers={"Origin": own}).status_code == 204


def test_the_host_header_must_name_this_server(api, guarded, shop):
    port = urlsplit(shop.url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"LocalHost:{port}", f"[::1]:{port}", "127.0.0.2"):
        assert api.get("/healthz", headers={"Host": host}).status_code == 200, host
    # a rebinding page sends its own name; an address this server is not bound to is no better
    for host in (
        "evil.example",
        f"evil.example:{port}",
        "localhost.evil.example",
        "10.1.2.3",
        "shop.example.com",
    ):
        response = api.get("/products", headers={"Host": host})
        assert response.status_code == 400, host
        assert "--allowed-host" in response.json()["detail"]
    # a name given with --allowed-host: what a reverse proxy passes on
    for host in ("shop.example.com", "Shop.Example.Com.:443"):
        assert guarded.get("/healthz", headers={"Host": host}).status_code == 200, host
    assert guarded.get("/healthz", headers={"Host": "other.example.com"}).status_code == 400


# --- limits ------------------------------------------------------------------------------------------


def head_only(url: str, head: str) -> bytes:
    """Sends a request's head, and never its body; returns what the server answers."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    return answer


def test_a_body_over_the_limit_is_refused_before_it_is_read(guarded_shop, guarded, api):
    host = urlsplit(guarded_shop.url).netloc
    for path, length in (("/products", 20_001), ("/products/import", 200_001)):
        start = time.monotonic()
        answer = head_only(
            guarded_shop.url,
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/x-ndjson\r\nContent-Length: {length}\r\n\r\n",
        )
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
        assert time.monotonic() - start < 5  # answered at once: nothing waited for the body
    absurd = f"POST /products HTTP/1.1\r\nHost: {host}\r\nContent-Length: {10**30}\r\n\r\n"
    assert head_only(guarded_shop.url, absurd).startswith((b"HTTP/1.1 400 ", b"HTTP/1.1 413 "))

    # a body sent in chunks, with no Content-Length, is cut off once it passes the limit
    def chunks():
        for _ in range(30):
            yield b" " * 1000

    chunked = guarded.post(
        "/products", content=chunks(), headers={**BEARER, "content-type": "application/json"}
    )
    assert chunked.status_code == 413 and "20000" in chunked.json()["detail"]
    assert (
        guarded.post("/products", json=product(description="x " * 15_000), headers=BEARER).status_code == 413
    )

    # an import may be larger: this one is read and parsed, and its last line is wrong
    category = unique("big")
    lines = [json.dumps(product(id=f"{category}-{i}", description="x " * 400)) for i in range(100)]
    body = "\n".join([*lines, json.dumps(product(id=f"{category}-last", price=-1))])
    assert 20_000 < len(body) < 200_000
    response = guarded.post("/products/import", content=body, headers={**BEARER, **JSONL})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == [
        "body",
        "line 101",
        "price",
    ]

    # the defaults: about 1 MB for a request
    huge = api.post("/products", json=product(description="x" * 1_100_000))
    assert huge.status_code == 413 and "1000000" in huge.json()["detail"]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/products", {"offset": 2**63}, "offset"),
        ("/products", {"limit": 10**30}, "limit"),
        ("/products", {"min_price": "nan"}, "min_price"),
        ("/products", {"max_price": "inf"}, "max_price"),
        ("/products", {"max_price": "1e400"}, "max_price"),
        ("/search", {"q": "yoga", "min_price": "Infinity"}, "min_price"),
        ("/recommendations", {"profile": "yoga", "distance_threshold": "nan"}, "distance_threshold"),
        ("/products/24-WG085/similar", {"max_price": "-inf"}, "max_price"),
        ("/events", {"since": 2**63}, "since"),
        ("/users/x/events", {"limit": 2**64}, "limit"),
    ],
)
def test_parameters_out_of_bounds_are_422(api, path, params, field):
    response = api.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_the_largest_bounds_still_answer(api):
    page = api.get("/products", params={"offset": 2**63 - 1})
    assert page.status_code == 200 and page.json()["items"] == []
    stale = api.get("/events", headers={"Last-Event-ID": str(2**64)})
    assert stale.status_code == 422 and stale.json()["detail"][0]["loc"] == ["header", "last-event-id"]
    assert api.get(f"/products/{'x' * 5000}").status_code == 404
    assert api.put(f"/users/{'x' * 201}", json={"profile": "yoga"}).status_code == 422


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_a_column_cannot_hold_are_422(api, number):
    key = unique("number")
    body = json.dumps(product(id=key)).replace('"price": 89.5', f'"price": {number}')
    for path, headers, loc in (
        ("/products", {"content-type": "application/json"}, ["body", "price"]),
        ("/products/import", JSONL, ["body", "line 1", "price"]),
    ):
        response = api.post(path, content=body, headers=headers)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc
    patch = api.patch(
        f"/products/{STRAP}", content=f'{{"price": {number}}}', headers={"content-type": "application/json"}
    )
    assert patch.status_code == 422
    csv_text = f"id,name,description,category,price\n{key},A,Some text,things,{number}\n"
    assert (
        api.post("/products/import", content=csv_text, headers={"content-type": "text/csv"}).status_code
        == 422
    )
    assert api.get(f"/products/{key}").status_code == 404


def test_text_that_is_not_utf8_is_422_with_an_answer_that_encodes(api):
    key = unique("surrogate")
    bad = "bad \ud800 text"
    cases = [
        ("POST", "/products", json.dumps(product(id=key, name=bad))),
        ("POST", "/products", json.dumps(product(id="\udfff"))),
        ("POST", "/products", json.dumps({**product(id=key), bad: 1})),  # a field named so
        ("PATCH", f"/products/{STRAP}", json.dumps({"name": bad})),
        ("PUT", f"/users/{key}", json.dumps({"profile": bad})),
        ("POST", f"/users/{key}/events", json.dumps({"product_id": bad, "kind": "like"})),
    ]
    for method, path, body in cases:
        response = api.request(method, path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, (method, path, response.text)
        assert json.loads(response.content.decode("utf-8"))["detail"]
    imported = api.post("/products/import", content=json.dumps(product(id=key, name=bad)), headers=JSONL)
    assert imported.status_code == 422 and imported.json()["detail"][0]["loc"][-1] == "name"
    assert api.get(f"/products/{key}").status_code == 404 and api.get(f"/users/{key}").status_code == 404


def test_bodies_no_parser_can_read_are_refused(api):
    deep = api.post("/products", content="[" * 100_000, headers={"content-type": "application/json"})
    assert deep.status_code == 400 and deep.json()["detail"]
    for body, content_type in (
        ("[" * 100_000, "application/x-ndjson"),
        ('{"price": ' + "9" * 5000 + "}", "application/x-ndjson"),  # more digits than Python reads
        ("id,name\nx,a\x00b\n", "text/csv"),
        ("id,name\nx," + "a" * 200_000 + "\n", "text/csv"),  # a cell larger than the csv module takes
    ):
        response = api.post("/products/import", content=body, headers={"content-type": content_type})
        assert response.status_code == 422, (body[:40], response.text)
    latin1 = api.post(
        "/products/import",
        content="id,name\nx,caf\xe9\n".encode("latin-1"),
        headers={"content-type": "text/csv"},
    )
    assert latin1.status_code == 422 and "not UTF-8" in latin1.json()["detail"][0]["msg"]


@pytest.mark.parametrize("bad", ["a/b", "/", ".", "..", "x/../y"])
def test_an_id_a_url_cannot_reach_is_refused_when_the_product_is_created(api, bad):
    response = api.post("/products", json=product(id=bad))
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "id"]
    imported = api.post("/products/import", content=json.dumps(product(id=bad)), headers=JSONL)
    assert imported.status_code == 422 and imported.json()["detail"][0]["loc"] == ["body", "line 1", "id"]


def test_any_other_id_round_trips_through_the_url(api):
    key = f"odd ?#%&+= é ... {uuid.uuid4().hex[:6]}"
    path = f"/products/{quote(key, safe='')}"
    assert api.post("/products", json=product(id=key)).status_code == 201
    assert api.get(path).json()["id"] == key
    assert api.patch(path, json={"price": 3}).json()["price"] == 3
    assert api.get(f"{path}/similar", params={"limit": 1}).status_code == 200
    assert api.delete(path).status_code == 204
    assert api.get(path).status_code == 404


def test_an_import_counts_what_it_created_and_replaced_and_refuses_repeated_ids(api):
    category = unique("import")

    def lines(*numbers: int) -> str:
        return "\n".join(json.dumps(product(id=f"{category}-{n}", category=category)) for n in numbers)

    assert api.post("/products/import", content=lines(0, 1), headers=JSONL).json() == {
        "created": 2,
        "replaced": 0,
    }
    assert api.post("/products/import", content=lines(1, 2), headers=JSONL).json() == {
        "created": 1,
        "replaced": 1,
    }
    repeated = api.post("/products/import", content=lines(3, 4, 3), headers=JSONL)
    assert repeated.status_code == 422
    assert repeated.json()["detail"] == [
        {
            "loc": ["body", "line 3", "id"],
            "msg": f"the id '{category}-3' is on line 1 too",
            "type": "value_error",
        }
    ]
    listed = api.get("/products", params={"category": category}).json()
    assert sorted(p["id"] for p in listed["items"]) == [f"{category}-{n}" for n in range(3)]
    for n in range(3):
        api.delete(f"/products/{category}-{n}")


# --- headers, privacy, supervision ----------------------------------------------------------------


def test_every_answer_carries_the_security_headers(api):
    answers = [
        api.get("/"),
        api.get("/static/shop.js"),
        api.get("/products", params={"limit": 1}),
        api.get("/products/no-such-product"),
        api.get("/no-such-page"),
        api.get("/products", headers={"Host": "evil.example"}),
        api.post("/products", json={}, headers={"Origin": "http://evil.example"}),
        api.post("/products", content="{}", headers={"content-type": "text/plain"}),
        api.get("/docs"),
    ]
    for response in answers:
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, response.url
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    # the page has nothing inline for the policy to block
    html = api.get("/").text
    assert not re.search(r"<script>|<style|\sstyle=|\son[a-z]+=", html)
    # the API docs page runs Swagger UI's inline script by its hash: no other inline script can run
    docs = api.get("/docs")
    scripts = re.findall(r"<script>(.*?)</script>", docs.text, re.DOTALL)
    assert scripts
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in docs.headers["content-security-policy"]
    assert "'unsafe-inline'" not in docs.headers["content-security-policy"]


def test_a_shoppers_activity_goes_only_to_their_streams_and_to_token_holders(guarded_shop, guarded):
    user, other = unique("ann"), unique("bob")
    admin = EventStream(guarded_shop.url, headers=BEARER)
    theirs = EventStream(
        guarded_shop.url, params={"user_id": user, "token": shopper_token(TOKEN, user)["token"]}
    )
    someone_else = EventStream(guarded_shop.url, params={"user_id": other}, headers=shopper_bearer(other))
    anyone = EventStream(guarded_shop.url)
    streams = [admin, theirs, someone_else, anyone]
    try:
        purchase = {"product_id": STRAP, "kind": "purchase"}
        assert guarded.post(f"/users/{user}/events", json=purchase, headers=BEARER).status_code == 201
        key = unique("after")  # a product change after it, which every stream gets
        assert guarded.post("/products", json=product(id=key), headers=BEARER).status_code == 201
        for stream in streams:
            # product events of earlier tests' writes may still arrive: this test's own product only
            seen = [
                (e["op"], e.get("user_id"), e.get("kind"))
                for e in stream.until(key)
                if e["op"] not in ("created", "updated", "deleted", "reset") or e.get("id") == key
            ]
            if stream in (admin, theirs):
                assert ("activity", user, "purchase") in seen
            else:  # only that the list of shoppers changed: a new one
                assert seen == [("shoppers", None, None), ("created", None, None)]
        guarded.delete(f"/products/{key}", headers=BEARER)
    finally:
        for stream in streams:
            stream.close()


def test_health_and_readiness(api):
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").json() == {"status": "ready"}
