"""axe-core (npm dev dependency) in the browser tests: issue 14 asks for no serious or
critical violation on any page, at desktop and phone sizes.

axe is injected as an init script, which the page's CSP does not apply to, so the pages
are checked under their real policy. Install it on a context before its first
navigation; then ``violations_at_sizes`` checks a page (or one of its frames) at every
size of ``SIZES``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from playwright.async_api import BrowserContext, Frame, Page

from tests.browser.conftest import SIZES

AXE: Final = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


async def install_axe(context: BrowserContext) -> None:
    assert AXE.is_file(), "run `npm ci` (axe-core is a dev dependency)"
    await context.add_init_script(path=str(AXE))


def serious(violations: list[dict[str, Any]]) -> list[str]:
    """The serious and critical violations, one readable line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in ("serious", "critical")
    ]


async def axe(target: Page | Frame) -> list[dict[str, Any]]:
    """axe-core's violations in a page or frame."""
    result: list[dict[str, Any]] = await target.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return result


async def violations_at_sizes(page: Page, name: str) -> dict[str, list[str]]:
    """The serious violations of ``page`` at each size, keyed ``"<name> <size>"`` (only
    the sizes that have some); the page is left at its original size."""
    original = page.viewport_size
    found: dict[str, list[str]] = {}
    for size, (width, height) in SIZES.items():
        await page.set_viewport_size({"width": width, "height": height})
        if failing := serious(await axe(page)):
            found[f"{name} {size}"] = failing
    if original is not None:
        await page.set_viewport_size(original)
    return found


async def overflows_a_phone(page: Page) -> bool:
    """Whether ``page``, laid out at the phone size, is wider than the phone (it would
    scroll sideways); the page is left at its original size."""
    original = page.viewport_size
    width, height = SIZES["phone"]
    await page.set_viewport_size({"width": width, "height": height})
    laid_out = await page.evaluate("document.documentElement.scrollWidth")
    if original is not None:
        await page.set_viewport_size(original)
    return bool(laid_out > width)
