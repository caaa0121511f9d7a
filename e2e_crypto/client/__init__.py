"""CareChat's Python client SDK: how a practice's own software integrates.

::

    CareChatClient (client.py) ── the facade; docs/sdk.md is the guide
      │
      ├── api.py          HTTP: accounts, sessions, key directory, care links,
      │   endpoints.py    threads, history, key backup, attachments (paths in one place)
      ├── keystore.py     this device's private keys, pinned peer root keys, backup
      ├── directory.py    verified device lists: TOFU, RootKeyChanged, lying servers
      ├── envelopes.py    seal to a thread's devices / verify and open
      ├── participants.py who may be a recipient: practice membership lists verified
      ├── payloads.py     typed content inside the encryption (text, renewal, ...)
      ├── panel.py        the GP panel: ask (after triage.py's red-flag rules),
      │                   claim, answer, rate; epochs verified, group rules checked
      │   paid_chats.py   and paid chats' terms and printable receipts
      ├── messages.py     SealedMessage (server's view) → ReceivedMessage (app's view)
      ├── connection.py   WebSocket: hello, sync, send/ack, reconnect, resend
      │   cursors.py      per-thread contiguous seqs: no gap, no duplicate
      │   replays.py      an old envelope served again at a new seq is dropped
      │   events.py       receipts, typing, thread changes, trust alerts
      ├── attachments.py  streaming encrypt-upload / download-verify-decrypt
      ├── archive.py      a GDPR export archive, decrypted offline from the key backup
      └── errors.py       the exception hierarchy

Everything here runs on the client: it imports the decrypting half of e2e_crypto
and aiohttp's *client*. ``chat_server`` never imports this package
(tests/crypto/test_layering.py checks the server-importable modules in fresh
interpreters).
"""

from __future__ import annotations

from e2e_crypto.client.api import Api, Participant, Provider, SessionGrant, ThreadSummary
from e2e_crypto.client.archive import (
    ArchivedMailing,
    ArchivedThread,
    DecryptedArchive,
    ExportArchive,
)
from e2e_crypto.client.client import CareChatClient, IdentityExists
from e2e_crypto.client.connection import Backoff, Connection
from e2e_crypto.client.errors import (
    AttachmentCorrupted,
    AuthenticationError,
    BadRequestError,
    CareChatError,
    CareChatSdkError,
    ConflictError,
    ForbiddenError,
    GhostRecipient,
    NotConnected,
    NotFoundError,
    RateLimitedError,
    RecipientsChanged,
    RootKeyChanged,
    ServerError,
    SessionRevoked,
    TooLargeError,
    TrustError,
    UnreadableMessage,
    UntrustedDirectory,
    UntrustedMembership,
    UntrustedThread,
)
from e2e_crypto.client.events import (
    Event,
    Receipt,
    RecipientsNotice,
    ThreadChanged,
    TrustAlert,
    Typing,
)
from e2e_crypto.client.keystore import Keystore
from e2e_crypto.client.messages import ReceivedMessage, Unreadable
from e2e_crypto.client.payloads import (
    Attachment,
    BookingInvitation,
    ClosingSummary,
    Payload,
    RenewalRequest,
    ReportToGp,
    Text,
    Unsupported,
    decode_payload,
    encode_payload,
)

__all__ = [
    "Api",
    "ArchivedMailing",
    "ArchivedThread",
    "Attachment",
    "AttachmentCorrupted",
    "AuthenticationError",
    "Backoff",
    "BadRequestError",
    "BookingInvitation",
    "CareChatClient",
    "CareChatError",
    "CareChatSdkError",
    "ClosingSummary",
    "ConflictError",
    "Connection",
    "DecryptedArchive",
    "Event",
    "ExportArchive",
    "ForbiddenError",
    "GhostRecipient",
    "IdentityExists",
    "Keystore",
    "NotConnected",
    "NotFoundError",
    "Participant",
    "Payload",
    "Provider",
    "RateLimitedError",
    "Receipt",
    "ReceivedMessage",
    "RecipientsChanged",
    "RecipientsNotice",
    "RenewalRequest",
    "ReportToGp",
    "RootKeyChanged",
    "ServerError",
    "SessionGrant",
    "SessionRevoked",
    "Text",
    "ThreadChanged",
    "ThreadSummary",
    "TooLargeError",
    "TrustAlert",
    "TrustError",
    "Typing",
    "Unreadable",
    "UnreadableMessage",
    "Unsupported",
    "UntrustedDirectory",
    "UntrustedMembership",
    "UntrustedThread",
    "decode_payload",
    "encode_payload",
]
