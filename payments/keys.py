"""Deterministic idempotency keys for outbound Stripe calls.

A key names the action and the paid chat (and, for an action that may legitimately
happen again, which time): a retry after a timeout or a crash sends the same key, so
Stripe answers with the first result instead of acting twice. Stripe keeps keys for
at least 24 hours; every action here is retried well within that.
"""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    CHECKOUT = "checkout"
    EXPIRE = "expire"
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"


def idempotency_key(action: Action, thread_id: str, attempt: int = 0) -> str:
    """``carechat/<action>/<thread>[/<attempt>]``: no patient data, only ids."""
    base = f"carechat/{action}/{thread_id}"
    return base if attempt == 0 else f"{base}/{attempt}"
