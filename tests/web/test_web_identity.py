"""Shopper identity, tried over HTTP on real servers: a shopper's data goes to the shop's backend (the
service token) or to that shopper (a shopper token naming them), and to no one else; the open demo
stays open, and its page uses shopper tokens too."""

from __future__ import annotations

import hashlib
import time

import httpx
import jwt
import pytest
from playwright.sync_api import expect

from livevec.web import shopper_token

from .conftest import TOKEN
from .events import EventStream
from .test_web_api import unique

BEARER = {"Authorization": f"Bearer {TOKEN}"}
STRAP = "24-WG085"


@pytest.fixture
def guarded(guarded_shop) -> httpx.Client:
    with httpx.Client(base_url=guarded_shop.url, timeout=60) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def forged(claims: dict, service_token: str = TOKEN, algorithm: str = "HS256") -> str:
    """A JWT signed as the module's doc says a backend in any language signs one."""
    key = hashlib.sha256(b"livevec shopper tokens\0" + service_token.encode()).digest()
    return jwt.encode(claims, key, algorithm=algorithm)


def shopper_requests(user: str) -> list[tuple[str, str, dict]]:
    """Every request that reads or changes `user`'s data: (method, path, keyword arguments)."""
    return [
        ("GET", f"/users/{user}", {}),
        ("PUT", f"/users/{user}", {"json": {"profile": "trail running"}}),
        ("GET", f"/users/{user}/events", {}),
        ("POST", f"/users/{user}/events", {"json": {"product_id": STRAP, "kind": "view"}}),
        ("GET", "/recommendations", {"params": {"user_id": user, "limit": 2}}),
        ("GET", "/recommendations/stream", {"params": {"user_id": user, "limit": 2}}),
        ("GET", "/events", {"params": {"user_id": user}}),
    ]


def status(
    client: httpx.Client, method: str, path: str, kwargs: dict, headers: dict, token: str | None
) -> int:
    """The status a request gets; a stream is closed as soon as its head has come."""
    params = dict(kwargs.get("params", {}))
    if token is not None:
        params["token"] = token
    extra = {key: value for key, value in kwargs.items() if key != "params"}
    with client.stream(method, path, params=params, headers=headers, **extra) as response:
        return response.status_code


def test_a_shoppers_data_goes_to_the_service_or_to_that_shopper_alone(guarded):
    user, other = unique("own"), unique("other")
    assert guarded.put(f"/users/{user}", json={"profile": "yoga"}, headers=BEARER).status_code == 200
    now = int(time.time())
    theirs = shopper_token(TOKEN, user)["token"]
    refused = {
        "no credentials": ({}, None),
        "a wrong token": (bearer("wrong"), None),
        "another shopper's token": (bearer(shopper_token(TOKEN, other)["token"]), None),
        "another shopper's token in the URL": ({}, shopper_token(TOKEN, other)["token"]),
        "an expired token": (bearer(forged({"sub": user, "aud": "livevec-shopper", "exp": now - 5})), None),
        "a token without an audience": (bearer(forged({"sub": user, "exp": now + 60})), None),
        "a token of another service token": (bearer(shopper_token("another-secret", user)["token"]), None),
        "an unsigned token": (
            bearer(
                jwt.encode({"sub": user, "aud": "livevec-shopper", "exp": now + 60}, None, algorithm="none")
            ),
            None,
        ),
        "the service token in the URL": ({}, TOKEN),
        "a token for a shopper whose id starts the same": (
            bearer(shopper_token(TOKEN, user[:-1])["token"]),
            None,
        ),
    }
    allowed = {
        "the service token": (BEARER, None),
        "their shopper token": (bearer(theirs), None),
        "their shopper token in the URL": ({}, theirs),
        "a token minted as the module says": (
            bearer(forged({"sub": user, "aud": "livevec-shopper", "exp": now + 60})),
            None,
        ),
    }
    for method, path, kwargs in shopper_requests(user):
        for why, (headers, token) in refused.items():
            got = status(guarded, method, path, kwargs, headers, token)
            assert got == 401, (method, path, why, got)
        for why, (headers, token) in allowed.items():
            got = status(guarded, method, path, kwargs, headers, token)
            assert got in (200, 201), (method, path, why, got)

    # the refused changes changed nothing: the profile is the allowed requests' last word, and every
    # event recorded is one of theirs (one view per allowed way)
    events = guarded.get(f"/users/{user}/events", headers=BEARER).json()
    assert [e["kind"] for e in events] == ["view"] * len(allowed)
    assert guarded.get(f"/users/{other}", headers=BEARER).status_code == 404


def test_a_refusal_says_why_and_asks_for_a_bearer_token(guarded):
    user = unique("why")
    response = guarded.get(f"/users/{user}")
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert "service token or a shopper token" in response.json()["detail"]
    response = guarded.get(f"/users/{user}", headers=bearer(shopper_token(TOKEN, "someone")["token"]))
    assert response.json()["detail"] == "the shopper token is for another shopper"
    response = guarded.get(f"/users/{user}", headers=bearer("nope"))
    assert "neither this server's nor a valid, unexpired shopper token" in response.json()["detail"]


def test_the_backend_mints_shopper_tokens_with_the_service_token(guarded):
    user = unique("mint")
    for headers in ({}, bearer("wrong"), bearer(shopper_token(TOKEN, user)["token"])):
        assert guarded.post(f"/users/{user}/token", headers=headers).status_code == 401
    before = int(time.time())
    minted = guarded.post(f"/users/{user}/token", params={"ttl": 120}, headers=BEARER).json()
    assert minted.keys() == {"token", "expires_at"}
    assert before + 120 <= minted["expires_at"] <= int(time.time()) + 120
    assert (
        guarded.put(f"/users/{user}", json={"profile": "tea"}, headers=bearer(minted["token"])).status_code
        == 200
    )
    for ttl in (0, 7 * 86400 + 1, "soon"):
        assert guarded.post(f"/users/{user}/token", params={"ttl": ttl}, headers=BEARER).status_code == 422


def test_shopper_tokens_expire(guarded):
    user = unique("brief")
    short = guarded.post(f"/users/{user}/token", params={"ttl": 1}, headers=BEARER).json()
    assert (
        guarded.put(f"/users/{user}", json={"profile": "tea"}, headers=bearer(short["token"])).status_code
        == 200
    )
    time.sleep(max(0.0, short["expires_at"] - time.time()) + 1.1)  # whole seconds: "exp" has no fraction
    assert guarded.get(f"/users/{user}", headers=bearer(short["token"])).status_code == 401


def test_the_list_of_shoppers_is_the_backends_and_comes_in_pages(guarded):
    for headers in ({}, bearer("wrong"), bearer(shopper_token(TOKEN, "anyone")["token"])):
        assert guarded.get("/users", headers=headers).status_code == 401
    made = sorted(unique("page") for _ in range(5))
    for user in made:
        guarded.put(f"/users/{user}", json={"profile": f"likes {user}"}, headers=BEARER)
    everyone = guarded.get("/users", params={"limit": 1000}, headers=BEARER).json()
    assert len(everyone) < 1000, "the test's premise: one page holds every shopper"
    ids = [u["user_id"] for u in everyone]
    assert ids == sorted(ids) and set(made) <= set(ids)
    assert len(guarded.get("/users", headers=BEARER).json()) == min(len(ids), 100)  # the default page

    walked: list[str] = []
    params: dict = {"limit": 3}
    while True:
        page = guarded.get("/users", params=params, headers=BEARER).json()
        walked += [u["user_id"] for u in page]
        if len(page) < 3:
            break
        params["after"] = page[-1]["user_id"]
    assert walked == ids
    for bad in ({"limit": 0}, {"limit": 1001}, {"after": ""}):
        assert guarded.get("/users", params=bad, headers=BEARER).status_code == 422


def test_a_shoppers_stream_opens_with_their_token_in_the_url(guarded_shop, guarded):
    user = unique("sse")
    theirs = EventStream(
        guarded_shop.url, params={"user_id": user, "token": shopper_token(TOKEN, user)["token"]}
    )
    try:
        like = {"product_id": STRAP, "kind": "like"}
        assert guarded.post(f"/users/{user}/events", json=like, headers=BEARER).status_code == 201
        event = theirs.take(STRAP, 1)[0]
        assert (event["op"], event["user_id"], event["kind"]) == ("activity", user, "like")
    finally:
        theirs.close()


def test_the_open_demo_stays_open_and_still_checks_a_token_it_is_given(api):
    user = unique("demo")
    # no credentials: open (loopback only)
    assert api.put(f"/users/{user}", json={"profile": "yoga"}).status_code == 200
    assert api.get("/users").status_code == 200
    minted = api.post(f"/users/{user}/token").json()
    assert api.get(f"/users/{user}", headers=bearer(minted["token"])).status_code == 200
    for headers in (bearer("wrong"), bearer(api.post(f"/users/{user}x/token").json()["token"])):
        assert api.get(f"/users/{user}", headers=headers).status_code == 401
    # its tokens are its own: one signed for a server with a service token means nothing here
    assert api.get(f"/users/{user}", headers=bearer(shopper_token(TOKEN, user)["token"])).status_code == 401


def test_the_guarded_page_uses_shopper_tokens_once_the_admin_token_is_given(browser, guarded_shop, guarded):
    user = unique("paged")
    guarded.put(f"/users/{user}", json={"profile": "a warm jacket for winter hiking"}, headers=BEARER)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sent: list[tuple[str, str | None]] = []
    page.on("request", lambda request: sent.append((request.url, request.headers.get("authorization"))))
    try:
        page.goto(guarded_shop.url)
        expect(page.locator("#live")).to_have_attribute("data-state", "on")
        # without the admin token the page lists no shopper
        expect(page.locator("#user option")).to_have_count(1)
        page.fill("#token", TOKEN)
        page.click("#token-form button[type=submit]")
        expect(page.locator(f"#user option[value='{user}']")).to_have_count(1)
        page.select_option("#user", user)
        cards = page.locator("#recs .card")
        expect(cards.first.locator(".card-reason")).to_contain_text("matches your interest")
        cards.first.get_by_role("button", name="Like", exact=True).click()
        expect(page.locator("#recs .card-reason", has_text="because you liked").first).to_be_visible()
    finally:
        context.close()
    assert errors == []
    assert [e["kind"] for e in guarded.get(f"/users/{user}/events", headers=BEARER).json()] == ["like"]
    # the shopper's own requests went with a shopper token, never the admin's
    theirs = [(url, auth) for url, auth in sent if f"/users/{user}/events" in url]
    assert theirs and all(
        auth and auth != f"Bearer {TOKEN}" and auth.startswith("Bearer eyJ") for _, auth in theirs
    )
    streams = [url for url, _ in sent if "/recommendations/stream" in url and "user_id=" in url]
    assert streams and all("token=eyJ" in url and TOKEN not in url for url in streams)
