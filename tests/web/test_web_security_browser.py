"""The shop in headless Chromium as an attacker's page and an admin see it: a page of another origin
cannot write to the catalog by any means a browser gives it; the admin panel asks for the token."""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import expect

from .conftest import TOKEN

STRAP = "24-WG085"

ATTACK = """<!doctype html>
<html><body>
<iframe name="sink" onload="window.loads = (window.loads || 0) + 1"></iframe>
<!-- "simple" cross-site requests: a browser sends them without asking the server first -->
<form id="import-text" method="post" enctype="text/plain" target="sink"
      action="{shop}products/import?format=csv">
  <input name="id,name,description,category,price&#10;{victim},Hacked,Hacked,hacked,0&#10;x" value="1">
</form>
<form id="create-urlencoded" method="post" target="sink" action="{shop}products">
  <input name="name" value="Hacked"><input name="description" value="Hacked"><input name="category" value="x">
</form>
<form id="profile" method="post" target="sink" action="{shop}users/{shopper}/events">
  <input name="product_id" value="{victim}"><input name="kind" value="like">
</form>
<script>
const shop = "{shop}";
const json = (body) => JSON.stringify(body);
const product = json({{ id: "{new_id}", name: "Hacked", description: "Hacked", category: "x", price: 0 }});
const csv = "id,name,description,category,price\\n{victim},Hacked,Hacked,hacked,0\\n";
// every write, as a page may send it: CORS (the browser asks first) and no-cors (it does not)
window.tries = [
  ["create", "products", {{ method: "POST", headers: {{ "Content-Type": "application/json" }}, body: product }}],
  ["create no-cors", "products", {{ method: "POST", mode: "no-cors", headers: {{ "Content-Type": "text/plain" }}, body: product }}],
  ["change", "products/{victim}", {{ method: "PATCH", headers: {{ "Content-Type": "application/json" }}, body: json({{ name: "Hacked" }}) }}],
  ["delete", "products/{victim}", {{ method: "DELETE" }}],
  ["import", "products/import", {{ method: "POST", headers: {{ "Content-Type": "text/csv" }}, body: csv }}],
  ["import no-cors", "products/import?format=csv", {{ method: "POST", mode: "no-cors", body: csv }}],
  ["shopper", "users/{shopper}", {{ method: "PUT", headers: {{ "Content-Type": "application/json" }}, body: json({{ profile: "x" }}) }}],
  ["shopper no-cors", "users/{shopper}/events", {{ method: "POST", mode: "no-cors", body: json({{ product_id: "{victim}", kind: "like" }}) }}],
];
window.attack = async () => {{
  const results = {{}};
  for (const [name, path, options] of window.tries) {{
    try {{
      const response = await fetch(shop + path, options);
      results[name] = response.type === "opaque" ? "sent, answer unreadable" : `read ${{response.status}}`;
    }} catch (error) {{
      results[name] = "blocked";
    }}
  }}
  return results;
}};
</script>
</body></html>
"""


@pytest.fixture
def other_site():
    """A web server on another local port: another origin, as a page on the web would be."""
    pages: dict[str, str] = {}

    class Pages(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


def catalog(api: httpx.Client) -> list[dict]:
    return api.get("/products", params={"limit": 500, "order_by": "id"}).json()["items"]


def test_a_page_of_another_origin_cannot_change_the_catalog(browser, shop, api, other_site):
    site, pages = other_site
    shopper, new_id = f"victim-{uuid.uuid4().hex[:8]}", f"hacked-{uuid.uuid4().hex[:8]}"
    pages["/attack.html"] = ATTACK.format(shop=shop.url, victim=STRAP, shopper=shopper, new_id=new_id)
    before = catalog(api)

    context = browser.new_context()
    page = context.new_page()
    answers: list[tuple[str, int]] = []  # what the shop answered, as the network saw it
    page.on("response", lambda r: r.url.startswith(shop.url) and answers.append((r.request.method, r.status)))
    page.goto(f"{site}/attack.html")
    for form in ("import-text", "create-urlencoded", "profile"):
        loads = page.evaluate("window.loads || 0")
        page.evaluate("(id) => document.getElementById(id).submit()", form)
        page.wait_for_function("(n) => window.loads > n", arg=loads)  # the shop's answer is in the frame
    results = page.evaluate("window.attack()")
    context.close()

    # the browser asked first and was refused, or sent a simple request whose answer it may not read
    assert results == {
        "create": "blocked",
        "create no-cors": "sent, answer unreadable",
        "change": "blocked",
        "delete": "blocked",
        "import": "blocked",
        "import no-cors": "sent, answer unreadable",
        "shopper": "blocked",
        "shopper no-cors": "sent, answer unreadable",
    }
    assert answers and all(status == 403 for _, status in answers), answers
    assert len([method for method, _ in answers if method == "POST"]) >= 6  # the forms and no-cors posts
    assert catalog(api) == before
    assert api.get(f"/products/{new_id}").status_code == 404
    assert api.get(f"/users/{shopper}").status_code == 404


def test_the_admin_panel_asks_for_the_token_and_keeps_it_for_the_tab(browser, guarded_shop):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(guarded_shop.url)
    expect(page.locator("#token-form")).to_be_visible()
    expect(page.locator("#product-form")).to_be_hidden()
    expect(page.locator("#products tbody tr").first).to_be_visible()  # reading needs no token
    expect(page.get_by_role("button", name="Edit")).to_have_count(0)

    page.fill("#token", "not-the-token")
    page.click("#token-form button")
    expect(page.locator("#token-message")).to_have_text("That is not this shop's token.")
    expect(page.locator("#product-form")).to_be_hidden()

    page.fill("#token", TOKEN)
    page.click("#token-form button")
    expect(page.locator("#token-form")).to_be_hidden()
    expect(page.locator("#product-form")).to_be_visible()
    name = f"Unlocked lantern {uuid.uuid4().hex[:6]}"
    page.fill("#f-name", name)
    page.fill("#f-category", "outdoor")
    page.fill("#f-description", "A camping lantern added by the admin once the panel was unlocked")
    page.click("#save")
    expect(page.locator("#form-message")).to_contain_text("Added")

    # kept for this tab (a reload), in sessionStorage only: another tab asks again
    page.reload()
    expect(page.locator("#product-form")).to_be_visible()
    expect(page.locator("#token-form")).to_be_hidden()
    assert page.evaluate("localStorage.length") == 0
    page.fill("#find", name)
    row = page.locator("#products tbody tr").filter(has_text=name)
    row.get_by_role("button", name="Delete").click()
    expect(row).to_have_count(0)
    other_tab = context.new_page()
    other_tab.goto(guarded_shop.url)
    expect(other_tab.locator("#token-form")).to_be_visible()
    assert errors == []
    context.close()


@pytest.mark.parametrize("server", ["shop", "guarded_shop"])
def test_the_page_works_within_its_content_security_policy(browser, request, server):
    url = request.getfixturevalue(server).url
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.goto(url)
    page.evaluate(
        "document.addEventListener('securitypolicyviolation', e => (window.violations ||= []).push(e.violatedDirective))"
    )
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    expect(page.locator("#recs .card").first).to_be_visible()
    # a card's match meter is sized by script (CSSOM), which the policy allows
    expect(page.locator("#recs .card .meter span").first).not_to_have_css("width", "0px")
    page.click("#recs .card >> text=More like this")
    expect(page.locator("#similar-bar")).to_be_visible()
    assert json.dumps(page.evaluate("window.violations || []")) == "[]"
    assert violations == []
    context.close()


def test_the_api_docs_render_offline_within_their_policy(browser, shop):
    """Swagger UI comes from the shop itself (an installed package): a browser that can reach
    nothing but the shop shows every operation, and nothing breaks the page's policy."""
    context = browser.new_context()
    page = context.new_page()
    elsewhere: list[str] = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(shop.url)
            else (elsewhere.append(route.request.url), route.abort())
        ),
    )
    violations: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
    page.goto(shop.url + "docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    expect(
        page.locator(".swagger-ui .opblock-summary-path", has_text="/recommendations/stream")
    ).to_be_visible()
    assert elsewhere == [] and violations == []
    context.close()
