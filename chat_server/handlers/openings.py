"""The patient's signed thread opening, checked before a thread is created with it.

A client that opens a care thread may send an *opening*
(``e2e_crypto.thread_opening_public``): the thread id it chose, itself as patient and
the provider it asked for, signed with its root key. The server cannot forge one, and
it does not need to trust one: it checks that the opening is well formed, names this
request's patient and provider, and verifies against the patient's published root key,
so nobody stores an opening that would fail every honest client later. Clients check
it again against the root key *they* pinned; that check is what keeps ghosts out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from chat_server.errors import InvalidThreadOpening, RootKeyRequired
from chat_server.principal import Principal
from chat_server.storage.accounts import AccountStore
from chat_server.storage.practices import ProviderKind
from e2e_crypto.errors import CryptoError
from e2e_crypto.public import PublicSigningKey
from e2e_crypto.thread_opening_public import MAX_OPENING_BYTES, parse_opening, verify_opening
from e2e_crypto.wire import from_base64url

__all__ = ["CheckedOpening", "check_opening"]

# The client picks the thread id; it must look like one the server would pick (128
# random bits), so ids stay unguessable and "that id is taken" tells nobody anything.
THREAD_ID: Final = re.compile(r"[A-Za-z0-9_-]{22}")


@dataclass(frozen=True, slots=True)
class CheckedOpening:
    thread_id: str
    raw: bytes


async def check_opening(
    accounts: AccountStore,
    who: Principal,
    kind: ProviderKind,
    provider_id: str,
    opening_b64: str,
) -> CheckedOpening:
    """The opening's thread id and bytes, or InvalidThreadOpening (RootKeyRequired if
    the patient has published no root key to check it against)."""
    patient = await accounts.get(who.account_id)
    if patient is None or patient.root_key is None:
        raise RootKeyRequired()
    try:
        raw = from_base64url(opening_b64, max_bytes=MAX_OPENING_BYTES)
        parsed = parse_opening(raw)
        verified = verify_opening(
            parsed,
            thread_id=parsed.thread_id,
            patient_root_key=PublicSigningKey(from_base64url(patient.root_key, max_bytes=32)),
        )
    except CryptoError as exc:
        raise InvalidThreadOpening(log_detail=str(exc)) from None
    if verified.parties != (who.account_id, str(kind), provider_id):
        raise InvalidThreadOpening(log_detail="the opening names other parties")
    if THREAD_ID.fullmatch(verified.thread_id) is None:
        raise InvalidThreadOpening(log_detail="a thread id is 22 base64url characters")
    return CheckedOpening(verified.thread_id, raw)
