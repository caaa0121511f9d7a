"""The fault tests wait on recoveries (a restarted Redis, a killed process, a failover)
with deadlines: they are run with the machine to themselves (marker ``alone``, see
the Makefile's ``pytest`` target), never beside the parallel run."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.alone)
