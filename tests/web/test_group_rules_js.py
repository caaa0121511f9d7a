"""The browser's group rules (``checkGroupEnvelope`` in web/src/client/panel.mjs, run
by node) against the protocol's vectors, tests/data/group.json: the group envelope
passes only with its patient admitted, and every refused envelope fails for the
reason the vectors name (stale epoch, mismatched epoch key, sender not in the epoch).

Like the other JS tests, a missing node fails these tests; it never skips them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CHECK = Path(__file__).with_name("group_rules_check.mjs")


def run_check() -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH: install Node 20 (see README)"
    result = subprocess.run(
        [node, str(CHECK)], capture_output=True, text=True, timeout=60, check=False, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_the_browser_applies_the_group_rules_of_the_vectors() -> None:
    report = run_check()
    assert report["withOutsiders"] == "accepted"
    assert report["withoutOutsiders"] == "sender_not_in_epoch"
    refused = report["refused"]
    assert [r["why"] for r in refused] == [
        "stale_epoch",
        "epoch_recipient_not_the_header_epoch",
        "sender_not_in_epoch",
    ]
    for case in refused:
        assert case["got"] == case["why"]
