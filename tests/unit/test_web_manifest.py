"""The build manifest: only a build that holds together is ever served."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from chat_server.web_manifest import ManifestError, load_manifest, sri

FILES = {
    "app.css": ("app-BBBBBBBB.css", b"body{margin:0}"),
    "widget.js": ("widget-AAAAAAAA.js", b"console.log('widget');"),
    "widget.css": ("widget-DDDDDDDD.css", b"main{margin:0}"),
    "inbox.js": ("inbox-EEEEEEEE.js", b"console.log('inbox');"),
    "inbox.css": ("inbox-FFFFFFFF.css", b"main{padding:0}"),
    "panel.js": ("panel-GGGGGGGG.js", b"console.log('panel');"),
    "panel.css": ("panel-HHHHHHHH.css", b"main{border:0}"),
    "practice.js": ("practice-JJJJJJJJ.js", b"console.log('practice');"),
    "practice.css": ("practice-KKKKKKKK.css", b"main{outline:0}"),
    "moderation.js": ("moderation-LLLLLLLL.js", b"console.log('moderation');"),
    "moderation.css": ("moderation-MMMMMMMM.css", b"main{color:red}"),
    "widget-loader.js": ("widget-loader-CCCCCCCC.js", b"(()=>{})();"),
}


def write_build(build_dir: Path, **overrides: object) -> dict[str, object]:
    build_dir.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, object] = {}
    for logical, (name, body) in FILES.items():
        (build_dir / name).write_bytes(body)
        manifest[logical] = {"file": name, "integrity": sri(body)}
    manifest.update(overrides)
    (build_dir / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_sri_is_sha384_in_base64() -> None:
    digest = base64.b64encode(hashlib.sha384(b"abc").digest()).decode()
    assert sri(b"abc") == "sha384-" + digest


def test_loads_every_entry_with_its_bytes(tmp_path: Path) -> None:
    write_build(tmp_path)
    manifest = load_manifest(tmp_path)
    for logical, (name, body) in FILES.items():
        assert manifest[logical].name == name
        assert manifest[logical].body == body
        assert manifest[logical].integrity == sri(body)
    assert manifest["app.css"].content_type == "text/css"
    assert manifest["widget.js"].content_type == "text/javascript"
    assert manifest.by_file_name("widget-AAAAAAAA.js") is manifest["widget.js"]
    assert manifest.by_file_name("manifest.json") is None


def test_no_build_is_not_built(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=re.escape("no manifest.json")):
        load_manifest(tmp_path / "absent")


def test_malformed_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="unreadable"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(ManifestError, match="not an object"):
        load_manifest(tmp_path)


def test_a_missing_entry(tmp_path: Path) -> None:
    manifest = write_build(tmp_path)
    del manifest["widget-loader.js"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=re.escape("no entry 'widget-loader.js'")):
        load_manifest(tmp_path)


@pytest.mark.parametrize(
    "name",
    [
        "../widget-AAAAAAAA.js",
        "/etc/passwd",
        "widget.js",
        ".widget-AAAAAAAA.js",
        "widget-AAAAAAAA.css",
    ],
)
def test_names_are_hashed_files_of_the_same_kind(tmp_path: Path, name: str) -> None:
    write_build(tmp_path, **{"widget.js": {"file": name, "integrity": sri(b"")}})
    with pytest.raises(ManifestError, match=re.escape("'widget.js'")):
        load_manifest(tmp_path)


def test_a_file_gone_from_the_build(tmp_path: Path) -> None:
    write_build(tmp_path)
    (tmp_path / "app-BBBBBBBB.css").unlink()
    with pytest.raises(ManifestError, match="is missing"):
        load_manifest(tmp_path)


def test_a_file_that_does_not_match_its_integrity(tmp_path: Path) -> None:
    write_build(tmp_path)
    (tmp_path / "widget-AAAAAAAA.js").write_bytes(b"console.log('rebuilt');")
    with pytest.raises(ManifestError, match="does not match its integrity"):
        load_manifest(tmp_path)
