"""Safety numbers from two root keys."""

from __future__ import annotations

from e2e_crypto.keys import RootKey
from e2e_crypto.safety import format_safety_number, safety_number


def test_order_independent_and_key_sensitive() -> None:
    a, b, c = RootKey.generate(), RootKey.generate(), RootKey.generate()
    ab = safety_number("alice", a.public_key, "bob", b.public_key)
    assert ab == safety_number("bob", b.public_key, "alice", a.public_key)
    assert len(ab) == 60
    assert ab.isdigit()
    assert ab != safety_number("alice", a.public_key, "bob", c.public_key)
    assert ab != safety_number("alice", a.public_key, "bobby", b.public_key)
    groups = format_safety_number(ab).split(" ")
    assert len(groups) == 12
    assert all(len(g) == 5 for g in groups)
