"""What the paid-chat calls of ``PanelClient`` return, where a caller relies on a field.

``PaidChatTerms`` is shown before a patient writes (``PanelClient.terms``);
``PaymentReceipt`` is the printable page of a charged chat (``PanelClient.receipt``).
The chat itself stays the server's JSON (``paid_chat``), as docs/payments.md has it.
Amounts are integer cents throughout: never a float.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

__all__ = ["PaidChatTerms", "PaymentReceipt"]


@dataclass(frozen=True, slots=True)
class PaidChatTerms:
    """What a paid chat started now costs and how long it lasts: a GP answers within
    ``sla_seconds`` of the payment (else it costs nothing: a card hold is released,
    Bancontact refunded), and the chat stays open ``window_seconds`` from the first
    reply. A started chat keeps the price and currency it started with."""

    price_cents: int
    currency: str  # lower-case ISO 4217, as Stripe has it ("eur")
    window_seconds: int
    sla_seconds: int

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> PaidChatTerms:
        return cls(
            price_cents=int(doc["price_cents"]),
            currency=str(doc["currency"]),
            window_seconds=int(doc["window_seconds"]),
            sla_seconds=int(doc["sla_seconds"]),
        )

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.window_seconds)

    @property
    def sla(self) -> timedelta:
        return timedelta(seconds=self.sla_seconds)


@dataclass(frozen=True, slots=True)
class PaymentReceipt:
    """A charged chat's receipt: a standalone HTML page (no script, style or image;
    nothing of the conversation) with the seller, the receipt number (the thread id),
    the date of supply, the amount and the VAT treatment. Save ``encode()`` as an
    ``.html`` file or print it to PDF; it declares UTF-8 itself."""

    thread_id: str
    content_type: str  # "text/html"
    html: str = field(repr=False)

    def encode(self) -> bytes:
        return self.html.encode("utf-8")
