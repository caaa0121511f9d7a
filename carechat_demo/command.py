"""``carechat demo``: seed the demo, serve it with a practice's test site, print the logins.

``chat_server.cli`` resolves the settings and the MongoDB (the embedded default unless
a URI is configured) and calls :func:`demo`. The server runs in this process like
``carechat serve``, with two differences: the practice's test site's origin is added
to ``widget_embed_origins``, and mail goes to the data directory's outbox and to the
seeder (``outbox.py``) even when an SMTP relay is configured — a demo mails no one.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from typing import TextIO

import uvloop
from aiohttp import web

from carechat_demo.cast import (
    ADMIN,
    MODERATOR_EMAIL,
    OPERATOR_EMAIL,
    PASSWORD,
    PATIENTS,
    PRACTITIONERS,
)
from carechat_demo.keyring import Keyring
from carechat_demo.outbox import DemoOutbox
from carechat_demo.seed import DemoSeeder, World
from carechat_demo.site import practice_site
from chat_server import totp
from chat_server.app import create_app
from chat_server.appkeys import DB
from chat_server.clock import SystemClock
from chat_server.embedded.processes import port_is_free
from chat_server.errors import StartupError
from chat_server.rest.access_log import AccessLogger
from chat_server.rest.runner import CareChatRunner
from chat_server.settings import Settings

__all__ = ["demo", "print_world"]


def demo(settings: Settings, args: argparse.Namespace) -> int:
    site_port = args.site_port if args.site_port is not None else settings.port + 1
    for port in (settings.port, site_port):
        if not port_is_free(settings.host, port):
            raise StartupError(
                f"port {port} on {settings.host} is in use: stop the other server, "
                "or pick others with --port / --site-port"
            )
    site_origin = f"http://{settings.host}:{site_port}"
    settings = dataclasses.replace(
        settings, widget_embed_origins=(*settings.widget_embed_origins, site_origin)
    )
    uvloop.run(_run(settings, site_port, seed_only=args.seed_only))
    return 0


async def _run(settings: Settings, site_port: int, *, seed_only: bool) -> None:
    outbox = DemoOutbox(settings.data_dir / "outbox")
    clock = SystemClock()
    app = create_app(settings, clock=clock, mailer=outbox, sms=outbox)
    runner = CareChatRunner(
        app,
        access_log_class=AccessLogger,
        shutdown_timeout=settings.shutdown_grace_seconds,
        handle_signals=False,
    )
    await runner.setup()
    base_url = settings.public_url_or_default().rstrip("/")
    site_runner: web.AppRunner | None = None
    try:
        await _listen(runner, settings.host, settings.port)
        print("carechat demo: seeding (a minute at most)", file=sys.stderr, flush=True)
        keyring = Keyring(settings.data_dir / "demo")
        world = await DemoSeeder(base_url, app[DB], clock, outbox, keyring).run()
        site_runner = web.AppRunner(practice_site(base_url, world.practice_id))
        await site_runner.setup()
        await _listen(site_runner, settings.host, site_port)
        print_world(world, base_url, f"http://{settings.host}:{site_port}", settings)
        if not seed_only:
            await _until_stopped()
    finally:
        if site_runner is not None:
            await site_runner.cleanup()
        await runner.cleanup()


async def _listen(runner: web.AppRunner, host: str, port: int) -> None:
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except OSError as exc:
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


async def _until_stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


def print_world(
    world: World,
    base_url: str,
    site_url: str,
    settings: Settings,
    out: TextIO = sys.stdout,
) -> None:
    states = {t.patient: t.state for t in world.threads}

    def say(line: str = "") -> None:
        print(line, file=out)

    say("CareChat demo — not for emergencies: call 112 (100 in Belgium, 15 in France).")
    say()
    say(f"  Patient widget on a practice's site  {site_url}/")
    say(f"  Practitioner inbox                   {base_url}/app")
    say(f"  The widget alone                     {base_url}/widget?practice={world.practice_id}")
    say(f"  Moderator console                    {base_url}/moderation")
    say()
    say(f"  Every demo login's password: {PASSWORD}")
    say()
    # A browser holds no keys until it restores them: without the passphrase printed,
    # a practitioner's inbox would stop at "Unlock your conversations on this browser".
    say("  Practitioners (inbox): sign in, then restore your keys with the recovery passphrase:")
    for who in PRACTITIONERS:
        secret = world.totp_secrets.get(who.key)
        say(f"    {who.display_name:<20} {who.email:<32} passphrase: {who.passphrase}")
        if secret is not None:
            # Not necessarily this step's: the seeder may have just used that one.
            code = totp.code_at(secret, world.totp_steps[who.key])
            say(f"      two-factor: secret {secret} (any authenticator app);")
            say(f"      an unused code for the next half minute: {code} (each works once)")
    say("  Patients (widget): sign in, then restore your keys with the recovery passphrase:")
    for who in PATIENTS:
        state = states.get(who.key, "no thread")
        say(f"    {who.display_name:<20} {who.email:<32} passphrase: {who.passphrase}")
        say(f"      thread with the practice: {state}")
    say(f"  Practice admin: {ADMIN.email} (passphrase: {ADMIN.passphrase})")
    say(f"  Platform operator: {OPERATOR_EMAIL}")
    say(f"  Moderator (moderator console): {MODERATOR_EMAIL}")
    say()
    say(f"  New sign-ups: the verification e-mail is a file in {settings.data_dir / 'outbox'}")
    if world.created:
        say(f"  Created this run: {', '.join(world.created)}")
    else:
        say("  Everything already existed: nothing was created.")
    out.flush()
