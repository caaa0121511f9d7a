"""CareChat end-to-end encryption (v1), on PyNaCl. docs/protocol.md specifies every byte.

How the parts fit::

                     +------------------- SERVER_IMPORTABLE -------------------+
                     | errors    codec     domains   (errors, encoding, labels) |
                     | public    device certificates, Ed25519 verification      |
    chat_server ---> | wire      envelope header/layout/limits, base64url       |
    (structural      | franking  abuse-report check, server receipt stamp       |
     checks only)    | groups_public     epoch commit verification              |
                     | broadcast_public  mailing body/slip verification         |
                     | thread_opening_public  who a thread is between (verify)  |
                     | socket_proof_public    a socket holds its device key     |
                     | safety    safety numbers from root keys                  |
                     | frames    WebSocket frame types (TypedDicts), no crypto  |
                     +------------------------------^---------------------------+
                                                    | imports
                     +--------------------- CLIENT_ONLY ------------------------+
    SDK / tests ---> | keys       private keys (root, device, account)          |
                     | envelope   seal_message / open_message                   |
                     | groups     create_epoch_commit / open_epoch_key          |
                     | membership sign_membership (practice admin's root key)   |
                     | thread_opening sign_opening (the patient's root key)     |
                     | socket_proof  sign_socket_proof (the device's key)       |
                     | broadcast  seal_broadcast / open_broadcast               |
                     | attachments  secretstream files                          |
                     | backup     argon2id-sealed key backup                    |
                     | vectors    regenerates tests/data (python -m ...)        |
                     | refusal_vectors  the negative vectors (refusals.json)    |
                     | _randomness  the one source of keys and nonces           |
                     +----------------------------------------------------------+

The dependency arrow only points up: nothing SERVER_IMPORTABLE imports a CLIENT_ONLY
module (tests/crypto/test_layering.py proves it in fresh interpreters), so a server
that imports only the upper box cannot decrypt even by mistake. ``js/carechat-e2e.mjs``
is the JavaScript twin for the web widget (libsodium-wrappers-sumo), tested against
this package in both directions.

This module deliberately imports nothing: importing ``e2e_crypto.wire`` must not
drag the decrypting half in through the package.
"""

from __future__ import annotations

SERVER_IMPORTABLE: tuple[str, ...] = (
    "e2e_crypto.errors",
    "e2e_crypto.codec",
    "e2e_crypto.domains",
    "e2e_crypto.public",
    "e2e_crypto.wire",
    "e2e_crypto.franking",
    "e2e_crypto.groups_public",
    "e2e_crypto.membership_public",
    "e2e_crypto.thread_opening_public",
    "e2e_crypto.socket_proof_public",
    "e2e_crypto.broadcast_public",
    "e2e_crypto.safety",
    "e2e_crypto.frames",
)

CLIENT_ONLY: tuple[str, ...] = (
    "e2e_crypto._randomness",
    "e2e_crypto.keys",
    "e2e_crypto.envelope",
    "e2e_crypto.groups",
    "e2e_crypto.membership",
    "e2e_crypto.thread_opening",
    "e2e_crypto.socket_proof",
    "e2e_crypto.broadcast",
    "e2e_crypto.attachments",
    "e2e_crypto.backup",
    "e2e_crypto.vectors",
    "e2e_crypto.refusal_vectors",
)

__all__ = ["CLIENT_ONLY", "SERVER_IMPORTABLE"]
