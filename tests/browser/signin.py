"""The sign-in every page shares (widget, inbox's look-alikes, GP and practice consoles):
a password, then a recovery passphrase that seals this browser's new keys."""

from __future__ import annotations

from typing import Final

from playwright.async_api import Locator, Page

from tests.browser.axe import install_axe
from tests.browser.care_team import PASSPHRASE, PASSWORD

KEY_DERIVATION_MS: Final = 30_000  # Argon2id in the page on a busy machine


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


async def open_signed_in(page: Page, url: str, email: str, first: Locator) -> None:
    """Opens ``url`` with axe installed, signs in with new keys, and waits until
    ``first`` (what the page shows once signed in) is visible."""
    await install_axe(page.context)
    await page.goto(url)
    await sign_in_and_create_keys(page, email)
    await first.wait_for(timeout=KEY_DERIVATION_MS)
