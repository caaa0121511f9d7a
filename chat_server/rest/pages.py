"""The web client's pages: the HTML shells, their hashed bundles and the widget loader.

::

    /app                    the practitioner inbox (inbox.js, inbox.css)
    /panel                  the GP-panel console (panel.js, panel.css)
    /practice               the practice console: roster, campaigns (practice.js, practice.css)
    /moderation             the moderator console: reports, accounts, audit log, failed
                            jobs (moderation.js, moderation.css)
    /widget                 the patient widget (widget.js, widget.css), framed by a
                            practice's site
    /verify, /invite,       the widget again: the pages of the links CareChat e-mails
    /announcements          (the last one: a practice mailing's notice)
    /widget.js              the loader a practice pastes (web/README.md): short cache
    /static/build/<hashed>  the bundles web/build.mjs wrote: cached for a year

Each page references its files through the build manifest
(:mod:`chat_server.web_manifest`) with Subresource Integrity, and sends its own
Content-Security-Policy, which the security-headers hook keeps: no inline script or
style, no ``unsafe-eval``, ``'wasm-unsafe-eval'`` because the shell compiles
libsodium's WebAssembly, nothing from any other host. ``frame-ancestors`` is
``'none'`` for ``/app``, ``/panel``, ``/practice`` and ``/moderation``; for ``/widget``
it lists the ``widget_embed_origins`` setting. Without a build (or with one that does not match
its manifest) every route here answers
:class:`~chat_server.errors.WebClientNotBuilt`, a 503, never a 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from aiohttp import web

from chat_server.appkeys import PAGES
from chat_server.errors import NotFound, WebClientNotBuilt
from chat_server.web_manifest import ManifestError, WebManifest, load_manifest

IMMUTABLE: Final = "public, max-age=31536000, immutable"
# The loader's URL never changes, so a new build must reach browsers soon.
LOADER_CACHE: Final = "public, max-age=300"
NOTICE: Final = "Not for emergencies \N{EM DASH} call 112 (100 in Belgium, 15 in France)."


def page_policy(frame_ancestors: tuple[str, ...]) -> str:
    """The CSP of a page; ``frame_ancestors`` empty means no site may frame it."""
    ancestors = " ".join(frame_ancestors) if frame_ancestors else "'none'"
    return (
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; "
        f"frame-ancestors {ancestors}"
    )


APP_POLICY: Final = page_policy(())


def widget_snippet(public_url: str, practice_id: str, manifest: WebManifest) -> str:
    """The tag a practice pastes into its site; ``integrity`` pins this build's loader."""
    loader = manifest["widget-loader.js"]
    return (
        f'<script src="{public_url.rstrip("/")}/widget.js" data-practice="{practice_id}" '
        f'integrity="{loader.integrity}" crossorigin="anonymous"></script>'
    )


class Pages:
    """The manifest, loaded on first use and kept once it holds; until then every
    request tries again, so building after start-up needs no restart."""

    def __init__(self, build_dir: Path, widget_embed_origins: tuple[str, ...]) -> None:
        self.build_dir = build_dir
        self.widget_policy = page_policy(widget_embed_origins)
        self._manifest: WebManifest | None = None

    def manifest(self) -> WebManifest:
        if self._manifest is None:
            try:
                self._manifest = load_manifest(self.build_dir)
            except ManifestError as exc:
                raise WebClientNotBuilt(log_detail=str(exc)) from None
        return self._manifest

    def shell(self, page: str, title: str) -> str:
        """The HTML of ``page`` ("widget", "inbox", "panel", "practice" or
        "moderation"): the shared app.css, then the page's own CSS and script; the
        emergency notice sits outside ``<main id="root">``, in the page's ``<header>``,
        so the page's script can never unmount it."""
        manifest = self.manifest()
        shared, style, script = (
            manifest["app.css"],
            manifest[f"{page}.css"],
            manifest[f"{page}.js"],
        )
        # Nothing from the request is written into the page: only the manifest's names
        # and hashes, which load_manifest has checked.
        return (
            "<!doctype html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            # No favicon request (it would 404): an empty one, allowed by img-src data:.
            '<link rel="icon" href="data:,">\n'
            f"<title>{title}</title>\n"
            f'<link rel="stylesheet" href="/static/build/{shared.name}" '
            f'integrity="{shared.integrity}" crossorigin="anonymous">\n'
            f'<link rel="stylesheet" href="/static/build/{style.name}" '
            f'integrity="{style.integrity}" crossorigin="anonymous">\n'
            f'<script type="module" src="/static/build/{script.name}" '
            f'integrity="{script.integrity}" crossorigin="anonymous"></script>\n'
            "</head>\n<body>\n"
            # In a landmark (the page's banner), as all content should be (axe "region").
            f'<header class="notice-bar"><p class="notice" id="notice" role="note">{NOTICE}</p>'
            "</header>\n"
            # The page's script replaces the children and sets data-state="ready".
            f'<main id="root" data-page="{page}" data-state="loading" aria-busy="true">\n'
            '<p class="status" role="status">loading\N{HORIZONTAL ELLIPSIS}</p>\n'
            "</main>\n</body>\n</html>\n"
        )


def _html(body: str, policy: str) -> web.Response:
    response = web.Response(text=body, content_type="text/html")
    response.headers["Content-Security-Policy"] = policy
    return response


async def app_page(request: web.Request) -> web.Response:
    return _html(request.app[PAGES].shell("inbox", "CareChat"), APP_POLICY)


async def panel_page(request: web.Request) -> web.Response:
    return _html(request.app[PAGES].shell("panel", "CareChat"), APP_POLICY)


async def practice_page(request: web.Request) -> web.Response:
    return _html(request.app[PAGES].shell("practice", "CareChat"), APP_POLICY)


async def moderation_page(request: web.Request) -> web.Response:
    return _html(request.app[PAGES].shell("moderation", "CareChat"), APP_POLICY)


async def widget_page(request: web.Request) -> web.Response:
    pages = request.app[PAGES]
    return _html(pages.shell("widget", "CareChat"), pages.widget_policy)


async def widget_loader(request: web.Request) -> web.Response:
    loader = request.app[PAGES].manifest()["widget-loader.js"]
    response = web.Response(body=loader.body, content_type=loader.content_type)
    response.headers["Cache-Control"] = LOADER_CACHE
    # The snippet loads it with crossorigin="anonymous" so the browser checks its
    # integrity: that needs CORS, and the file is the same public bytes for everyone.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


async def built_file(request: web.Request) -> web.Response:
    built = request.app[PAGES].manifest().by_file_name(request.match_info["name"])
    if built is None:
        raise NotFound()
    response = web.Response(body=built.body, content_type=built.content_type)
    # The name changes with the content, so a copy never goes stale.
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/app", app_page, name="web_app")
    app.router.add_get("/panel", panel_page, name="web_panel")
    app.router.add_get("/practice", practice_page, name="web_practice")
    app.router.add_get("/moderation", moderation_page, name="web_moderation")
    app.router.add_get("/widget", widget_page, name="web_widget")
    # The links CareChat e-mails open the widget's own views; their secret is in the
    # fragment, which the browser never sends, so the server serves the same page.
    app.router.add_get("/verify", widget_page, name="web_verify")
    app.router.add_get("/invite", widget_page, name="web_invite")
    app.router.add_get("/announcements", widget_page, name="web_announcements")
    app.router.add_get("/widget.js", widget_loader, name="web_widget_loader")
    app.router.add_get("/static/build/{name}", built_file, name="web_built_file")
