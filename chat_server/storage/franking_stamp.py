"""The server's franking stamp: its receipt over a stored message's franking
commitment, which makes an abuse report verifiable (``e2e_crypto/franking.py``).

The message store stamps each message as it is stored (``MessageStore``'s
``stamper``), and the mailing service each campaign body as it is created
(:class:`BroadcastStamper`, in the broadcast domain: a chat message's stamp never
verifies as a mailing's, nor the reverse). The key is derived from the server secret,
so every process stamps alike and a stamp made by one verifies on another.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from chat_server.storage.messages import StoredMessage
from e2e_crypto import franking
from e2e_crypto.broadcast_public import BroadcastHeader

# A mailing is one body per campaign: its "position" in the stamp is always 0.
BROADCAST_SEQ = 0


def stamp_key(server_secret: bytes) -> bytes:
    """The stamp's own key: a MAC key used for nothing else."""
    return hashlib.blake2b(server_secret, digest_size=32, person=b"franking-stamp").digest()


class FrankingStamper:
    def __init__(self, server_secret: bytes) -> None:
        # Derives the stamp's subkey once, not once per message.
        self._stamp = franking.Stamper(stamp_key(server_secret))

    def __call__(self, message: StoredMessage) -> bytes:
        return self._stamp(
            kind=franking.FrankingKind.MESSAGE,
            franking_commitment=message.franking_commitment,
            sender_account=message.sender_account,
            sender_device=message.sender_device,
            thread_id=message.thread_id,
            seq=message.seq,
            received_at=message.at,
        )

    def __repr__(self) -> str:
        return "FrankingStamper('**********')"


class BroadcastStamper:
    """Stamps a campaign's body when the campaign is created."""

    def __init__(self, server_secret: bytes) -> None:
        self._stamp = franking.Stamper(stamp_key(server_secret))

    def __call__(self, campaign_id: str, header: BroadcastHeader, created_at: datetime) -> bytes:
        return self._stamp(
            kind=franking.FrankingKind.BROADCAST,
            franking_commitment=header.franking_commitment,
            sender_account=header.sender_account,
            sender_device=header.sender_device,
            thread_id=campaign_id,
            seq=BROADCAST_SEQ,
            received_at=created_at,
        )

    def __repr__(self) -> str:
        return "BroadcastStamper('**********')"
