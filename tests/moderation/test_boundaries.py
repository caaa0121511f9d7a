"""moderation is a library: it imports none of the server, the other packages, or aiohttp."""

from __future__ import annotations

import subprocess
import sys

import pytest

from moderation.pseudonym import Pseudonymizer

FORBIDDEN = ("chat_server", "e2e_crypto", "payments", "aiohttp", "pymongo")


def test_importing_moderation_pulls_in_nothing_forbidden() -> None:
    # A fresh interpreter: this test session has long imported all of them.
    probe = (
        "import sys, moderation, moderation.audit, moderation.ratelimit, moderation.limits,"
        " moderation.sanctions, moderation.reports, moderation.consents\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FORBIDDEN!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


def test_pseudonyms_are_stable_keyed_and_separated_by_purpose() -> None:
    limiter = Pseudonymizer(b"s" * 32, purpose="carechat-rl")
    assert limiter("alice@example.org") == limiter("alice@example.org")
    assert len(limiter("alice@example.org")) == 32
    assert limiter("alice@example.org") != limiter("bob@example.org")
    assert limiter("a") != Pseudonymizer(b"t" * 32, purpose="carechat-rl")("a")
    assert limiter("a") != Pseudonymizer(b"s" * 32, purpose="carechat-audit")("a")
    assert "s" * 32 not in repr(limiter)


@pytest.mark.parametrize(
    ("secret", "purpose"),
    [(b"short", "x"), (b"s" * 65, "x"), (b"s" * 32, ""), (b"s" * 32, "p" * 17)],
)
def test_pseudonymizer_refuses_weak_setups(secret: bytes, purpose: str) -> None:
    with pytest.raises(ValueError, match="must be"):
        Pseudonymizer(secret, purpose=purpose)
