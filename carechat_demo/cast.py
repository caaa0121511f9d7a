"""Who the demo holds and what they said: data only.

Passwords and passphrases here are public on purpose (they are printed and in the
README): a demo database must never hold anything real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from e2e_crypto.client import ClosingSummary, Payload, RenewalRequest, Text

# One password for every demo login, strong enough for the server's zxcvbn check.
PASSWORD: Final = "Flagey demo tulips 2026"  # noqa: S105 — public demo login
OPERATOR_EMAIL: Final = "operator@carechat.example.org"
# A second platform admin, for the moderator console (/moderation): the operator's
# account stays the one that verifies registrations.
MODERATOR_EMAIL: Final = "moderator@carechat.example.org"
PRACTICE_NAME: Final = "Huisartsenpraktijk Flagey"

Role = Literal["patient", "practitioner", "practice_admin"]
Side = Literal["patient", "practitioner"]


@dataclass(frozen=True, slots=True)
class Person:
    key: str  # the cast's own name for them (state file, threads below)
    email: str
    display_name: str
    role: Role
    passphrase: str  # recovery passphrase of the key backup
    totp: bool = False


@dataclass(frozen=True, slots=True)
class Line:
    side: Side
    payload: Payload


@dataclass(frozen=True, slots=True)
class Conversation:
    patient: str
    accepted_by: str | None  # the practitioner who accepts; None leaves it requested
    lines: tuple[Line, ...]


ADMIN: Final = Person(
    "admin", "admin@flagey.example.org", "Praktijk Flagey (beheer)", "practice_admin",
    "admin keys of the Flagey practice",
)  # fmt: skip
PRACTITIONERS: Final = (
    Person("sofie", "sofie.peeters@flagey.example.org", "Dr. Sofie Peeters", "practitioner",
           "quiet harbour lantern morning", totp=True),
    Person("marc", "marc.dubois@flagey.example.org", "Dr. Marc Dubois", "practitioner",
           "velvet pine river compass"),
)  # fmt: skip
PATIENTS: Final = (
    Person("anne", "anne.janssens@example.org", "Anne Janssens", "patient",
           "amber otter violin meadow"),
    Person("bram", "bram.desmet@example.org", "Bram De Smet", "patient",
           "copper kite autumn bridge"),
    Person("claire", "claire.lambert@example.org", "Claire Lambert", "patient",
           "silver fox garden lighthouse"),
)  # fmt: skip
PEOPLE: Final = (ADMIN, *PRACTITIONERS, *PATIENTS)

CONVERSATIONS: Final = (
    Conversation(
        "anne",
        "sofie",
        (
            Line("patient", Text("Good morning, my blood pressure was 150/95 this morning.")),
            Line("practitioner", Text("Thank you, Anne. Please measure it again tonight and "
                                      "tomorrow morning, sitting, after five minutes of rest.")),
            Line("patient", Text("Tonight it was 138/88. I am almost out of my tablets.")),
            Line("patient", RenewalRequest("Amlodipine", "5 mg, once a day", "Pharmacie Flagey")),
        ),
    ),
    Conversation(
        "bram",
        "marc",
        (
            Line("patient", Text("Hallo dokter, de hoest is bijna weg. Moet ik nog langskomen?")),
            Line("practitioner", Text("Goed nieuws, Bram. Nee, dat hoeft niet meer.")),
            Line("practitioner", ClosingSummary("Cough resolved without treatment.",
                                                "Come back if it returns with fever.")),
        ),
    ),
    Conversation(
        "claire",
        None,
        (
            Line("patient", Text("Bonjour, j'aurais besoin d'un certificat pour mon "
                                 "employeur (grippe, trois jours).")),
        ),
    ),
)  # fmt: skip


def person(key: str) -> Person:
    return next(p for p in PEOPLE if p.key == key)
