"""Socket proofs: a device shows, once per WebSocket, that it holds its signing key
(structure and verification, server-importable; the signer is in socket_proof).

A session token alone lets its holder ask for a WebSocket ticket; the device key is
what the token's thief lacks. So a client may prove possession in ``hello`` by
signing the ticket it redeems there::

    proof := Ed25519(device signing key, SOCKET_PROOF_CONTEXT | ident account_id
                     | ident device_id | u8 len | ticket)

The ticket is the server's challenge: 256 random bits, fresh, valid 30 s, usable
once, bound to this account, session and device, so a proof never serves twice. A
socket whose ``hello`` carried a valid proof has its sends' envelope signatures left
to the recipients (who verify every one anyway); any other socket has each send's
signature verified by the server. docs/adr/0004-socket-proof-of-possession.md says
why.
"""

from __future__ import annotations

from typing import Final

from e2e_crypto.codec import Writer
from e2e_crypto.domains import SOCKET_PROOF_CONTEXT
from e2e_crypto.errors import MalformedData
from e2e_crypto.public import PublicSigningKey

__all__ = ["MAX_TICKET_CHARS", "signed_message", "verify_socket_proof"]

MAX_TICKET_CHARS: Final = 128


def signed_message(account_id: str, device_id: str, ticket: str) -> bytes:
    """What the device signs for ``ticket``."""
    if not 0 < len(ticket) <= MAX_TICKET_CHARS or not ticket.isascii():
        raise MalformedData("a ticket is 1..128 ASCII characters")
    raw = ticket.encode("ascii")
    return SOCKET_PROOF_CONTEXT + bytes(
        Writer().ident(account_id, "account id").ident(device_id, "device id").u8(len(raw)).raw(raw)
    )


def verify_socket_proof(
    key: PublicSigningKey, proof: bytes, *, account_id: str, device_id: str, ticket: str
) -> None:
    """Raise VerificationFailed (or MalformedData) unless ``proof`` is the device's."""
    key.verify(signed_message(account_id, device_id, ticket), proof)
