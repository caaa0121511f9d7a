"""The widget's header menu as a patient reaches it: in a narrow frame (the loader's
400 px iframe, a phone) its items are behind the "Menu" button; wider they are inline.
Tests choose an item with ``open_widget_menu`` whatever the size the page is at."""

from __future__ import annotations

from playwright.async_api import FrameLocator, Locator, Page, expect

MENU_LABEL = "Menu"
APPEARS_MS = 15_000


def widget_menu(page: Page | FrameLocator) -> Locator:
    return page.get_by_role("navigation", name=MENU_LABEL)


async def open_widget_menu(page: Page | FrameLocator, name: str) -> None:
    """Chooses the menu item ``name``, opening the menu first if it is folded."""
    menu = widget_menu(page)
    toggle = menu.get_by_role("button", name=MENU_LABEL, exact=True)
    item = menu.get_by_role("button", name=name, exact=True)
    # Waits for the menu (it appears once the patient is connected), in either form.
    await expect(toggle.or_(item).first).to_be_visible(timeout=APPEARS_MS)
    if await toggle.is_visible() and await toggle.get_attribute("aria-expanded") != "true":
        await toggle.click()
    await item.click()
