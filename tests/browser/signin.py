"""The sign-in every page shares (widget, inbox's look-alikes, GP and practice consoles):
a password, then a recovery passphrase that seals this browser's new keys."""

from __future__ import annotations

from playwright.async_api import Page

from tests.browser.care_team import PASSPHRASE, PASSWORD


async def sign_in_and_create_keys(page: Page, email: str) -> None:
    """Fills the sign-in form on ``page`` and then the new-keys form; returns once
    "Create my keys" is clicked (deriving the key takes seconds: the caller waits for
    the page it expects next)."""
    await page.get_by_label("E-mail address").fill(email)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Recovery passphrase", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Type the passphrase again").fill(PASSPHRASE)
    await page.get_by_role("button", name="Create my keys").click()
