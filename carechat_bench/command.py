"""``carechat bench`` arguments → a benchmark or soak run, its table on stdout."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from typing import Any

from carechat_bench.flood import FloodOptions, flood
from carechat_bench.mailing import MailingOptions, mailing
from carechat_bench.retention import RetentionOptions, retention
from carechat_bench.runner import Options, run
from carechat_bench.soak import SoakOptions, soak

QUICK: dict[str, Any] = {
    "pairs": 50,
    "team": 10,
    "per_device": 5,
    "idle_sockets": 500,
    "idle_hold": 3.0,
}


def bench(args: argparse.Namespace) -> int:
    command = shlex.join(["carechat", *sys.argv[1:]])
    if getattr(args, "mailing", False):
        print(mailing(MailingOptions(runs=args.runs, command=command)))
        return 0
    if getattr(args, "flood", False):
        flooding = FloodOptions(
            runs=args.runs, write_docs=args.write, profile=args.profile, command=command
        )
        if args.quick:
            flooding = dataclasses.replace(flooding, pairs=20, chat_seconds=2.0)
        print(flood(flooding))
        return 0
    if getattr(args, "retention", False):
        print(retention(RetentionOptions(runs=args.runs, command=command)))
        return 0
    if args.soak is not None:
        return soak(
            SoakOptions(minutes=args.soak, redis=args.redis, rate=args.soak_rate, command=command)
        )
    sizes: dict[str, Any] = QUICK if args.quick else {}
    if args.processes < 1 or (args.processes > 1 and not args.redis):
        print("carechat bench: --processes N needs N >= 1, and --redis when N > 1", file=sys.stderr)
        return 2
    options = Options(
        processes=args.processes,
        runs=args.runs,
        redis=args.redis,
        write_docs=args.write,
        profile=args.profile,
        command=command,
        **sizes,
    )
    report = run(options)
    print(report.table())
    return 0
