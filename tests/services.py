"""The real services one test session runs against."""

from __future__ import annotations

from dataclasses import dataclass

from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.embedded.redis_server import LocalRedis


@dataclass(frozen=True, slots=True)
class Services:
    mongo: EmbeddedMongo
    redis: LocalRedis
