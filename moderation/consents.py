"""Consents per purpose: versioned, revocable, recorded with their time and text version.

A consent is a patient's yes to one :class:`Purpose`, given to one version of the text
that explains it (:data:`TEXT_VERSIONS`: the versions the service shows now). When a
text changes, its version changes and consents to an older text no longer count:
the patient is asked again. Revoking is always possible and counts from then on.
Prevention mailings are consented per practice (the *scope* is the practice id); the
other purposes have no scope.

What the server enforces without reading content (``chat_server/handlers/consents.py``):

- ``report_to_gp``: a message whose public kind (in the signed envelope header) is
  ``report_to_gp`` is refused unless the thread's patient consents. Honest clients
  mark every report to the GP so, and refuse to show a report that arrives unmarked,
  so a mislabelled report is unreadable rather than delivered without consent.
- ``prevention_mailings``: a practice's mailing reaches only the patients who consent
  for that practice (the mailing fan-out asks ``Consents.mailing_recipients`` for every
  batch). Opt-in: without a record there is no consent (docs/mailings.md says why);
  the e-mail's one-click unsubscribe records a revocation.
- ``paid_chat_terms``: a paid chat starts only after the current terms were accepted.
- ``care_messaging``: recorded for the patient's record; care messaging itself rests
  on the care relationship (the patient asked for it), not on this consent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class Purpose(StrEnum):
    CARE_MESSAGING = "care_messaging"
    PREVENTION_MAILINGS = "prevention_mailings"
    REPORT_TO_GP = "report_to_gp"
    PAID_CHAT_TERMS = "paid_chat_terms"


# Purposes consented per practice: the consent names the practice (its scope).
SCOPED_BY_PRACTICE: Final = frozenset({Purpose.PREVENTION_MAILINGS})

# The version of each purpose's text the service shows now. Changing a text means a
# new version here; consents to older versions stop counting.
TEXT_VERSIONS: Final[Mapping[Purpose, str]] = MappingProxyType(
    {
        Purpose.CARE_MESSAGING: "2026-11-1",
        Purpose.PREVENTION_MAILINGS: "2026-11-1",
        Purpose.REPORT_TO_GP: "2026-11-1",
        Purpose.PAID_CHAT_TERMS: "2026-11-1",
    }
)


class ConsentAction(StrEnum):
    GRANT = "grant"
    REVOKE = "revoke"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One entry of a patient's consent history (kept, never changed)."""

    account: str
    purpose: Purpose
    scope: str  # the practice id for SCOPED_BY_PRACTICE purposes, else ""
    action: ConsentAction
    version: str  # the text version consented to (a revocation repeats the last one)
    at: datetime

    def counts(self, current_version: str) -> bool:
        """Whether this latest record means "yes" now."""
        return self.action is ConsentAction.GRANT and self.version == current_version
