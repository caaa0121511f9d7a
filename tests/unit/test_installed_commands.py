"""``carechat bench`` is found by entry point: the server package imports no benchmark."""

from __future__ import annotations

import pytest

from carechat_bench.command import bench
from chat_server.cli import installed_command
from chat_server.errors import StartupError


def test_bench_is_the_installed_benchmark_command() -> None:
    assert installed_command("bench") is bench


def test_a_command_that_is_not_installed_is_a_startup_error() -> None:
    with pytest.raises(StartupError, match="not installed"):
        installed_command("no-such-command")
