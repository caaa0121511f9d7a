"""The signer of socket proofs (needs the device's private keys; the structure and
verification are in socket_proof_public, which the server imports)."""

from __future__ import annotations

from e2e_crypto.keys import DeviceKeys
from e2e_crypto.socket_proof_public import signed_message

__all__ = ["sign_socket_proof"]


def sign_socket_proof(device: DeviceKeys, ticket: str) -> bytes:
    """The 64-byte proof for ``hello`` with ``ticket``."""
    return device._sign(signed_message(device.account_id, device.device_id, ticket))
