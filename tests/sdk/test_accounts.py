"""Accounts and sessions through the SDK, and the typed errors it raises."""

from __future__ import annotations

import pytest

from chat_server.mail import MemoryOutbox
from e2e_crypto.client import (
    AuthenticationError,
    BadRequestError,
    CareChatError,
    ConflictError,
    NotFoundError,
)
from tests.sdk.people import PASSWORD, People, verification_token


async def test_register_verify_login_me_logout(people: People, outbox: MemoryOutbox) -> None:
    sdk = people.client()
    await sdk.register("ann@example.org", PASSWORD, "patient", "Ann")
    account_id = await sdk.verify_email(verification_token(outbox, "ann@example.org"))
    grant = await sdk.login("ann@example.org", PASSWORD)
    assert grant.account_id == account_id == sdk.account_id
    assert grant.role == "patient"
    assert grant.token not in repr(grant)  # a token never reaches a log line
    me = await sdk.api.me()
    assert (me["account_id"], me["email"], me["root_key"]) == (account_id, "ann@example.org", None)
    await sdk.logout()
    with pytest.raises(AuthenticationError) as caught:
        await sdk.api.me()
    assert caught.value.status == 401


async def test_server_refusals_become_typed_errors(people: People) -> None:
    sdk = people.client()
    with pytest.raises(BadRequestError) as bad:
        await sdk.register("not-an-address", "short", "patient", "X")
    assert bad.value.code == "validation_failed"
    assert bad.value.fields is not None
    assert set(bad.value.fields) == {"email", "password"}

    await people.register("ann@example.org")
    with pytest.raises(AuthenticationError) as wrong:
        await people.client().login("ann@example.org", "not the password")
    assert wrong.value.code == "invalid_credentials"

    ann = await people.join("bob@example.org")
    with pytest.raises(NotFoundError):
        await ann.api.account_devices("AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(ConflictError):
        await ann.api.add_device(ann.keystore.certificate().encode())  # already registered
    assert all(
        issubclass(c, CareChatError) for c in (BadRequestError, NotFoundError, ConflictError)
    )
