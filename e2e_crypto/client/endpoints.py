"""Every HTTP path the SDK calls, in one place, so a server change is one edit here.

Paths are functions of the ids they contain; ids are checked against the protocol's
id alphabet before they are put into a URL, so a hostile id from a frame or a
listing cannot turn into another path (``../``) or a query string.
"""

from __future__ import annotations

from typing import Final

from e2e_crypto.codec import check_id

__all__ = [
    "ACCOUNTS",
    "CARE_LINKS",
    "CONSENTS",
    "CONSENTS_REVOKE",
    "DEVICES",
    "ERASURE",
    "EXPORT",
    "INVITATIONS",
    "INVITATIONS_ACCEPT",
    "INVITATIONS_PHONE_CODE",
    "KEY_BACKUP",
    "ME",
    "PAID_CHATS",
    "PAID_CHAT_TERMS",
    "PANELS",
    "PANEL_QUESTIONS",
    "PASSWORD",
    "PASSWORD_RESET",
    "PASSWORD_RESET_CONFIRM",
    "PAYMENTS",
    "PRACTICES",
    "PRACTICE_INVITATIONS",
    "REPORTS",
    "ROOT_KEY",
    "SESSIONS",
    "SESSION_CURRENT",
    "THREADS",
    "VERIFY_EMAIL",
    "WEBSOCKET",
    "WS_TICKETS",
    "account_devices",
    "account_key_log",
    "attachment",
    "cancel_paid_chat",
    "care_link_answer",
    "device",
    "paid_chat",
    "panel",
    "panel_epoch",
    "panel_part",
    "panel_question",
    "panel_question_part",
    "panel_questions",
    "payment_receipt",
    "practice",
    "practice_members",
    "practice_membership",
    "practice_membership_accept",
    "practice_membership_consent",
    "practice_people",
    "thread",
    "thread_action",
    "thread_attachments",
    "thread_messages",
]

API: Final = "/api/v1"
ACCOUNTS: Final = f"{API}/accounts"
VERIFY_EMAIL: Final = f"{API}/accounts/verify"
PASSWORD_RESET: Final = f"{API}/accounts/password-reset"
PASSWORD_RESET_CONFIRM: Final = f"{API}/accounts/password-reset/confirm"
ME: Final = f"{API}/accounts/me"
CONSENTS: Final = f"{API}/consents"
CONSENTS_REVOKE: Final = f"{API}/consents/revoke"
PASSWORD: Final = f"{API}/accounts/me/password"
ROOT_KEY: Final = f"{API}/accounts/me/root-key"
KEY_BACKUP: Final = f"{API}/accounts/me/key-backup"
EXPORT: Final = f"{API}/accounts/me/export"
ERASURE: Final = f"{API}/accounts/me/erasure"
SESSIONS: Final = f"{API}/sessions"
SESSION_CURRENT: Final = f"{API}/sessions/current"
WS_TICKETS: Final = f"{API}/ws-tickets"
DEVICES: Final = f"{API}/devices"
CARE_LINKS: Final = f"{API}/care-links"
INVITATIONS: Final = f"{API}/invitations"
INVITATIONS_ACCEPT: Final = f"{API}/invitations/accept"
INVITATIONS_PHONE_CODE: Final = f"{API}/invitations/phone-code"
THREADS: Final = f"{API}/threads"
REPORTS: Final = "/api/v1/reports"
PRACTICES: Final = f"{API}/practices"
PRACTICE_INVITATIONS: Final = f"{API}/practice-invitations"
WEBSOCKET: Final = "/ws"

THREAD_ACTIONS: Final = frozenset({"accept", "decline", "block", "close"})


def _id(value: str, what: str) -> str:
    return check_id(value, what)


def account_devices(account_id: str) -> str:
    return f"{API}/accounts/{_id(account_id, 'account id')}/devices"


def account_key_log(account_id: str) -> str:
    return f"{API}/accounts/{_id(account_id, 'account id')}/key-log"


def device(device_id: str) -> str:
    return f"{DEVICES}/{_id(device_id, 'device id')}"


def practice(practice_id: str) -> str:
    return f"{PRACTICES}/{_id(practice_id, 'practice id')}"


def practice_members(practice_id: str) -> str:
    return f"{practice(practice_id)}/members"


def practice_people(practice_id: str) -> str:
    return f"{practice(practice_id)}/people"


def practice_membership(practice_id: str) -> str:
    return f"{practice(practice_id)}/membership"


def practice_membership_accept(practice_id: str) -> str:
    return f"{practice_membership(practice_id)}/accept"


def practice_membership_consent(practice_id: str) -> str:
    return f"{practice_membership(practice_id)}/consent"


def care_link_answer(link_id: str) -> str:
    return f"{CARE_LINKS}/{_id(link_id, 'care link id')}/answer"


def thread(thread_id: str) -> str:
    return f"{THREADS}/{_id(thread_id, 'thread id')}"


def thread_action(thread_id: str, action: str) -> str:
    if action not in THREAD_ACTIONS:
        raise ValueError(f"unknown thread action {action!r}")
    return f"{thread(thread_id)}/{action}"


def thread_messages(thread_id: str) -> str:
    return f"{thread(thread_id)}/messages"


def thread_attachments(thread_id: str) -> str:
    return f"{thread(thread_id)}/attachments"


def attachment(attachment_id: str) -> str:
    return f"{API}/attachments/{_id(attachment_id, 'attachment id')}"


# -- the GP panel -------------------------------------------------------------------------

PANELS: Final = f"{API}/panels"
PANEL_QUESTIONS: Final = f"{API}/panel-questions"


def panel(panel_id: str) -> str:
    return f"{PANELS}/{_id(panel_id, 'panel id')}"


def panel_part(panel_id: str, part: str) -> str:
    """``presence``, ``queue``, ``stats``, ``claims``, ``epochs``, ``settings``."""
    return f"{panel(panel_id)}/{part}"


def panel_epoch(panel_id: str, epoch: int | None) -> str:
    return f"{panel(panel_id)}/epochs/{'latest' if epoch is None else int(epoch)}"


def panel_questions(panel_id: str) -> str:
    return f"{panel(panel_id)}/questions"


def panel_question(question_id: str) -> str:
    return f"{PANEL_QUESTIONS}/{_id(question_id, 'question id')}"


def panel_question_part(question_id: str, part: str) -> str:
    """``messages``, ``lease``, ``release``, ``park``, ``resume``, ``handover``,
    ``convert``, ``withdraw``, ``keep-waiting``, ``rating``."""
    return f"{panel_question(question_id)}/{part}"


# -- paid chats ---------------------------------------------------------------------------

PAID_CHATS: Final = f"{API}/paid-chats"
PAID_CHAT_TERMS: Final = f"{PAID_CHATS}/terms"
PAYMENTS: Final = f"{API}/payments"


def paid_chat(thread_id: str) -> str:
    return f"{PAID_CHATS}/{_id(thread_id, 'thread id')}"


def cancel_paid_chat(thread_id: str) -> str:
    return f"{paid_chat(thread_id)}/cancel"


def payment_receipt(thread_id: str) -> str:
    return f"{PAYMENTS}/{_id(thread_id, 'thread id')}/receipt"
