"""Session tokens, WebSocket tickets, e-mail and invitation codes, TOTP codes: any string
gets the precise refusal of its kind (401, 400 ``invalid_code``, close 4001), never more.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from chat_server import totp
from chat_server.clock import ManualClock
from tests.actors import PASSWORD, Actor
from tests.fuzz.conftest import People, refused_or_done
from tests.fuzz.inputs import FUZZ

Client = TestClient[web.Request, web.Application]
BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

# Printable ASCII (what an HTTP header can carry), token-shaped strings, and digits of
# every script (str.isdigit() is true for "²" and "٣").
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=90)
TOKEN_SHAPED = st.text(alphabet=BASE64URL, min_size=42, max_size=44)
CODES = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\d{6}", fullmatch=True),
    st.sampled_from(["²²²²²²", "٣٣٣٣٣٣", "000000", "12345", "1234567", " 12345"]),
)


def _altered(token: str) -> st.SearchStrategy[str]:
    """``token`` with one character replaced by another of its alphabet."""
    return st.builds(
        lambda i, c: token[:i] + c + token[i + 1 :],
        st.integers(min_value=0, max_value=len(token) - 1),
        st.sampled_from(BASE64URL),
    ).filter(lambda altered: altered != token)


async def _problem(response: Any) -> dict[str, Any]:
    problem = await refused_or_done(response)
    assert problem is not None
    return problem


@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_any_bearer_token_is_a_401(
    client: Client, people: People, data: st.DataObject
) -> None:
    real = people.patient.token
    token = data.draw(HEADER_TEXT | TOKEN_SHAPED | _altered(real), label="token")
    scheme = data.draw(st.sampled_from(["Bearer", "bearer", "BEARER", "Basic", "Token"]))
    response = await client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"{scheme} {token}"}
    )
    problem = await _problem(response)
    assert (response.status, problem["code"]) == (401, "unauthenticated")


@settings(FUZZ, max_examples=60)
@given(data=st.data())
async def test_any_ticket_closes_the_socket_with_4001(
    client: Client, people: People, data: st.DataObject
) -> None:
    real = await people.patient.ticket()
    ticket = data.draw(st.text(max_size=140) | TOKEN_SHAPED | _altered(real), label="ticket")
    ws = await client.ws_connect("/ws")
    try:
        await ws.send_json({"type": "hello", "id": "h", "ticket": ticket})
        msg = await ws.receive(timeout=10)
        if len(ticket) > 128:
            assert msg.type is WSMsgType.TEXT
            assert json.loads(msg.data)["code"] == "malformed_frame"
        else:
            assert (msg.type, msg.data) == (WSMsgType.CLOSE, 4001)
    finally:
        await ws.close()


@settings(FUZZ, max_examples=100)
@given(data=st.data())
async def test_any_e_mail_or_invitation_code_is_an_invalid_code(
    client: Client, people: People, data: st.DataObject
) -> None:
    path, field, extra = data.draw(
        st.sampled_from(
            [
                ("/api/v1/accounts/verify", "token", {"password": "quiet otters mend old kites"}),
                ("/api/v1/invitations/accept", "code", {}),
                (
                    "/api/v1/accounts/password-reset/confirm",
                    "token",
                    {"new_password": "quiet otters mend old kites"},
                ),
            ]
        ),
        label="route",
    )
    code = data.draw(st.text(max_size=140) | TOKEN_SHAPED, label="code")
    response = await client.post(path, json={field: code, **extra}, headers=people.patient.auth)
    problem = await _problem(response)
    expected = (422, "validation_failed") if len(code) > 128 else (400, "invalid_code")
    assert (response.status, problem["code"]) == expected


async def _start_totp(doctor: Actor) -> str:
    setup = await doctor.call("POST", "/api/v1/accounts/me/totp", expect=201)
    return str(setup["secret"])


@settings(FUZZ, max_examples=100)
@given(code=CODES)
async def test_any_totp_code_at_set_up_is_refused(people: People, code: str) -> None:
    doctor = people.practitioner
    await _start_totp(doctor)
    response = await doctor.client.post(
        "/api/v1/accounts/me/totp/confirm", json={"code": code}, headers=doctor.auth
    )
    problem = await _problem(response)
    expected = (422, "validation_failed") if len(code) > 10 else (401, "totp_required")
    assert (response.status, problem["code"]) == expected


@settings(FUZZ, max_examples=40)
@given(code=CODES)
async def test_any_totp_code_at_login_is_refused(
    people: People, clock: ManualClock, code: str
) -> None:
    doctor = people.practitioner
    profile = await doctor.call("GET", "/api/v1/accounts/me")
    if not profile["totp_enabled"]:
        secret = await _start_totp(doctor)
        valid = totp.code_at(secret, totp.step_of(clock.now()))
        await doctor.call("POST", "/api/v1/accounts/me/totp/confirm", {"code": valid}, 204)
    clock.advance(301)  # past the login rate limits' windows
    response = await doctor.client.post(
        "/api/v1/sessions",
        json={"email": doctor.email, "password": PASSWORD, "totp_code": code},
    )
    problem = await _problem(response)
    expected = (422, "validation_failed") if len(code) > 10 else (401, "totp_required")
    assert (response.status, problem["code"]) == expected
