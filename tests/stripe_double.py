"""A LOCAL TEST DOUBLE of the few Stripe endpoints CareChat uses — not Stripe.

There is no stripe-mock on any registry we reach, so the real ``stripe`` SDK talks to
this loopback aiohttp server instead (``StripeClient(key, base_addresses={"api":
double.url})``). It implements only what the paid chat needs:

    POST /v1/checkout/sessions               create (params checked, see below)
    GET  /v1/checkout/sessions/{id}          retrieve
    POST /v1/checkout/sessions/{id}/expire   expire an open session
    POST /v1/payment_intents/{id}/capture    capture a card hold
    POST /v1/payment_intents/{id}/cancel     release a card hold
    POST /v1/refunds, GET /v1/refunds/{id}   refund a payment (card: at once;
                                             Bancontact: pending until settled)
    GET  /checkout/{id}                      a "hosted checkout" page with a pay
                                             button per method and a cancel link,
                                             for the browser tests

Every request body is decoded from Stripe's form encoding and checked against
stripe-python's own parameter TypedDicts (unknown or mistyped parameters are a 400,
as Stripe answers); idempotency keys behave as Stripe's do (same key, same answer;
same key with other parameters, a 400). Faults: the next N calls of a route can
answer a 500, or be carried out and then have their connection dropped (the caller
sees a timeout although Stripe acted). Events are recorded in ``events`` and
delivered, really signed with ``stripe.WebhookSignature.generate_signature_header``,
whenever and however a test asks: late, twice, out of order, concurrently; the hosted
page sends its own before the patient is sent back, or ``hosted_webhook_delay``
seconds after.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import stripe
import typing_extensions
from aiohttp import web
from stripe._stripe_context import StripeContext
from stripe.params import PaymentIntentCancelParams, PaymentIntentCaptureParams, RefundCreateParams
from stripe.params.checkout import SessionCreateParams, SessionExpireParams

_INDEX = re.compile(r"\d+")


class ParamError(Exception):
    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head, _, rest = key.partition("[")
        path = [head] + (rest[:-1].split("][") if rest else [])
        node: dict[str, Any] = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    decoded: dict[str, Any] = _lists(root)
    return decoded


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(_INDEX.fullmatch(k) for k in node):
            return [_lists(node[k]) for k in sorted(node, key=int)]
        return {k: _lists(v) for k, v in node.items()}
    return node


def check_params(value: Any, hint: Any, where: str) -> None:
    """``value`` (form-decoded: strings) fits stripe-python's type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.NotRequired, typing.Required):
        check_params(value, args[0], where)
    elif origin is typing.Literal:
        if value not in [str(a) if not isinstance(a, bool) else str(a).lower() for a in args]:
            raise ParamError(where, f"must be one of {args}")
    elif origin in (typing.Union, types.UnionType):
        errors = []
        for arg in args:
            try:
                check_params(value, arg, where)
                return
            except ParamError as exc:
                errors.append(exc)
        if type(None) in args and value == "":
            return
        raise errors[0]
    elif origin in (list, Sequence, typing.List):  # noqa: UP006
        if not isinstance(value, list):
            raise ParamError(where, "must be a list")
        for i, item in enumerate(value):
            check_params(item, args[0], f"{where}[{i}]")
    elif origin in (dict, Mapping, typing.Dict):  # noqa: UP006
        if not isinstance(value, dict):
            raise ParamError(where, "must be a hash")
    elif isinstance(hint, type) and typing_extensions.is_typeddict(hint):
        if not isinstance(value, dict):
            raise ParamError(where, "must be a hash")
        hints = _hints(hint)
        for key in value:
            if key not in hints:
                raise ParamError(f"{where}[{key}]" if where else key, "unknown parameter")
        for key in getattr(hint, "__required_keys__", frozenset()):
            if key not in value:
                raise ParamError(f"{where}[{key}]" if where else key, "missing")
        for key, item in value.items():
            check_params(item, hints[key], f"{where}[{key}]" if where else key)
    elif hint is int:
        if not isinstance(value, str) or not re.fullmatch(r"-?\d+", value):
            raise ParamError(where, "must be an integer")
    elif hint is bool:
        if value not in ("true", "false"):
            raise ParamError(where, "must be a boolean")
    elif hint is str and not isinstance(value, str):
        raise ParamError(where, "must be a string")


def _hints(typed: type) -> dict[str, Any]:
    """A TypedDict's field types. Its inherited fields were declared in other modules
    (with names imported only for type checking, like ``StripeContext``): each name
    is looked up in typing, the ``stripe`` package and the TypedDict's own module."""
    module = sys.modules[typed.__module__]
    namespace = {
        **vars(typing),
        **vars(stripe),
        "StripeContext": StripeContext,
        **vars(module),
    }
    hints: dict[str, Any] = {}
    for key, annotation in typed.__annotations__.items():
        if isinstance(annotation, typing.ForwardRef):
            annotation = annotation.__forward_arg__
        if isinstance(annotation, str):
            annotation = eval(annotation, namespace)  # noqa: S307 - stripe's own annotations
        hints[key] = annotation
    return hints


# A fault's status: carried out, then answered only after ``hang_seconds``.
SLOW = -2


@dataclass
class Fault:
    status: int = 500  # 0: carry the call out, then drop the connection (a timeout)
    times: int = 1
    code: str | None = None  # Stripe's error code in the answer (a 4xx), if any


@dataclass
class StripeDouble:
    """State of the fake Stripe account; start with ``async with``."""

    webhook_url: str | None = None
    webhook_secret: str = "whsec_double"
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    # Every request received (retrieves too): (method, path, idempotency key, params).
    requests: list[tuple[str, str, str | None, dict[str, Any]]] = field(default_factory=list)
    faults: dict[str, Fault] = field(default_factory=dict)
    url: str = ""
    hang_seconds: float = 3.0
    # The hosted page's webhooks: sent before the patient is sent back (0), or this
    # many seconds after (the return comes first, as it can with real Stripe).
    hosted_webhook_delay: float = 0.0
    # The time webhooks are signed at (a server on an injected clock checks against it).
    now: Callable[[], float] = time.time
    _idempotent: dict[str, tuple[dict[str, Any], int, dict[str, Any]]] = field(default_factory=dict)
    _counter: int = 0
    _http_clients: list[stripe.AIOHTTPClient] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _late: set[asyncio.Task[None]] = field(default_factory=set)

    # -- life ------------------------------------------------------------------------------

    async def __aenter__(self) -> StripeDouble:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_get("/v1/checkout/sessions/{id}", self._get_session)
        app.router.add_post("/v1/checkout/sessions/{id}/expire", self._expire_session)
        app.router.add_post("/v1/payment_intents/{id}/capture", self._capture)
        app.router.add_post("/v1/payment_intents/{id}/cancel", self._cancel)
        app.router.add_post("/v1/refunds", self._create_refund)
        app.router.add_get("/v1/refunds/{id}", self._get_refund)
        app.router.add_get("/checkout/{id}", self._hosted_page)
        app.router.add_post("/checkout/{id}/pay", self._hosted_pay)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._late:
            task.cancel()
        for http in self._http_clients:
            await http.close_async()  # type: ignore[no-untyped-call]
        if self._runner is not None:
            await self._runner.cleanup()

    def client(self) -> stripe.StripeClient:
        """The real SDK, pointed here, without its own retries (the server retries)."""
        http = stripe.AIOHTTPClient()
        self._http_clients.append(http)
        return stripe.StripeClient(
            "sk_test_double",
            base_addresses={"api": self.url},
            http_client=http,
            max_network_retries=0,
        )

    def fail(
        self, route: str, *, status: int = 500, times: int = 1, code: str | None = None
    ) -> None:
        """The next ``times`` calls of ``route`` (e.g. ``"capture"``) fail: with
        ``status``; with status 0, carried out and then their connection dropped; with
        -1, carried out and left hanging for ``hang_seconds`` before being dropped; with
        ``SLOW`` (-2), carried out and answered after ``hang_seconds``."""
        self.faults[route] = Fault(status, times, code)

    def calls(self, route: str) -> int:
        return sum(1 for _, path, _, _ in self.requests if path.endswith(route))

    # -- the patient at the hosted checkout ----------------------------------------------------

    def pay(self, session_id: str, method: str = "card") -> list[dict[str, Any]]:
        """The patient pays: a card is held, Bancontact is charged. The new events."""
        session = self.sessions[session_id]
        assert session["status"] == "open", session["status"]
        amount = session["amount_total"]
        held = method == "card"
        intent = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": amount if held else 0,
            "amount_received": 0 if held else amount,
            "currency": session["currency"],
            "capture_method": "manual" if held else "automatic",
            "status": "requires_capture" if held else "succeeded",
            "metadata": dict(session["metadata"]),
            "payment_method_types": [method],
        }
        self.intents[intent["id"]] = intent
        session.update(
            status="complete",
            payment_status="unpaid" if held else "paid",
            payment_intent=intent["id"],
        )
        made = [self._event("checkout.session.completed", session)]
        if held:
            made.append(self._event("payment_intent.amount_capturable_updated", intent))
        else:
            made.append(self._event("payment_intent.succeeded", intent))
        return made

    def settle_refund(self, refund_id: str, status: str = "succeeded") -> dict[str, Any]:
        """A pending (Bancontact) refund reaches its final state."""
        refund = self.refunds[refund_id]
        refund["status"] = status
        kind = "refund.updated" if status == "succeeded" else "refund.failed"
        return self._event(kind, refund)

    def lapse_hold(self, intent_id: str) -> dict[str, Any]:
        """Seven days passed: Stripe cancels the uncaptured hold by itself."""
        intent = self.intents[intent_id]
        intent.update(status="canceled", cancellation_reason="automatic", amount_capturable=0)
        return self._event("payment_intent.canceled", intent)

    # -- webhooks ------------------------------------------------------------------------------

    def signed(
        self,
        event: Mapping[str, Any],
        *,
        secrets: Sequence[str] | None = None,
        timestamp: int | None = None,
    ) -> tuple[bytes, str]:
        """The body and a ``Stripe-Signature`` with one ``v1`` per secret."""
        body = json.dumps(event).encode()
        at = int(self.now()) if timestamp is None else timestamp
        parts = [f"t={at}"]
        for secret in secrets or [self.webhook_secret]:
            header = stripe.WebhookSignature.generate_signature_header(
                body.decode(), secret, timestamp=at
            )
            parts.append(header.split(",", 1)[1])
        return body, ",".join(parts)

    async def deliver(
        self,
        event: Mapping[str, Any],
        *,
        secrets: Sequence[str] | None = None,
        timestamp: int | None = None,
        delay: float = 0.0,
    ) -> int:
        """POSTs one signed event to ``webhook_url``; its HTTP status."""
        assert self.webhook_url is not None
        if delay:
            await asyncio.sleep(delay)
        body, header = self.signed(event, secrets=secrets, timestamp=timestamp)
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                self.webhook_url,
                data=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            ) as response,
        ):
            await response.read()
            return response.status

    async def deliver_all(self, events: Sequence[Mapping[str, Any]]) -> list[int]:
        """Concurrently, as Stripe does when several events are due at once."""
        return list(await asyncio.gather(*(self.deliver(e) for e in events)))

    # -- handlers ------------------------------------------------------------------------------

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_test_{self._counter:06d}"

    def _event(self, kind: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "type": kind,
            "api_version": stripe.api_version,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": json.loads(json.dumps(obj))},
        }
        self.events.append(event)
        return event

    async def _call(
        self, request: web.Request, route: str, hint: Any, act: Any
    ) -> web.StreamResponse:
        params = decode_form(await request.text())
        key = request.headers.get("Idempotency-Key")
        self.requests.append((request.method, request.path, key, params))
        if request.method == "POST" and "Stripe-Version" not in request.headers:
            return _error(400, "invalid_request_error", "missing Stripe-Version")
        if key is not None and key in self._idempotent:
            earlier, status, answer = self._idempotent[key]
            if earlier != params:
                return _error(400, "idempotency_error", "key reused with other parameters")
            return web.json_response(answer, status=status)
        fault = self.faults.get(route)
        if fault is not None and fault.times > 0 and fault.status > 0:
            fault.times -= 1
            kind = fault.code or "api_error"
            return _error(fault.status, kind, "the double was told to fail")
        if hint is not None:
            try:
                check_params(params, hint, "")
            except ParamError as exc:
                return _error(400, "invalid_request_error", str(exc), param=exc.param)
        status, answer = act(params)
        if key is not None and status < 500:
            self._idempotent[key] = (params, status, answer)
        if fault is not None and fault.times > 0 and fault.status == SLOW:
            fault.times -= 1
            await asyncio.sleep(self.hang_seconds)  # done here, answered late
            return web.json_response(answer, status=status)
        if fault is not None and fault.times > 0 and fault.status < 0:
            fault.times -= 1
            # Done here, answered only after ``hang_seconds``, then not at all: the
            # caller stalls as a frozen or killed process would.
            await asyncio.sleep(self.hang_seconds)
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        if fault is not None and fault.times > 0 and not fault.status:
            fault.times -= 1
            # Done here, never answered: the caller cannot tell whether it happened.
            assert request.transport is not None
            request.transport.close()
            raise asyncio.CancelledError
        return web.json_response(answer, status=status)

    async def _create_session(self, request: web.Request) -> web.StreamResponse:
        def act(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            intent_data = params.get("payment_intent_data", {})
            if "capture_method" in intent_data:
                # Real Stripe would accept it and hide Bancontact; CareChat must not send it.
                return 400, _body(
                    "invalid_request_error", "top-level capture_method hides bancontact"
                )
            # Stripe's rule: 30 minutes to 24 hours after the session is made (a
            # retry long after the first try, with the same expires_at, can break it).
            ahead = int(params["expires_at"]) - self.now()
            if not 30 * 60 - 60 <= ahead <= 24 * 3600 + 60:
                return 400, _body(
                    "invalid_request_error",
                    "expires_at must be 30 minutes to 24 hours from now",
                    param="expires_at",
                )
            item = params["line_items"][0]["price_data"]
            session_id = self._id("cs")
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": params["mode"],
                "status": "open",
                "payment_status": "unpaid",
                "payment_intent": None,
                "amount_total": int(item["unit_amount"]) * int(params["line_items"][0]["quantity"]),
                "currency": item["currency"],
                "client_reference_id": params.get("client_reference_id"),
                "metadata": params.get("metadata", {}),
                "allowed_payment_method_types": params.get("allowed_payment_method_types", []),
                "payment_method_options": params.get("payment_method_options", {}),
                "expires_at": int(params["expires_at"]),
                "success_url": params["success_url"],
                "cancel_url": params["cancel_url"],
                "url": f"{self.url}/checkout/{session_id}",
            }
            self.sessions[session_id] = session
            return 200, session

        return await self._call(request, "checkout/sessions", SessionCreateParams, act)

    async def _get_session(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, None, {}))
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            return _error(404, "invalid_request_error", "no such checkout.session")
        return web.json_response(session)

    async def _expire_session(self, request: web.Request) -> web.StreamResponse:
        def act(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            session = self.sessions.get(request.match_info["id"])
            if session is None:
                return 404, _body("invalid_request_error", "no such checkout.session")
            if session["status"] != "open":
                return 400, _body("invalid_request_error", "session is not open")
            session["status"] = "expired"
            self._event("checkout.session.expired", session)
            return 200, session

        return await self._call(request, "expire", SessionExpireParams, act)

    async def _capture(self, request: web.Request) -> web.StreamResponse:
        def act(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            intent = self.intents.get(request.match_info["id"])
            if intent is None:
                return 404, _body("invalid_request_error", "no such payment_intent")
            if intent["status"] != "requires_capture":
                return 400, _body("payment_intent_unexpected_state", "cannot capture")
            intent.update(status="succeeded", amount_received=intent["amount"], amount_capturable=0)
            self._event("payment_intent.succeeded", intent)
            return 200, intent

        return await self._call(request, "capture", PaymentIntentCaptureParams, act)

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        def act(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            intent = self.intents.get(request.match_info["id"])
            if intent is None:
                return 404, _body("invalid_request_error", "no such payment_intent")
            if intent["status"] not in ("requires_capture", "requires_payment_method"):
                return 400, _body("payment_intent_unexpected_state", "cannot cancel")
            intent.update(status="canceled", amount_capturable=0)
            self._event("payment_intent.canceled", intent)
            return 200, intent

        return await self._call(request, "cancel", PaymentIntentCancelParams, act)

    async def _create_refund(self, request: web.Request) -> web.StreamResponse:
        def act(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            intent = self.intents.get(params.get("payment_intent", ""))
            if intent is None:
                return 404, _body("invalid_request_error", "no such payment_intent")
            if intent["status"] != "succeeded" or intent.get("refunded"):
                return 400, _body("charge_already_refunded", "nothing to refund")
            intent["refunded"] = True
            card = intent["payment_method_types"] == ["card"]
            refund = {
                "id": self._id("re"),
                "object": "refund",
                "amount": intent["amount_received"],
                "currency": intent["currency"],
                "payment_intent": intent["id"],
                "status": "succeeded" if card else "pending",
                "metadata": params.get("metadata", {}),
            }
            self.refunds[refund["id"]] = refund
            charge = {
                "id": self._id("ch"),
                "object": "charge",
                "payment_intent": intent["id"],
                "amount_refunded": refund["amount"],
                "currency": intent["currency"],
                "refunded": True,
                "metadata": dict(intent["metadata"]),
                "refunds": {"object": "list", "data": [refund]},
            }
            self._event("charge.refunded", charge)
            return 200, refund

        return await self._call(request, "refunds", RefundCreateParams, act)

    async def _get_refund(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((request.method, request.path, None, {}))
        refund = self.refunds.get(request.match_info["id"])
        if refund is None:
            return _error(404, "invalid_request_error", "no such refund")
        return web.json_response(refund)

    async def _hosted_page(self, request: web.Request) -> web.StreamResponse:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound()
        price = f"{session['amount_total'] // 100}.{session['amount_total'] % 100:02d}"
        page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Stripe test double: checkout</title></head><body>
<h1>Test double of Stripe Checkout (not Stripe)</h1>
<p>Amount: <span id="amount">{price} {session["currency"].upper()}</span></p>
<form method="post" action="/checkout/{session["id"]}/pay?method=card">
<button id="pay-card">Pay by card</button></form>
<form method="post" action="/checkout/{session["id"]}/pay?method=bancontact">
<button id="pay-bancontact">Pay with Bancontact</button></form>
<a id="cancel" href="{session["cancel_url"]}">Cancel</a></body></html>"""
        return web.Response(text=page, content_type="text/html")

    async def _hosted_pay(self, request: web.Request) -> web.StreamResponse:
        session = self.sessions.get(request.match_info["id"])
        if session is None:
            raise web.HTTPNotFound()
        made = self.pay(session["id"], request.query.get("method", "card"))
        if self.webhook_url is not None and self.hosted_webhook_delay:
            task = asyncio.create_task(self._deliver_later(made, self.hosted_webhook_delay))
            self._late.add(task)
            task.add_done_callback(self._late.discard)
        elif self.webhook_url is not None:
            for event in made:
                await self.deliver(event)
        raise web.HTTPSeeOther(session["success_url"])

    async def _deliver_later(self, events: Sequence[Mapping[str, Any]], delay: float) -> None:
        await asyncio.sleep(delay)
        for event in events:
            await self.deliver(event)


def _body(kind: str, message: str, *, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": kind, "message": message}
    if kind not in ("api_error", "invalid_request_error"):
        error = {"type": "invalid_request_error", "code": kind, "message": message}
    if param is not None:
        error["param"] = param
    return {"error": error}


def _error(status: int, kind: str, message: str, *, param: str | None = None) -> web.Response:
    return web.json_response(_body(kind, message, param=param), status=status)
