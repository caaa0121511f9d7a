"""Every piece of shared application state, typed, in one place.

Anything a handler needs is reached through one of these keys; ``create_app`` is the
only code that assigns them (cleanup contexts fill in the resources they own).

Each key is typed by its annotation and the types are imported for the type checker
only: at run time this module depends on nothing of ours, so both transports can share
it without importing each other (``HUB`` and ``ROUTER`` name ws types), and the layer
contracts in setup.cfg see no upward import through it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    import aiojobs
    import redis.asyncio as aioredis
    from pymongo.asynchronous.database import AsyncDatabase

    from chat_server.clock import Clock
    from chat_server.fanout import Broker
    from chat_server.handlers.access import ThreadGate
    from chat_server.handlers.account_lookup import AccountLookup
    from chat_server.handlers.accounts import AccountService
    from chat_server.handlers.announcements import Announcements
    from chat_server.handlers.audit_search import AuditSearch
    from chat_server.handlers.availability import Availability
    from chat_server.handlers.blocks import Blocks
    from chat_server.handlers.care import CareService
    from chat_server.handlers.care_threads import CareThreads
    from chat_server.handlers.consents import Consents
    from chat_server.handlers.devices import DeviceService
    from chat_server.handlers.failed_jobs import FailedJobs
    from chat_server.handlers.groups import GroupService
    from chat_server.handlers.intake import MessageIntake
    from chat_server.handlers.invitations import InvitationService
    from chat_server.handlers.key_backup import KeyBackups
    from chat_server.handlers.mailings import MailingService
    from chat_server.handlers.notification_preferences import NotificationPreferences
    from chat_server.handlers.paid_chats import PaidChats
    from chat_server.handlers.panel_claims import PanelClaims
    from chat_server.handlers.panel_members import PanelMembers
    from chat_server.handlers.panel_questions import PanelQuestions
    from chat_server.handlers.panels import PanelService
    from chat_server.handlers.passwords import PasswordService
    from chat_server.handlers.personal_data import PersonalData
    from chat_server.handlers.practices import PracticeService
    from chat_server.handlers.receipts import Receipts
    from chat_server.handlers.reconciliation import Reconciliation
    from chat_server.handlers.registration import RegistrationService
    from chat_server.handlers.reports import AbuseReports
    from chat_server.handlers.roster import RosterService
    from chat_server.handlers.sanctions import Sanctions
    from chat_server.handlers.sessions import SessionService
    from chat_server.handlers.sync import ThreadSync
    from chat_server.handlers.tickets import TicketService
    from chat_server.handlers.totp import TotpService
    from chat_server.handlers.uploads import UploadService
    from chat_server.mail import Mailer, SmsSender
    from chat_server.metrics import Metrics
    from chat_server.rest.pages import Pages
    from chat_server.secret import Secret
    from chat_server.settings import Settings
    from chat_server.ws.admission import PendingSockets
    from chat_server.ws.context import FrameContext
    from chat_server.ws.hub import Hub
    from chat_server.ws.router import FrameRouter

SETTINGS: web.AppKey[Settings] = web.AppKey("SETTINGS")
CLOCK: web.AppKey[Clock] = web.AppKey("CLOCK")
# The web client's pages and their build manifest (rest/pages.py).
PAGES: web.AppKey[Pages] = web.AppKey("PAGES")
METRICS: web.AppKey[Metrics] = web.AppKey("METRICS")
# The bearer token a scrape of the metrics listener must send (rest/health.py), if any.
METRICS_TOKEN: web.AppKey[Secret] = web.AppKey("METRICS_TOKEN")
DB: web.AppKey[AsyncDatabase[dict[str, Any]]] = web.AppKey("DB")
# The same database through the group-committed writers' own small pool (resources).
WRITE_DB: web.AppKey[AsyncDatabase[dict[str, Any]]] = web.AppKey("WRITE_DB")
BROKER: web.AppKey[Broker] = web.AppKey("BROKER")
HUB: web.AppKey[Hub] = web.AppKey("HUB")
# Sockets not authenticated yet, per client address (ws/admission.py).
PENDING_SOCKETS: web.AppKey[PendingSockets] = web.AppKey("PENDING_SOCKETS")
ROUTER: web.AppKey[FrameRouter] = web.AppKey("ROUTER")
# What frame handlers and sinks use (ws/context.py), built with the domain services.
FRAME_CONTEXT: web.AppKey[FrameContext] = web.AppKey("FRAME_CONTEXT")
SCHEDULER: web.AppKey[aiojobs.Scheduler] = web.AppKey("SCHEDULER")
# The shared Redis client, when one is configured (absent: everything in-process).
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("REDIS")
# Built once, on start-up, from the routes (rest/openapi.py).
OPENAPI_DOCUMENT: web.AppKey[dict[str, Any]] = web.AppKey("OPENAPI_DOCUMENT")

# Domain services, built by ``app.domain_ctx`` once MongoDB and the broker are up.
ACCOUNTS: web.AppKey[AccountService] = web.AppKey("ACCOUNTS")
REGISTRATION: web.AppKey[RegistrationService] = web.AppKey("REGISTRATION")
SESSIONS: web.AppKey[SessionService] = web.AppKey("SESSIONS")
PASSWORDS: web.AppKey[PasswordService] = web.AppKey("PASSWORDS")
TOTP: web.AppKey[TotpService] = web.AppKey("TOTP")
TICKETS: web.AppKey[TicketService] = web.AppKey("TICKETS")
DEVICES: web.AppKey[DeviceService] = web.AppKey("DEVICES")
PRACTICES: web.AppKey[PracticeService] = web.AppKey("PRACTICES")
INVITATIONS: web.AppKey[InvitationService] = web.AppKey("INVITATIONS")
CARE: web.AppKey[CareService] = web.AppKey("CARE")
# Threads, one key per part: the gate, the care lifecycle, message intake (send),
# reading (list, summaries, history, sync), and receipts (delivered, read, typing).
THREAD_GATE: web.AppKey[ThreadGate] = web.AppKey("THREAD_GATE")
CARE_THREADS: web.AppKey[CareThreads] = web.AppKey("CARE_THREADS")
INTAKE: web.AppKey[MessageIntake] = web.AppKey("INTAKE")
THREAD_SYNC: web.AppKey[ThreadSync] = web.AppKey("THREAD_SYNC")
RECEIPTS: web.AppKey[Receipts] = web.AppKey("RECEIPTS")
GROUPS: web.AppKey[GroupService] = web.AppKey("GROUPS")
PANELS: web.AppKey[PanelService] = web.AppKey("PANELS")
PANEL_CLAIMS: web.AppKey[PanelClaims] = web.AppKey("PANEL_CLAIMS")
PANEL_MEMBERS: web.AppKey[PanelMembers] = web.AppKey("PANEL_MEMBERS")
PANEL_QUESTIONS: web.AppKey[PanelQuestions] = web.AppKey("PANEL_QUESTIONS")
PAID_CHATS: web.AppKey[PaidChats] = web.AppKey("PAID_CHATS")
RECONCILIATION: web.AppKey[Reconciliation] = web.AppKey("RECONCILIATION")
AVAILABILITY: web.AppKey[Availability] = web.AppKey("AVAILABILITY")
NOTIFICATION_PREFERENCES: web.AppKey[NotificationPreferences] = web.AppKey(
    "NOTIFICATION_PREFERENCES"
)
UPLOADS: web.AppKey[UploadService] = web.AppKey("UPLOADS")
KEY_BACKUPS: web.AppKey[KeyBackups] = web.AppKey("KEY_BACKUPS")
PERSONAL_DATA: web.AppKey[PersonalData] = web.AppKey("PERSONAL_DATA")
# Moderation (issue 18): moderators' actions on accounts.
SANCTIONS: web.AppKey[Sanctions] = web.AppKey("SANCTIONS")
REPORTS: web.AppKey[AbuseReports] = web.AppKey("REPORTS")
# The moderator console (issue 18 item 9): account look-up, audit log, failed jobs.
ACCOUNT_LOOKUP: web.AppKey[AccountLookup] = web.AppKey("ACCOUNT_LOOKUP")
AUDIT_SEARCH: web.AppKey[AuditSearch] = web.AppKey("AUDIT_SEARCH")
FAILED_JOBS: web.AppKey[FailedJobs] = web.AppKey("FAILED_JOBS")
BLOCKS: web.AppKey[Blocks] = web.AppKey("BLOCKS")
CONSENTS: web.AppKey[Consents] = web.AppKey("CONSENTS")
MAILER: web.AppKey[Mailer] = web.AppKey("MAILER")
SMS: web.AppKey[SmsSender] = web.AppKey("SMS")
# Prevention mailings: the practice's campaigns, its roster, the patient's side.
MAILINGS: web.AppKey[MailingService] = web.AppKey("MAILINGS")
ROSTER: web.AppKey[RosterService] = web.AppKey("ROSTER")
ANNOUNCEMENTS: web.AppKey[Announcements] = web.AppKey("ANNOUNCEMENTS")
