"""Password reset by e-mail, and registrations that do not reserve an address until
it is confirmed (e-mail pre-hijacking)."""

import dataclasses
import json
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient

from chat_server.app import create_app
from chat_server.clock import ManualClock
from chat_server.mail import MemoryOutbox
from chat_server.settings import Settings
from tests.actors import PASSWORD, actor, login, register, verification_token

Client = TestClient[web.Request, web.Application]
NEW_PASSWORD = "quiet otters mend old kites"
RESET = "/api/v1/accounts/password-reset"
CONFIRM = "/api/v1/accounts/password-reset/confirm"


def _reset_token(outbox: MemoryOutbox, email: str) -> str:
    return outbox.last_to(email).body.split("/reset-password#", 1)[1].split()[0]


async def _problem(response: Any) -> dict[str, Any]:
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    body.pop("request_id")
    return body


async def _register_body(client: Client, email: str, password: str) -> None:
    body = {"email": email, "password": password, "role": "patient", "display_name": "X"}
    response = await client.post("/api/v1/accounts", json=body)
    assert response.status == 202, await response.text()


async def test_a_later_registration_replaces_an_unverified_one(
    client: Client, outbox: MemoryOutbox
) -> None:
    # The attack: Mallory registers Ann's address with Mallory's password first.
    await _register_body(client, "ann@example.org", "mallory knows this one")
    squatter_link = verification_token(outbox, "ann@example.org")
    await _register_body(client, "ann@example.org", PASSWORD)
    assert "confirm your e-mail" in outbox.last_to("ann@example.org").subject
    # The squatter's link no longer verifies anything; Ann's does, with her password.
    stale = await client.post(
        "/api/v1/accounts/verify",
        json={"token": squatter_link, "password": "mallory knows this one"},
    )
    assert stale.status == 400
    assert (await _problem(stale))["code"] == "invalid_code"
    ann_link = verification_token(outbox, "ann@example.org")
    verified = await client.post(
        "/api/v1/accounts/verify", json={"token": ann_link, "password": PASSWORD}
    )
    assert verified.status == 200
    await login(client, "ann@example.org")
    mallory = await client.post(
        "/api/v1/sessions",
        json={"email": "ann@example.org", "password": "mallory knows this one"},
    )
    assert mallory.status == 401


MALLORY = "mallory knows this one"
VERIFY = "/api/v1/accounts/verify"


async def _verify(client: Client, token: str, password: str) -> tuple[int, str]:
    response = await client.post(VERIFY, json={"token": token, "password": password})
    body = await response.json(content_type=None)
    return response.status, body["code"] if response.status != 200 else body["status"]


async def _login_status(client: Client, email: str, password: str) -> int:
    response = await client.post("/api/v1/sessions", json={"email": email, "password": password})
    return response.status


async def test_the_owner_clicking_the_newest_link_does_not_activate_a_later_registration(
    client: Client, outbox: MemoryOutbox
) -> None:
    # Ann registers; Mallory re-registers Ann's address after her, with his password.
    await _register_body(client, "ann@example.org", PASSWORD)
    ann_link = verification_token(outbox, "ann@example.org")
    await _register_body(client, "ann@example.org", MALLORY)
    mallory_link = verification_token(outbox, "ann@example.org")
    assert mallory_link != ann_link
    # Ann clicks the newest link in her mailbox and types her own password.
    assert await _verify(client, mallory_link, PASSWORD) == (400, "invalid_code")
    assert await _verify(client, ann_link, PASSWORD) == (400, "invalid_code")  # replaced
    assert await _login_status(client, "ann@example.org", MALLORY) == 401  # still unverified
    # Registering again replaces Mallory's registration; her new link works for her.
    await _register_body(client, "ann@example.org", PASSWORD)
    assert await _verify(client, mallory_link, MALLORY) == (400, "invalid_code")
    fresh = verification_token(outbox, "ann@example.org")
    assert await _verify(client, fresh, PASSWORD) == (200, "active")
    assert await _login_status(client, "ann@example.org", PASSWORD) == 201
    assert await _login_status(client, "ann@example.org", MALLORY) == 401


async def test_verifying_takes_the_link_and_the_password_and_a_wrong_one_is_no_oracle(
    client: Client, outbox: MemoryOutbox
) -> None:
    await _register_body(client, "mallory@example.org", MALLORY)
    link = verification_token(outbox, "mallory@example.org")
    # Without the mailbox: a token of the right shape, the right password.
    wrong_token = await client.post(VERIFY, json={"token": "A" * 43, "password": MALLORY})
    # With the mailbox, without the password.
    wrong_password = await client.post(VERIFY, json={"token": link, "password": PASSWORD})
    assert wrong_token.status == wrong_password.status == 400
    assert await _problem(wrong_token) == await _problem(wrong_password)
    assert (await _problem(wrong_password))["code"] == "invalid_code"
    missing = await client.post(VERIFY, json={"token": link})
    assert (missing.status, (await missing.json())["code"]) == (422, "validation_failed")
    assert await _login_status(client, "mallory@example.org", MALLORY) == 401
    # A wrong password does not use the link up.
    assert await _verify(client, link, MALLORY) == (200, "active")
    assert await _login_status(client, "mallory@example.org", MALLORY) == 201


async def test_guessing_the_password_of_a_link_is_throttled_per_registration(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    await _register_body(client, "ann@example.org", PASSWORD)
    link = verification_token(outbox, "ann@example.org")
    for n in range(10):
        assert await _verify(client, link, f"guess number {n}") == (400, "invalid_code")
    refused = await client.post(VERIFY, json={"token": link, "password": PASSWORD})
    assert (refused.status, (await refused.json())["code"]) == (429, "rate_limited")
    assert "Retry-After" in refused.headers
    clock.advance(3600)
    assert await _verify(client, link, PASSWORD) == (200, "active")


async def test_a_verified_address_is_not_replaced(client: Client, outbox: MemoryOutbox) -> None:
    ann_id = await register(client, outbox, "ann@example.org")
    await _register_body(client, "ann@example.org", "mallory knows this one")
    assert "/verify#" not in outbox.last_to("ann@example.org").body
    assert "/reset-password" in outbox.last_to("ann@example.org").body
    assert (await login(client, "ann@example.org"))["account_id"] == ann_id


async def test_a_reset_request_answers_the_same_for_any_address(
    client: Client, outbox: MemoryOutbox
) -> None:
    await register(client, outbox, "ann@example.org")
    await _register_body(client, "unverified@example.org", PASSWORD)
    known = await client.post(RESET, json={"email": "Ann@Example.org"})
    unknown = await client.post(RESET, json={"email": "nobody@example.org"})
    pending = await client.post(RESET, json={"email": "unverified@example.org"})
    assert known.status == unknown.status == pending.status == 202
    assert await known.json() == await unknown.json() == await pending.json()
    assert "reset your password" in outbox.last_to("ann@example.org").subject
    assert [m.to for m in outbox.sent if "reset" in m.subject] == ["ann@example.org"]


async def test_a_reset_sets_the_password_and_ends_every_session_and_ticket(
    client: Client, outbox: MemoryOutbox
) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    other = (await login(client, "ann@example.org"))["token"]
    ticket = await ann.ticket()
    open_ticket = await ann.ticket()
    ws = await client.ws_connect("/ws")
    await ws.send_json({"type": "hello", "id": "h", "ticket": open_ticket})
    assert json.loads((await ws.receive(timeout=5)).data)["type"] == "welcome"

    await client.post(RESET, json={"email": "ann@example.org"})
    token = _reset_token(outbox, "ann@example.org")
    done = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status == 204, await done.text()

    closed = await ws.receive(timeout=2)
    assert (closed.type, closed.data) == (WSMsgType.CLOSE, 4003)
    for session in (ann.token, other):
        stale = await client.get(
            "/api/v1/accounts/me", headers={"Authorization": f"Bearer {session}"}
        )
        assert stale.status == 401
    late = await client.ws_connect("/ws")
    await late.send_json({"type": "hello", "id": "h", "ticket": ticket})
    refused = await late.receive(timeout=5)
    assert (refused.type, refused.data) == (WSMsgType.CLOSE, 4001)
    old = await client.post(
        "/api/v1/sessions", json={"email": "ann@example.org", "password": PASSWORD}
    )
    assert old.status == 401
    await login(client, "ann@example.org", NEW_PASSWORD)
    assert "was reset" in outbox.last_to("ann@example.org").subject


async def test_a_reset_token_is_single_use_and_ends_older_ones(
    client: Client, outbox: MemoryOutbox
) -> None:
    await register(client, outbox, "ann@example.org")
    await client.post(RESET, json={"email": "ann@example.org"})
    older = _reset_token(outbox, "ann@example.org")
    await client.post(RESET, json={"email": "ann@example.org"})
    newer = _reset_token(outbox, "ann@example.org")
    body = {"token": newer, "new_password": NEW_PASSWORD}
    assert (await client.post(CONFIRM, json=body)).status == 204
    for token in (newer, older):
        again = await client.post(
            CONFIRM, json={"token": token, "new_password": "fresh plums sing loudly"}
        )
        assert again.status == 400
        assert (await _problem(again))["code"] == "invalid_code"
    await login(client, "ann@example.org", NEW_PASSWORD)


async def test_a_reset_link_expires(
    client: Client, outbox: MemoryOutbox, clock: ManualClock
) -> None:
    await register(client, outbox, "ann@example.org")
    await client.post(RESET, json={"email": "ann@example.org"})
    token = _reset_token(outbox, "ann@example.org")
    assert "30 minutes" in outbox.last_to("ann@example.org").body
    clock.advance(30 * 60 + 1)
    late = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert late.status == 400
    await login(client, "ann@example.org")


async def test_a_weak_new_password_keeps_the_token_usable(
    client: Client, outbox: MemoryOutbox
) -> None:
    await register(client, outbox, "ann@example.org")
    await client.post(RESET, json={"email": "ann@example.org"})
    token = _reset_token(outbox, "ann@example.org")
    weak = await client.post(CONFIRM, json={"token": token, "new_password": "password12"})
    assert weak.status == 422
    problem = await _problem(weak)
    assert problem["code"] == "weak_password"
    assert problem["fields"]["new_password"] == [problem["detail"]]
    ok = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert ok.status == 204


async def test_a_reset_leaves_keys_and_devices_alone(client: Client, outbox: MemoryOutbox) -> None:
    ann = await actor(client, outbox, "ann@example.org")
    await ann.publish_root_key()
    await ann.add_device("phone")
    before = await ann.call("GET", f"/api/v1/accounts/{ann.account_id}/devices")
    await client.post(RESET, json={"email": "ann@example.org"})
    token = _reset_token(outbox, "ann@example.org")
    body = {"token": token, "new_password": NEW_PASSWORD}
    assert (await client.post(CONFIRM, json=body)).status == 204
    ann.token = (await login(client, "ann@example.org", NEW_PASSWORD))["token"]
    after = await ann.call("GET", f"/api/v1/accounts/{ann.account_id}/devices")
    assert after == before
    assert [d["device_id"] for d in after["devices"]] == ["phone"]


async def test_the_reset_expiry_is_a_setting(
    aiohttp_client: Any, settings: Settings, db: Any, clock: ManualClock, outbox: MemoryOutbox
) -> None:
    short = dataclasses.replace(settings, password_reset_minutes=5)
    client: Client = await aiohttp_client(create_app(short, clock=clock, mailer=outbox, sms=outbox))
    await register(client, outbox, "ann@example.org")
    await client.post(RESET, json={"email": "ann@example.org"})
    token = _reset_token(outbox, "ann@example.org")
    assert "within 5 minutes" in outbox.last_to("ann@example.org").body
    clock.advance(5 * 60 + 1)
    late = await client.post(CONFIRM, json={"token": token, "new_password": NEW_PASSWORD})
    assert late.status == 400


class RelayDownForResets(MemoryOutbox):
    """An SMTP relay that fails (the outer edge): here, for reset links only."""

    async def send(self, to: str, subject: str, body: str) -> None:
        if "reset your password" in subject:
            raise ConnectionRefusedError("relay down")
        await super().send(to, subject, body)


async def test_a_known_address_answers_like_an_unknown_one_when_the_relay_fails(
    aiohttp_client: Any, settings: Settings, db: Any, clock: ManualClock
) -> None:
    relay = RelayDownForResets()
    client: Client = await aiohttp_client(
        create_app(settings, clock=clock, mailer=relay, sms=relay)
    )
    await register(client, relay, "ann@example.org")
    known = await client.post(RESET, json={"email": "ann@example.org"})
    unknown = await client.post(RESET, json={"email": "nobody@example.org"})
    # Sent after the answer: no 500, no slower answer, for the address that exists.
    assert known.status == unknown.status == 202
    assert await known.json() == await unknown.json()
