"""Thread openings, client side: the patient's client signs them (client-only).

See thread_opening_public for the format and why it exists.
"""

from __future__ import annotations

from e2e_crypto.keys import RootKey
from e2e_crypto.public import SIGNATURE_BYTES
from e2e_crypto.thread_opening_public import ProviderKind, ThreadOpening

__all__ = ["sign_opening"]


def sign_opening(
    patient: RootKey,
    *,
    thread_id: str,
    patient_account: str,
    provider_kind: ProviderKind,
    provider_id: str,
    opened_at: int,
) -> ThreadOpening:
    """The patient's client signs the thread it is about to open (client-only)."""
    unsigned = ThreadOpening(
        thread_id, patient_account, provider_kind, provider_id, opened_at, bytes(SIGNATURE_BYTES)
    )
    return ThreadOpening(
        thread_id,
        patient_account,
        provider_kind,
        provider_id,
        opened_at,
        patient._sign(unsigned.signed_message()),
    )
