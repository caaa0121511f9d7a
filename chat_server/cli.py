"""``carechat``: the command line, and the only code that reads the environment.

``serve`` runs the server. With no MongoDB URI configured it first starts the embedded
default — a private single-node replica set in the data directory — and stops it on
the way out. Every failure to start is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import uvloop
from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from chat_server.admin import (
    JOB_COLUMNS,
    AdminError,
    create_admin,
    job_row,
    list_jobs,
    read_anchors,
    verify_audit,
)
from chat_server.app import create_app, create_metrics_app
from chat_server.clock import SystemClock
from chat_server.embedded.mongod import EmbeddedMongo
from chat_server.embedded.processes import ServiceStartError, port_is_free
from chat_server.errors import StartupError
from chat_server.logs import configure_logging
from chat_server.rest.access_log import AccessLogger
from chat_server.rest.runner import CareChatRunner
from chat_server.secret import Secret
from chat_server.settings import Settings, SettingsError, load_settings
from chat_server.storage import migrations
from chat_server.storage.indexes import ensure_indexes
from chat_server.storage.mongo import check_replica_set, make_client

log = logging.getLogger("chat_server")

# Commands shipped outside the server package, found by entry point (setup.cfg): the
# benchmark drives the client SDK, which the server never imports, not even lazily.
COMMANDS_GROUP = "carechat.commands"


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    try:
        settings = load_settings(os.environ, args.config, **overrides)
    except SettingsError as exc:
        print(f"carechat: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "serve":
            _serve(settings)
        elif args.command == "migrate":
            _migrate(settings)
        elif args.command == "admin":
            return _admin(settings, args)
        elif args.command == "bench":
            return installed_command("bench")(args)
        elif args.command == "demo":
            with _mongodb(settings) as effective:
                return installed_command("demo")(effective, args)
    except (StartupError, ServiceStartError, AdminError) as exc:
        print(f"carechat: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def installed_command(name: str) -> Callable[..., int]:
    found = entry_points(group=COMMANDS_GROUP, name=name)
    if not found:
        raise StartupError(f"`carechat {name}` is not installed (pip install -e '.[dev]')")
    command: Callable[..., int] = next(iter(found)).load()
    return command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carechat", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, help="TOML settings file (see config/)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP and WebSocket server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    demo = commands.add_parser(
        "demo",
        help="seed a demo practice, practitioners and patients, serve them with a "
        "practice's test site, and print the logins",
    )
    demo.add_argument("--host")
    demo.add_argument("--port", type=int)
    demo.add_argument(
        "--site-port", type=int, help="the practice's test site (default: the port + 1)"
    )
    demo.add_argument("--seed-only", action="store_true", help="stop once seeded and printed")
    migrate = commands.add_parser(
        "migrate", help="create every MongoDB index and bring old data under today's rules"
    )
    admin = commands.add_parser("admin", help="operator tasks")
    tasks = admin.add_subparsers(dest="task", required=True)
    create = tasks.add_parser("create-admin", help="create a platform admin (password on stdin)")
    create.add_argument("email")
    verify = tasks.add_parser("verify-audit", help="check the audit log's hash chain")
    verify.add_argument(
        "--anchors",
        type=Path,
        metavar="FILE",
        help="also check it against these anchors (audit-anchors.jsonl lines)",
    )
    jobs = tasks.add_parser("jobs", help="list failed background jobs (no payloads)")
    jobs.add_argument("--all", action="store_true", help="jobs in every state, newest first")
    bench = commands.add_parser(
        "bench", help="measure throughput, latency and memory (starts its own services)"
    )
    bench.add_argument("--runs", type=int, default=3, help="runs per figure (median, min-max)")
    bench.add_argument("--redis", action="store_true", help="fan out through a local Redis")
    bench.add_argument(
        "--processes",
        type=int,
        default=1,
        metavar="N",
        help="N server processes behind HAProxy for the messaging phases (needs --redis)",
    )
    bench.add_argument(
        "--quick", action="store_true", help="small sizes: a smoke test, not figures"
    )
    bench.add_argument("--write", type=Path, metavar="MD", help="update the table in this file")
    bench.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="py-spy profile of the first counted maximum-rate run (the one after the "
        "first since the start), or with --flood of the first flood (collapsed stacks "
        "for .txt)",
    )
    bench.add_argument(
        "--soak", type=float, metavar="MINUTES", help="steady load for this long instead"
    )
    bench.add_argument(
        "--mailing",
        action="store_true",
        help="instead: a 10,000-recipient campaign under 30 %% chat load (docs/mailings.md)",
    )
    bench.add_argument(
        "--flood",
        action="store_true",
        help="instead: one account floods at 10x the chat load while the others chat",
    )
    bench.add_argument(
        "--retention",
        action="store_true",
        help="instead: a retention pass deleting 50,000 messages under 30 %% chat load",
    )
    bench.add_argument(
        "--soak-rate", type=_positive, default=600.0, metavar="MSGS", help="the soak's messages/s"
    )
    for command in (migrate, admin, bench):
        command.set_defaults(host=None, port=None)
    return parser


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


@contextlib.contextmanager
def _mongodb(settings: Settings) -> Iterator[Settings]:
    """Settings with a MongoDB URI: the configured one, or an embedded replica set."""
    if settings.mongodb_uri is not None:
        yield settings
        return
    data_dir = settings.data_dir / "mongodb"
    print(f"carechat: starting embedded MongoDB in {data_dir}", file=sys.stderr)
    with EmbeddedMongo(data_dir, binary=settings.mongod_path) as mongo:
        # The password stays in the 0600 file; the address alone is safe to print.
        print(
            f"carechat: embedded MongoDB at {mongo.address} "
            f"(full URI with password in {mongo.uri_file})",
            file=sys.stderr,
        )
        yield dataclasses.replace(settings, mongodb_uri=Secret(mongo.uri))


def _serve(settings: Settings) -> None:
    if not port_is_free(settings.host, settings.port):
        raise StartupError(
            f"port {settings.port} on {settings.host} is in use: "
            "stop the other server or set CARECHAT_PORT"
        )
    with _mongodb(settings) as effective:
        uvloop.run(_run_server(effective))


async def _run_server(settings: Settings) -> None:
    app = create_app(settings)
    runner = CareChatRunner(
        app,
        access_log_class=AccessLogger,
        shutdown_timeout=settings.shutdown_grace_seconds,
        handle_signals=False,
    )
    await runner.setup()
    metrics_runner = web.AppRunner(create_metrics_app(app), access_log=None, handle_signals=False)
    await metrics_runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        # Metrics first: once /readyz answers on the public port, they can be scraped.
        await _start_metrics_site(metrics_runner, settings)
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}"
            ) from None
        settle_gc()
        log.info("ready", extra={"fields": {"url": f"http://{settings.host}:{settings.port}"}})
        print(
            f"carechat: ready on http://{settings.host}:{settings.port}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
        log.info("shutting down")
    finally:
        await metrics_runner.cleanup()
        await runner.cleanup()


async def _start_metrics_site(runner: web.AppRunner, settings: Settings) -> None:
    """/metrics on its own listener (``metrics_listen``), never on the public port."""
    address = settings.metrics_address()
    if address is None:
        return
    host, port = address
    try:
        await web.TCPSite(runner, host, port, reuse_address=True).start()
    except OSError as exc:
        raise StartupError(
            f"cannot listen for metrics on {settings.metrics_listen}: {exc.strerror} "
            "(each process needs its own CARECHAT_METRICS_LISTEN)"
        ) from None


# Young collections run after this many net new container objects (CPython's default
# is 700). Every socket keeps ~100 tracked objects alive, and at the default each young
# collection promoted the objects of sends in flight, so full collections of the whole
# heap came every few seconds: 100-500 ms pauses at 1,000 sockets, seen in the soak's
# carechat_gc_pause_seconds. At 20,000 short-lived objects die young, the soak saw no
# full collection in minutes, and a young collection still costs only a few ms.
GC_YOUNG_THRESHOLD = 20_000


def settle_gc() -> None:
    """Start-up objects live for the whole run: keep the collector off them."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)


def _migrate(settings: Settings) -> None:
    with _mongodb(settings) as effective:
        asyncio.run(_migrate_async(effective))
    print("carechat: indexes are up to date", file=sys.stderr)


async def _migrate_async(settings: Settings) -> None:
    async with _database(settings) as db:
        await migrations.migrate(db, SystemClock())


@contextlib.asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    assert settings.mongodb_uri is not None
    client = make_client(settings.mongodb_uri.reveal())
    try:
        try:
            await check_replica_set(client)
        except PyMongoError as exc:
            raise StartupError(f"MongoDB unreachable ({type(exc).__name__})") from None
        yield client[settings.mongodb_db]
    finally:
        await client.close()


def _admin(settings: Settings, args: argparse.Namespace) -> int:
    with _mongodb(settings) as effective:
        return asyncio.run(_admin_async(effective, args))


async def _admin_async(settings: Settings, args: argparse.Namespace) -> int:
    async with _database(settings) as db:
        await ensure_indexes(db)
        if args.task == "create-admin":
            password = sys.stdin.readline().rstrip("\n")
            account_id = await create_admin(db, SystemClock(), args.email, password)
            print(f"carechat: created platform admin {account_id}", file=sys.stderr)
            return 0
        if args.task == "jobs":
            rows = [JOB_COLUMNS, *map(job_row, await list_jobs(db, everything=args.all))]
            for row in rows:
                print("\t".join(row))
            return 0
        anchors = read_anchors(args.anchors) if args.anchors else []
        count, broken = await verify_audit(db, anchors)
        if broken is None:
            against = f", matches {len(anchors)} anchors" if anchors else ""
            print(f"carechat: audit log intact ({count} entries{against})")
            return 0
        print(f"carechat: audit log broken at seq {broken.seq}: {broken.reason}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
