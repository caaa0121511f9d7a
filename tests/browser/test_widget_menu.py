"""The widget's header menu in Chromium against a real ``carechat serve``: one header
line in the loader's 400 px frame and on a 375 px phone, the items behind a "Menu"
disclosure a keyboard and a screen reader can use; inline on a wide screen."""

from __future__ import annotations

import asyncio
from typing import Final

from playwright.async_api import FloatRect, Locator, Page, Route, ViewportSize, expect

from tests.browser.axe import axe, install_axe, serious
from tests.browser.care_team import CareTeam, People, unique_email
from tests.browser.conftest import PRACTICE_ID, SCREENSHOTS, Watched
from tests.browser.test_widget import (
    FRAME,
    KEY_DERIVATION_MS,
    conversation_with_practice,
    create_keys,
    sign_in,
)
from tests.browser.widget_menu import widget_menu

PHONE: Final[ViewportSize] = {"width": 375, "height": 812}
SMALL_PHONE: Final[ViewportSize] = {"width": 320, "height": 640}
DESKTOP: Final[ViewportSize] = {"width": 1280, "height": 800}
ITEMS: Final = ["Announcements", "Privacy & consents", "Blocked accounts", "Settings", "My data"]


async def _signed_in_with_keys(page: Page, carechat: str, people: People) -> None:
    email = unique_email("menu")
    await people.person(email, name="Marie Dubois")
    await page.set_viewport_size(FRAME)
    await page.goto(f"{carechat}/widget?practice={PRACTICE_ID}")
    await sign_in(page, email)
    await create_keys(page)
    await expect(widget_menu(page)).to_be_visible(timeout=KEY_DERIVATION_MS)
    await expect(page.get_by_role("heading", name="Your practice")).to_be_visible()


async def _screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def _box(locator: Locator) -> FloatRect:
    box = await locator.bounding_box()
    assert box is not None
    return box


def _middle(box: FloatRect) -> float:
    return box["y"] + box["height"] / 2


async def _inaccessible(page: Page, name: str) -> dict[str, list[str]]:
    failing = serious(await axe(page))
    return {name: failing} if failing else {}


async def test_a_narrow_widget_keeps_one_header_line_and_folds_the_menu_behind_a_button(
    watched: Watched, carechat: str, people: People
) -> None:
    page = watched.page
    await install_axe(page.context)
    await _signed_in_with_keys(page, carechat, people)
    menu = widget_menu(page)
    toggle = menu.get_by_role("button", name="Menu", exact=True)
    settings = menu.get_by_role("button", name="Settings", exact=True)
    header = page.locator("header.w-header")

    for size in (FRAME, SMALL_PHONE, PHONE):
        await page.set_viewport_size(size)
        # One line: the name, the connection dot, the language and "Menu" side by side.
        await expect(toggle).to_be_visible()
        await expect(settings).to_be_hidden()
        brand = await _box(page.locator(".w-brand"))
        for other in (await _box(page.get_by_label("Language")), await _box(toggle)):
            assert abs(_middle(other) - _middle(brand)) < 8, (other, brand)
        box = await _box(header)
        assert box["height"] < 60, box
        assert await page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        await expect(page.locator("#notice")).to_be_in_viewport()
    inaccessible = await _inaccessible(page, "menu closed phone")
    await _screenshot(page, "widget-menu-closed-375")

    # The disclosure: its state and what it controls, focus into it, Escape back out.
    controlled = await toggle.get_attribute("aria-controls")
    assert controlled is not None
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    listed = page.locator(f"#{controlled}")
    await expect(listed).to_be_visible()
    await expect(listed.get_by_role("button")).to_have_text(ITEMS)
    await expect(listed.get_by_role("button", name="Announcements")).to_be_focused()
    await expect(page.locator("#notice")).to_be_in_viewport()  # never covered
    inaccessible |= await _inaccessible(page, "menu open phone")
    await _screenshot(page, "widget-menu-open-375")
    await page.keyboard.press("ArrowDown")
    await expect(listed.get_by_role("button", name="Privacy & consents")).to_be_focused()
    await page.keyboard.press("ArrowUp")
    await page.keyboard.press("ArrowUp")
    await expect(listed.get_by_role("button", name="My data")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(listed).to_be_hidden()
    await expect(toggle).to_be_focused()

    # Keyboard only: Enter opens it, Tab walks the items, leaving the menu closes it.
    await page.keyboard.press("Enter")
    await expect(listed.get_by_role("button", name="Announcements")).to_be_focused()
    for _ in ITEMS:
        await page.keyboard.press("Tab")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(listed).to_be_hidden()

    # A click outside closes it and moves nothing.
    await toggle.click()
    await expect(listed).to_be_visible()
    await page.locator(".w-view").click(position={"x": 5, "y": 5})  # beside the panel
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(page.get_by_role("heading", name="Your practice")).to_be_visible()

    # Choosing an item closes the menu and shows its page, its heading focused.
    await toggle.click()
    await listed.get_by_role("button", name="Settings").click()
    await expect(page.get_by_role("heading", name="Settings", level=1)).to_be_focused()
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(listed).to_be_hidden()

    # In French and Dutch too.
    await page.get_by_label("Language").select_option("fr")
    await expect(widget_menu(page).get_by_role("button", name="Menu")).to_be_visible()
    await toggle.click()
    await expect(listed.get_by_role("button", name="Réglages")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.get_by_label("Langue").select_option("nl")
    await toggle.click()
    await expect(listed.get_by_role("button", name="Instellingen")).to_be_visible()
    await page.keyboard.press("Escape")
    await page.get_by_label("Taal", exact=True).select_option("en")
    assert inaccessible == {}, inaccessible


async def test_a_wide_widget_shows_the_menu_inline_without_the_button(
    watched: Watched, carechat: str, people: People
) -> None:
    page = watched.page
    await install_axe(page.context)
    await _signed_in_with_keys(page, carechat, people)
    await page.set_viewport_size(DESKTOP)
    menu = widget_menu(page)
    await expect(menu.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
    await expect(menu.get_by_role("button")).to_have_text(ITEMS)
    await _screenshot(page, "widget-menu-closed-1280")
    await menu.get_by_role("button", name="Blocked accounts").click()
    await expect(page.get_by_role("heading", name="Blocked accounts", level=1)).to_be_visible()
    inaccessible = await _inaccessible(page, "menu inline desktop")

    # Opened at a narrow width, then widened: the list is inline, not a dropped panel.
    await page.set_viewport_size(PHONE)
    await menu.get_by_role("button", name="Menu", exact=True).click()
    await page.set_viewport_size(DESKTOP)
    await expect(menu.get_by_role("button")).to_have_text(ITEMS)
    listed = page.locator("#w-menu-list")
    assert await listed.evaluate("el => getComputedStyle(el).position") == "static"
    await _screenshot(page, "widget-menu-open-1280")
    assert inaccessible == {}, inaccessible


async def test_an_open_menu_and_its_focus_survive_a_live_update_of_the_page(
    watched: Watched, carechat: str, team: CareTeam, people: People
) -> None:
    page = watched.page
    conversation = await conversation_with_practice(page, carechat, team, people)
    await page.get_by_role("button", name="All conversations").click()
    await expect(page.get_by_role("heading", name="Your practice")).to_be_visible()
    toggle = widget_menu(page).get_by_role("button", name="Menu", exact=True)
    await toggle.click()
    await page.keyboard.press("ArrowDown")
    privacy = widget_menu(page).get_by_role("button", name="Privacy & consents")
    await expect(privacy).to_be_focused()
    # A message arrives: the practice page re-renders its unread count under the menu.
    await team.practitioner.send(conversation.thread_id, "A reply while you look around.")
    await expect(page.locator(".w-thread-row .w-badge")).to_have_text("1")
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(privacy).to_be_focused()


async def test_a_menu_opened_while_the_widget_connects_stays_open_when_the_page_arrives(
    watched: Watched, carechat: str, people: People
) -> None:
    page = watched.page
    email = unique_email("menu")
    await people.person(email, name="Marie Dubois")
    await page.set_viewport_size(FRAME)
    # The practice page (its care links) waits until the patient has opened the menu.
    menu_open = asyncio.Event()

    async def hold(route: Route) -> None:
        await menu_open.wait()
        await route.continue_()

    await page.route("**/api/v1/care-links", hold)
    await page.goto(f"{carechat}/widget?practice={PRACTICE_ID}")
    await sign_in(page, email)
    await create_keys(page)
    menu = widget_menu(page)
    toggle = menu.get_by_role("button", name="Menu", exact=True)
    await toggle.click()
    settings = menu.get_by_role("button", name="Settings", exact=True)
    await expect(settings).to_be_visible()
    menu_open.set()
    # The page arrives under the open menu: the menu stays, with the patient's focus.
    await expect(page.get_by_role("heading", name="Your practice")).to_be_visible()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    await expect(menu.get_by_role("button", name="Announcements")).to_be_focused()
    await settings.click()
    await expect(page.get_by_role("heading", name="Settings", level=1)).to_be_focused()
