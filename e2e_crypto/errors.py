"""The errors e2e_crypto raises, and nothing else.

Every failure inside the library surfaces as one of these classes, so callers (the
server's transport layer, the SDK) can translate them in exactly one place::

    CryptoError                      base; never raised directly
    +-- MalformedData (ValueError)   bytes or arguments that do not parse or break a
    |                                limit: wrong lengths, bad identifiers, unknown
    |                                versions, trailing bytes, too many recipients
    +-- VerificationFailed           well-formed, but a public check failed: a
    |                                signature, a device certificate, a group commit,
    |                                a franking report, a server stamp
    +-- DecryptionFailed             a private-key operation refused its input
                                     (envelope, broadcast, epoch key, attachment,
                                     backup). Deliberately ONE class with ONE message:
                                     telling a caller *which* check failed would give
                                     an attacker an oracle.

Messages never contain the offending value (it may be patient data or key material),
only the name of the field or check, and DecryptionFailed not even that.
"""

from __future__ import annotations

__all__ = ["CryptoError", "DecryptionFailed", "MalformedData", "VerificationFailed"]


class CryptoError(Exception):
    """Base class of every error raised by e2e_crypto."""


class MalformedData(CryptoError, ValueError):
    """Input does not parse, or breaks a documented limit.

    Also a ValueError because, for arguments, that is what a Python caller expects.
    """


class VerificationFailed(CryptoError):
    """A signature, certificate, group commit, franking report or stamp did not verify."""


class DecryptionFailed(CryptoError):
    """Opening failed. Always the same message, whatever the cause."""

    MESSAGE = "could not open the encrypted data"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)
