"""The page shell and the widget in Chromium, under their real CSP, from a real server."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Final

import aiohttp
from playwright.async_api import expect

from chat_server.rest.pages import APP_POLICY, NOTICE, page_policy
from chat_server.web_manifest import sri
from tests.browser.conftest import PRACTICE_ID, Site, Watched

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROOT: Final = Path(__file__).resolve().parents[2]


async def test_app_turns_ready_under_the_strict_csp(watched: Watched, carechat: str) -> None:
    page = watched.page
    response = await page.goto(carechat + "/app")
    assert response is not None
    assert response.status == 200
    assert await response.header_value("content-security-policy") == APP_POLICY
    # "ready" only once libsodium's WebAssembly compiled: without 'wasm-unsafe-eval'
    # the module throws, the root stays "loading" and the console error fails this.
    await expect(page.locator("#root")).to_have_attribute("data-state", "ready")
    await expect(page.locator("#root")).to_have_attribute("data-page", "inbox")
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator("#notice")).to_have_text(NOTICE)
    # The notice is outside the root, which the page's script owns.
    assert await page.locator("#root #notice").count() == 0
    for path in await watched.screenshots("app"):
        assert path.read_bytes().startswith(PNG_MAGIC)


async def test_bundles_carry_their_integrity_and_cache_forever(carechat: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(carechat + "/app") as response:
            html = await response.text()
        tags = re.findall(r'(?:src|href)="(/static/build/[^"]+)" integrity="([^"]+)"', html)
        # The shared stylesheet, the inbox's own stylesheet and its script.
        kinds = sorted(
            path.rsplit("/", 1)[1].split("-", 1)[0] + "." + path.rsplit(".", 1)[1]
            for path, _ in tags
        )
        assert kinds == ["app.css", "inbox.css", "inbox.js"]
        assert "<style" not in html
        assert "<script>" not in html
        for path, integrity in tags:
            async with http.get(carechat + path) as response:
                assert response.status == 200
                assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
                assert sri(await response.read()) == integrity
        async with http.get(carechat + "/widget.js") as response:
            assert response.headers["Cache-Control"] == "public, max-age=300"
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert response.content_type == "text/javascript"


async def test_allowed_site_embeds_the_widget(
    watched: Watched, carechat: str, allowed_site: Site
) -> None:
    page = watched.page
    await page.goto(allowed_site.url)
    frame_tag = page.locator("iframe.carechat-widget")
    await expect(frame_tag).to_have_attribute("src", f"{carechat}/widget?practice={PRACTICE_ID}")
    widget = page.frame_locator("iframe.carechat-widget")
    # The frame runs on the CareChat origin, with its own CSP, and loads the crypto.
    await expect(widget.locator("#root")).to_have_attribute("data-state", "ready")
    await expect(widget.locator("#root")).to_have_attribute("data-page", "widget")
    await expect(widget.locator("#notice")).to_be_visible()
    for path in await watched.screenshots("widget-embedded"):
        assert path.read_bytes().startswith(PNG_MAGIC)
    # On a phone the frame fits the practice's page: nothing scrolls sideways.
    await page.set_viewport_size({"width": 375, "height": 812})
    box = await frame_tag.bounding_box()
    assert box is not None
    assert box["x"] + box["width"] <= 375
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await expect(widget.get_by_role("button", name="Sign in")).to_be_in_viewport()


async def test_widget_page_names_only_the_configured_ancestors(
    carechat: str, allowed_site: Site
) -> None:
    async with aiohttp.ClientSession() as http, http.get(carechat + "/widget") as response:
        policy = response.headers["Content-Security-Policy"]
    assert policy == page_policy((allowed_site.origin,))


async def test_other_sites_cannot_frame_the_widget(
    watched: Watched, carechat: str, foreign_site: Site
) -> None:
    page = watched.page
    watched.expect_error(r"Framing '.*' violates .*\"frame-ancestors .*blocked")
    await page.goto(foreign_site.url)
    await expect(page.locator("iframe.carechat-widget")).to_have_count(1)
    frame = next(f for f in page.frames if f is not page.main_frame)
    await frame.wait_for_load_state()
    # Chromium put its error page in place of the widget: no CareChat page runs there.
    assert not frame.url.startswith(carechat)
    assert await frame.locator("#root").count() == 0


def test_every_page_has_each_text_in_fr_nl_and_en() -> None:
    """Every module that registers texts (the widget's, the inbox's, the consoles', the
    shell's) gives each key in all three languages: none falls back to English."""
    sources = sorted(
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "web" / "src").rglob("*.mjs")
        if "registerMessages(" in path.read_text(encoding="utf-8")
    )
    assert "web/src/widget/i18n/fr.mjs" in sources
    script = (
        "const i18n = await import('./web/src/ui/i18n.mjs');"
        f"for (const source of {json.dumps(sources)}) await import(`./${{source}}`);"
        "console.log(JSON.stringify(Object.fromEntries("
        "i18n.LANGUAGES.map((l) => [l, i18n.catalogKeys(l)]))));"
    )
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
        timeout=60,
    ).stdout
    catalogs = json.loads(out.strip().splitlines()[-1])
    english = set(catalogs["en"])
    for lang in ("fr", "nl"):
        assert set(catalogs[lang]) - english == set(), lang
        assert english - set(catalogs[lang]) == set(), lang
    assert len(english) > 600
