"""Every piece of shared application state, typed, in one place.

Anything a handler needs is reached through one of these keys; ``create_app`` is the
only code that assigns them (cleanup contexts fill in the resources they own).
"""

from __future__ import annotations

from typing import Any

import aiojobs
from aiohttp import web
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import Clock
from chat_server.fanout import Broker
from chat_server.metrics import Metrics
from chat_server.settings import Settings
from chat_server.ws.hub import Hub

SETTINGS = web.AppKey("SETTINGS", Settings)
CLOCK = web.AppKey("CLOCK", Clock)
METRICS = web.AppKey("METRICS", Metrics)
MONGO_CLIENT = web.AppKey("MONGO_CLIENT", AsyncMongoClient[dict[str, Any]])
DB = web.AppKey("DB", AsyncDatabase[dict[str, Any]])
BROKER = web.AppKey[Broker]("BROKER")
HUB = web.AppKey("HUB", Hub)
SCHEDULER = web.AppKey("SCHEDULER", aiojobs.Scheduler)
