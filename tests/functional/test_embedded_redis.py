"""The test session's and the benchmark's own redis-server (chat_server/embedded)."""

from __future__ import annotations

import socket

import pytest

from chat_server.embedded.processes import ServiceStartError
from chat_server.embedded.redis_server import LocalRedis


def test_a_port_taken_before_redis_binds_it_is_not_mistaken_for_ours() -> None:
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    try:
        picked = LocalRedis()
        picked.port = taken  # as if free_port's choice was taken in between
        picked.start()
        try:
            assert picked.port != taken
            assert picked._answers()
        finally:
            picked.stop()

        given = LocalRedis(port=taken)
        with pytest.raises(ServiceStartError, match="answered by another process"):
            given.start()
    finally:
        squatter.close()
