"""The web client's build manifest: which hashed file serves each logical name.

``web/build.mjs`` bundles the browser sources into ``chat_server/static/build/`` under
content-hashed names and writes ``manifest.json``::

    {"widget.js": {"file": "widget-JZRWWOBA.js", "integrity": "sha384-..."}, ...}

The pages (``rest/pages.py``) reference files only through this manifest, so a page
always names the bundle it was built with, together with its Subresource Integrity
hash. Loading checks every entry and reads the files once: a manifest that does not
hold (missing, malformed, a file absent or not matching its hash) is "not built",
never a half-served client.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MANIFEST: Final = "manifest.json"
# Where `node web/build.mjs` writes; the default of create_app's ``web_build_dir``.
DEFAULT_BUILD_DIR: Final = Path(__file__).resolve().parent / "static" / "build"
# The shared stylesheet, a script and a stylesheet per page, and the widget loader.
REQUIRED: Final = (
    "app.css",
    "widget.js",
    "widget.css",
    "inbox.js",
    "inbox.css",
    "panel.js",
    "panel.css",
    "practice.js",
    "practice.css",
    "moderation.js",
    "moderation.css",
    "widget-loader.js",
)
CONTENT_TYPES: Final = {".js": "text/javascript", ".css": "text/css"}
# A hashed name as esbuild writes it: never a path, never a dotfile.
_FILE_NAME: Final = re.compile(r"^[A-Za-z0-9_-]+-[A-Z0-9]{8}\.(js|css)$")


class ManifestError(Exception):
    """The build is missing or does not hold; ``str()`` says which part, for operators."""


@dataclass(frozen=True, slots=True)
class BuiltFile:
    name: str  # the hashed file name, as served under /static/build/
    integrity: str  # "sha384-<base64>", for the integrity attribute
    body: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[Path(self.name).suffix]


@dataclass(frozen=True, slots=True)
class WebManifest:
    entries: Mapping[str, BuiltFile]  # logical name -> file

    def __getitem__(self, logical: str) -> BuiltFile:
        return self.entries[logical]

    def by_file_name(self, name: str) -> BuiltFile | None:
        for built in self.entries.values():
            if built.name == name:
                return built
        return None


def sri(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode("ascii")


def load_manifest(build_dir: Path) -> WebManifest:
    """The checked manifest of ``build_dir``; :class:`ManifestError` if it does not hold."""
    try:
        raw = json.loads((build_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"no {MANIFEST} in {build_dir}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"unreadable {MANIFEST}: {type(exc).__name__}") from None
    if not isinstance(raw, dict):
        raise ManifestError(f"{MANIFEST} is not an object")
    entries: dict[str, BuiltFile] = {}
    for logical in REQUIRED:
        entries[logical] = _entry(build_dir, logical, raw.get(logical))
    return WebManifest(entries)


def _entry(build_dir: Path, logical: str, raw: object) -> BuiltFile:
    if not isinstance(raw, dict):
        raise ManifestError(f"{MANIFEST} has no entry {logical!r}")
    name, integrity = raw.get("file"), raw.get("integrity")
    if not isinstance(name, str) or not _FILE_NAME.fullmatch(name):
        raise ManifestError(f"{logical!r}: not a hashed file name")
    if Path(name).suffix != Path(logical).suffix:
        raise ManifestError(f"{logical!r}: {name} is not the same kind of file")
    try:
        body = (build_dir / name).read_bytes()
    except OSError:
        raise ManifestError(f"{logical!r}: {name} is missing") from None
    # A stale manifest beside rebuilt files would make every browser refuse the file.
    if integrity != sri(body):
        raise ManifestError(f"{logical!r}: {name} does not match its integrity hash")
    return BuiltFile(name=name, integrity=integrity, body=body)
