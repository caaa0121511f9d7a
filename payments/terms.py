"""The terms of a paid chat: what it costs and how long each phase may last.

A pass copies the price and currency when it is created (``chat_server`` stores
them on the pass), so a later change of these terms never alters an existing pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

# Stripe keeps a card authorisation this long; past it the PaymentIntent is cancelled
# and there is nothing left to capture, so the SLA must end well before.
CARD_HOLD: Final = timedelta(days=7)
# Stripe refuses a Checkout Session expiring sooner than 30 minutes or later than 24 h.
CHECKOUT_EXPIRY_MIN: Final = timedelta(minutes=30)
CHECKOUT_EXPIRY_MAX: Final = timedelta(hours=24)
CURRENCY: Final = re.compile(r"[a-z]{3}")


class InvalidTerms(ValueError):
    """Terms that cannot work; the message names the setting."""


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    price_cents: int = 600
    currency: str = "eur"
    sla: timedelta = timedelta(hours=4)
    checkout_expiry: timedelta = timedelta(minutes=30)
    window: timedelta = timedelta(hours=24)

    def __post_init__(self) -> None:
        # bool is an int: refuse it as well as floats and strings.
        if type(self.price_cents) is not int or self.price_cents <= 0:
            raise InvalidTerms("payments_price_cents must be a positive integer of cents")
        if CURRENCY.fullmatch(self.currency) is None:
            raise InvalidTerms("payments_currency must be a lower-case ISO 4217 code")
        if not timedelta(0) < self.sla < CARD_HOLD:
            raise InvalidTerms("payments_sla must be positive and shorter than a 7-day hold")
        if not CHECKOUT_EXPIRY_MIN <= self.checkout_expiry <= CHECKOUT_EXPIRY_MAX:
            raise InvalidTerms("payments_checkout_expiry must be from 30 minutes to 24 hours")
        if self.window <= timedelta(0):
            raise InvalidTerms("payments_window must be positive")
