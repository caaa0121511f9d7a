"""Accounts and sessions through the SDK, and the typed errors it raises."""

from __future__ import annotations

import re

import pytest

from chat_server.mail import MemoryOutbox
from e2e_crypto.client import (
    AuthenticationError,
    BadRequestError,
    CareChatError,
    ConflictError,
    NotFoundError,
    Provider,
)
from tests.sdk.people import PASSWORD, People, verification_token


async def test_register_verify_login_me_logout(people: People, outbox: MemoryOutbox) -> None:
    sdk = people.client()
    await sdk.register("ann@example.org", PASSWORD, "patient", "Ann")
    account_id = await sdk.verify_email(verification_token(outbox, "ann@example.org"), PASSWORD)
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


async def test_weak_passwords_are_a_typed_refusal_with_the_reason(people: People) -> None:
    with pytest.raises(BadRequestError) as weak:
        await people.client().register("ann@example.org", "password12", "patient", "Ann")
    assert weak.value.code == "weak_password"
    assert weak.value.fields is not None
    assert weak.value.fields["password"] == [weak.value.detail]


async def test_password_reset_through_the_sdk(people: People, outbox: MemoryOutbox) -> None:
    ann = await people.join("ann@example.org")
    device_id = ann.keystore.device_id
    await people.client().api.request_password_reset("ann@example.org")
    token = outbox.last_to("ann@example.org").body.split("/reset-password#", 1)[1].split()[0]
    await people.client().api.reset_password(token, "quiet otters mend old kites")
    with pytest.raises(AuthenticationError):
        await ann.api.me()  # every session ended
    later = people.client()
    await later.login("ann@example.org", "quiet otters mend old kites")
    listed = await later.api.account_devices(later.account_id)
    assert [d["device_id"] for d in listed["devices"]] == [device_id]  # keys untouched


async def test_an_sms_invitation_through_the_sdk(people: People, outbox: MemoryOutbox) -> None:
    doctor = await people.register("doc@example.org", "practitioner")
    await doctor.api.invite(Provider("practitioner", doctor.account_id), "sms", "+32470123456")
    code = outbox.last_to("+32470123456").body.split("/invite#", 1)[1].split()[0]
    ann = await people.register("ann@example.org")
    with pytest.raises(BadRequestError) as needs_phone:
        await ann.api.accept_invitation(code)
    assert needs_phone.value.code == "phone_code_required"
    await ann.api.request_phone_code(code)
    digits = re.findall(r"\b[0-9]{6}\b", outbox.last_to("+32470123456").body)[0]
    link = await ann.api.accept_invitation(code, phone_code=digits)
    assert (link["status"], link["patient_id"]) == ("active", ann.account_id)
