"""Every piece of shared application state, typed, in one place.

Anything a handler needs is reached through one of these keys; ``create_app`` is the
only code that assigns them (cleanup contexts fill in the resources they own).
"""

from __future__ import annotations

from typing import Any

import aiojobs
from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from chat_server.clock import Clock
from chat_server.fanout import Broker
from chat_server.handlers.accounts import AccountService
from chat_server.handlers.care import CareService
from chat_server.handlers.devices import DeviceService
from chat_server.handlers.groups import GroupService
from chat_server.handlers.threads import ThreadService
from chat_server.mail import Mailer, SmsSender
from chat_server.metrics import Metrics
from chat_server.settings import Settings
from chat_server.storage.accounts import AccountStore
from chat_server.storage.attachments import AttachmentStore, KeyBackupStore
from chat_server.storage.audit import AuditStore
from chat_server.storage.messages import MessageStore
from chat_server.ws.admission import PendingSockets
from chat_server.ws.hub import Hub

SETTINGS = web.AppKey("SETTINGS", Settings)
CLOCK = web.AppKey("CLOCK", Clock)
METRICS = web.AppKey("METRICS", Metrics)
DB = web.AppKey("DB", AsyncDatabase[dict[str, Any]])
# The same database through the group-committed writers' own small pool (storage.mongo).
WRITE_DB = web.AppKey("WRITE_DB", AsyncDatabase[dict[str, Any]])
BROKER = web.AppKey[Broker]("BROKER")
HUB = web.AppKey("HUB", Hub)
PENDING_SOCKETS = web.AppKey("PENDING_SOCKETS", PendingSockets)
SCHEDULER = web.AppKey("SCHEDULER", aiojobs.Scheduler)

# Domain services, built by ``app.domain_ctx`` once MongoDB and the broker are up.
ACCOUNTS = web.AppKey[AccountService]("ACCOUNTS")
DEVICES = web.AppKey[DeviceService]("DEVICES")
CARE = web.AppKey[CareService]("CARE")
THREADS = web.AppKey[ThreadService]("THREADS")
GROUPS = web.AppKey[GroupService]("GROUPS")
AUDIT = web.AppKey[AuditStore]("AUDIT")
ACCOUNTS_STORE = web.AppKey[AccountStore]("ACCOUNTS_STORE")
MESSAGES = web.AppKey[MessageStore]("MESSAGES")
ATTACHMENTS = web.AppKey[AttachmentStore]("ATTACHMENTS")
KEY_BACKUPS = web.AppKey[KeyBackupStore]("KEY_BACKUPS")
MAILER = web.AppKey[Mailer]("MAILER")
SMS = web.AppKey[SmsSender]("SMS")
REDIS = web.AppKey("REDIS", object)  # the shared redis.asyncio client, when configured
