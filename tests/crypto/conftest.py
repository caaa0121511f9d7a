"""Fixtures for the crypto suite: pure computation, no services."""

from __future__ import annotations

import pytest

from tests.crypto.people import Person


@pytest.fixture(scope="module")
def alice() -> Person:
    return Person.new("patient-alice", "phone", "laptop")


@pytest.fixture(scope="module")
def bob() -> Person:
    return Person.new("dr-bob", "desk")


@pytest.fixture(scope="module")
def mallory() -> Person:
    return Person.new("mallory", "m1")
