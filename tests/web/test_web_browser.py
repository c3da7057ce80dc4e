"""The shop page in real headless Chromium: recommendations follow every change without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect


def show_profile(page: Page, text: str) -> None:
    """Types what the shopper likes and waits for its list (a new top card): a card that enters or
    changes afterwards is highlighted, while a list shown for a new text is not."""
    top = page.locator("#recs .card").first
    before = top.get_attribute("data-id")
    page.fill("#profile", text)
    expect(top).not_to_have_attribute("data-id", before)


def card(page: Page, name: str):
    return page.locator("#recs .card").filter(has=page.get_by_text(name, exact=True))


def set_threshold(page: Page, value: float) -> None:
    page.eval_on_selector(
        "#threshold",
        "(el, value) => { el.value = value; el.dispatchEvent(new Event('input', { bubbles: true })); }",
        str(value),
    )


def test_a_typed_profile_shows_recommendations(page, test_output):
    cards = page.locator("#recs .card")
    expect(cards).to_have_count(10)
    page.screenshot(path=test_output / "shop-1280x800.png")

    show_profile(page, "coffee for my morning espresso")
    expect(cards.first.locator(".card-name")).to_contain_text("Coffee")
    expect(cards.first.locator(".card-score")).to_have_text(re.compile(r"^\d+% match$"))

    show_profile(page, "a user likes sports")
    page.select_option("#count", "5")
    expect(cards).to_have_count(5)
    categories = cards.locator(".card-category").all_inner_texts()
    assert sum("sport" in c for c in categories) >= 2, categories

    set_threshold(page, 0.2)  # nothing in the catalog is that close
    expect(cards).to_have_count(0)
    expect(page.locator("#recs-status")).to_contain_text("raise the max distance")
    set_threshold(page, 1.2)
    expect(cards).to_have_count(5)


def test_the_page_fits_a_phone_screen(browser, shop, test_output):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(shop.url)
    expect(page.locator("#recs .card").first).to_be_visible()
    expect(page.locator("#products tbody tr").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
    shopper = page.locator(".phone").bounding_box()
    admin = page.locator(".admin").bounding_box()
    assert shopper["width"] == pytest.approx(390, abs=1)
    assert admin["y"] >= shopper["y"] + shopper["height"]  # the panels stack
    page.screenshot(path=test_output / "shop-390.png")
    context.close()


def test_adding_editing_and_deleting_in_the_admin_panel_updates_the_shopper_view(page):
    show_profile(page, "a waterproof paddle for kayaking on rivers")
    expect(page.locator("#recs .card").first).to_be_visible()
    # product text is shown as text: this name must not become an element
    name = 'Riverline kayak paddle <img src=x onerror="window.injected=1">'
    page.fill("#f-name", name)
    page.fill("#f-category", "water sports")
    page.fill("#f-price", "129")
    page.fill(
        "#f-description", "A light carbon kayak paddle, waterproof, for kayaking on rivers and whitewater"
    )
    page.click("#save")

    added = card(page, name)
    expect(added).to_have_count(1)
    expect(added).to_have_class(re.compile(r"\bflash\b"))  # a new card is highlighted
    expect(added.locator(".card-price")).to_have_text("$129.00")
    expect(page.locator("#form-message")).to_contain_text("Added")
    assert page.locator("#recs img").count() == 0
    assert page.evaluate("window.injected") is None

    page.fill("#find", "Riverline kayak paddle")
    row = page.locator("#products tbody tr").filter(has_text="Riverline kayak paddle")
    row.get_by_role("button", name="Edit").click()
    expect(page.locator("#f-name")).to_have_value(name)
    page.fill("#f-price", "99")
    page.click("#save")
    expect(added.locator(".card-price")).to_have_text("$99.00")
    expect(page.locator("#form-message")).to_contain_text("Saved")

    row.get_by_role("button", name="Delete").click()
    expect(added).to_have_count(0)
    expect(row).to_have_count(0)


def test_changes_through_the_api_by_another_client_show_up(page, api):
    show_profile(page, "a solar lantern for camping trips")
    expect(page.locator("#recs .card").first).to_be_visible()
    created = api.post(
        "/products",
        json={
            "name": "Sunbeam camping lantern",
            "description": "A solar-powered camping lantern that charges in sunlight, for tents and trips",
            "category": "outdoor",
            "price": 35,
        },
    )
    assert created.status_code == 201
    key = created.json()["id"]
    shown = card(page, "Sunbeam camping lantern")
    expect(shown).to_have_count(1)

    api.patch(f"/products/{key}", json={"name": "Sunbeam lantern XL", "price": 42})
    renamed = card(page, "Sunbeam lantern XL")
    expect(renamed.locator(".card-price")).to_have_text("$42.00")
    expect(renamed).to_have_class(re.compile(r"\bflash\b"))  # a changed card is highlighted too

    api.delete(f"/products/{key}")
    expect(renamed).to_have_count(0)


def test_a_write_by_another_process_on_the_same_file_shows_up(page, api, second_shop):
    show_profile(page, "a telescope for watching the stars at night")
    expect(page.locator("#recs .card").first).to_be_visible()
    other = f"{second_shop.url}products"
    created = api.post(
        other,
        json={
            "name": "Stargazer telescope",
            "description": "A beginner's telescope for watching stars, planets and the moon at night",
            "category": "astronomy",
            "price": 199,
        },
    )
    assert created.status_code == 201
    shown = card(page, "Stargazer telescope")
    expect(shown).to_have_count(1)
    api.delete(f"{other}/{created.json()['id']}")
    expect(shown).to_have_count(0)
