"""A practice's own web site, on another port (so another origin), embedding the widget.

The page holds nothing of CareChat's but the documented snippet
(``chat_server.rest.pages.widget_snippet``): what a practice pastes into its site.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from carechat_demo.cast import PRACTICE_NAME
from chat_server.rest.pages import widget_snippet
from chat_server.web_manifest import DEFAULT_BUILD_DIR, ManifestError, load_manifest


def practice_site(carechat_url: str, practice_id: str) -> web.Application:
    async def index(request: web.Request) -> web.Response:
        try:
            snippet = widget_snippet(carechat_url, practice_id, load_manifest(DEFAULT_BUILD_DIR))
        except ManifestError:
            snippet = "<p>The web client is not built: run <code>node web/build.mjs</code>.</p>"
        body = (
            '<!doctype html><html lang="en"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<link rel="icon" href="data:,"><title>{escape(PRACTICE_NAME)}</title>'
            f"<main><h1>{escape(PRACTICE_NAME)}</h1>"
            "<p>Opening hours: Monday to Friday, 8:00 to 18:00. "
            "Ask us a question through the secure chat.</p></main>"
            f"{snippet}</html>"
        )
        return web.Response(text=body, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    return app
