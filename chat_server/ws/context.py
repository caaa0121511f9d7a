"""What frame handlers and fan-out sinks may use, built once by the composition root.

Handlers are plain module-level functions (see ``chat_server/ws/frames.py``); instead
of capturing services in closures they take this context as their first argument, so
a reader (or mypy) sees exactly what a frame can reach.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from chat_server.handlers.access import ThreadGate
from chat_server.handlers.announcements import Announcements
from chat_server.handlers.intake import MessageIntake
from chat_server.handlers.panel_questions import PanelQuestions
from chat_server.handlers.panels import PanelService
from chat_server.handlers.receipts import Receipts
from chat_server.handlers.sync import ThreadSync
from chat_server.handlers.tickets import TicketService
from chat_server.ws.hub import Hub


@dataclass(frozen=True, slots=True)
class FrameContext:
    hub: Hub
    tickets: TicketService
    gate: ThreadGate  # the open-thread cache a ``thread`` event invalidates
    intake: MessageIntake
    sync: ThreadSync
    receipts: Receipts
    heartbeat: float  # seconds between server pings, told to the client in welcome
    panels: PanelService  # what a panel's GPs see live
    questions: PanelQuestions  # what a waiting patient sees live
    announcements: Announcements  # which mailings a patient was delivered
    # One serialisation per message and process, shared by every local socket:
    # (thread, seq) -> the msg frame's JSON text, oldest first. An OrderedDict: a
    # plain dict's first key is found by skipping every slot already popped.
    message_texts: OrderedDict[tuple[str, int], str] = field(default_factory=OrderedDict)
