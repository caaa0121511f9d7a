"""A device in tests: real keys, a real WebSocket, real envelopes.

It does what a client does — fetch and verify the participants' devices, seal with
``e2e_crypto``, send frames, open what arrives — without the SDK, so the server's
checks can be exercised with envelopes a well-behaved client would never make.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from e2e_crypto.envelope import open_message, seal_message
from e2e_crypto.keys import DeviceKeys
from e2e_crypto.public import PublicSigningKey, VerifiedDevice, verify_device_certificate
from e2e_crypto.wire import from_base64url, to_base64url
from tests.actors import Actor

Frame = dict[str, Any]


def new_cmid() -> str:
    return secrets.token_urlsafe(16)


@dataclass
class Device:
    actor: Actor
    keys: DeviceKeys
    ws: aiohttp.ClientWebSocketResponse | None = None
    backlog: list[Frame] = field(default_factory=list)

    @property
    def device_id(self) -> str:
        return self.keys.device_id

    async def connect(self) -> Frame:
        ticket = await self.actor.ticket(self.device_id)
        self.ws = await self.actor.client.ws_connect("/ws")
        return await self.request({"type": "hello", "ticket": ticket})

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    async def frame(self, wait: float = 5.0) -> Frame:
        assert self.ws is not None
        msg = await self.ws.receive(timeout=wait)
        if msg.type is not WSMsgType.TEXT:
            return {"type": "closed", "code": msg.data}
        frame: Frame = json.loads(msg.data)
        return frame

    async def request(self, frame: Frame, wait: float = 5.0) -> Frame:
        """Sends a frame and returns the answer to it, keeping other frames aside."""
        assert self.ws is not None
        frame_id = frame.setdefault("id", new_cmid()[:12])
        await self.ws.send_json(frame)
        while True:
            reply = await self.frame(wait)
            if reply.get("re") == frame_id or reply["type"] == "closed":
                return reply
            self.backlog.append(reply)

    async def next_of(self, kind: str, wait: float = 5.0, **match: Any) -> Frame:
        """The next frame of ``kind`` whose fields equal ``match``; others wait aside."""

        def wanted(frame: Frame) -> bool:
            return frame["type"] == kind and all(frame.get(k) == v for k, v in match.items())

        for i, frame in enumerate(self.backlog):
            if wanted(frame):
                return self.backlog.pop(i)
        while True:
            frame = await self.frame(wait)
            if wanted(frame):
                return frame
            self.backlog.append(frame)

    async def verified_devices(
        self, account_roots: dict[str, PublicSigningKey]
    ) -> list[VerifiedDevice]:
        devices: list[VerifiedDevice] = []
        for account_id, root in account_roots.items():
            listing = await self.actor.call("GET", f"/api/v1/accounts/{account_id}/devices")
            for entry in listing["devices"]:
                devices.append(
                    verify_device_certificate(
                        from_base64url(entry["certificate"]), account_id=account_id, root_key=root
                    )
                )
        return devices

    def seal(self, thread_id: str, cmid: str, text: str, to: list[VerifiedDevice]) -> str:
        envelope = seal_message(
            self.keys, thread_id=thread_id, client_msg_id=cmid, body=text.encode(), to_devices=to
        )
        return to_base64url(envelope)

    async def send_text(
        self, thread_id: str, text: str, to: list[VerifiedDevice], cmid: str | None = None
    ) -> Frame:
        cmid = cmid or new_cmid()
        envelope = self.seal(thread_id, cmid, text, to)
        return await self.request(
            {"type": "send", "thread": thread_id, "client_msg_id": cmid, "envelope": envelope}
        )

    def open(self, frame: Frame, senders: dict[tuple[str, str], VerifiedDevice]) -> str:
        sender = senders[(frame["sender"]["account"], frame["sender"]["device"])]
        opened = open_message(
            from_base64url(frame["envelope"]),
            opener=self.keys,
            sender=sender,
            thread_id=frame["thread"],
            client_msg_id=frame["client_msg_id"],
        )
        return opened.body.decode()


async def device(actor: Actor, device_id: str) -> Device:
    if not actor.devices:
        await actor.publish_root_key()
    keys = await actor.add_device(device_id)
    return Device(actor, keys)


def by_device(devices: list[VerifiedDevice]) -> dict[tuple[str, str], VerifiedDevice]:
    return {(d.account_id, d.device_id): d for d in devices}
