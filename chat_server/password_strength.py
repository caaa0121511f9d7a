"""How easily a password would be guessed, estimated with zxcvbn before it is hashed.

A length rule alone accepted ``password12``. zxcvbn scores a password 0-4 from the
guesses its pattern matcher (dictionaries, keyboard walks, dates, repeats, l33t) needs;
we ask for 3 ("safely unguessable") and refuse with zxcvbn's own feedback as the
reason. The account's e-mail address and display name are passed as user inputs, so a
password built from them counts as guessable. The web page will use zxcvbn's npm twin
(``zxcvbn``) for live feedback; the server's verdict is the one that counts.
"""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

from chat_server.errors import WeakPassword

MIN_SCORE = 3
# zxcvbn's matching is super-linear in the length; a long password is strong enough
# on its first characters, so only those are scored.
SCORED_CHARACTERS = 64


def check_strength(
    password: str, *, user_inputs: Iterable[str] = (), field: str = "password"
) -> None:
    """Raises :class:`WeakPassword` (with a reason, on ``field``) if it is guessable."""
    inputs = [part for value in user_inputs for part in _parts(value)]
    result = zxcvbn(password[:SCORED_CHARACTERS], user_inputs=inputs)
    if result["score"] >= MIN_SCORE:
        return
    feedback = result["feedback"]
    reason = feedback["warning"] or "This password would be guessed too easily."
    suggestions = " ".join(feedback["suggestions"])
    detail = f"{reason} {suggestions}".strip()
    raise WeakPassword(detail, fields={field: [detail]})


def _parts(value: str) -> list[str]:
    """``ann.peeters@example.org`` also yields ``ann``, ``peeters`` and ``example``."""
    words = value.lower().replace("@", " ").replace(".", " ").replace("-", " ").split()
    return [value.lower(), *words]
