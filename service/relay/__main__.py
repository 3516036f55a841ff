"""`python -m service.relay`: the outbox relay (and the periodic reconciler) on their own.

Same settings as the service (`REHEARSAL_*`, plus `--db-url`/`--calendar-url`). Migrates the
schema, prints a JSON ready line, then relays until SIGTERM or Ctrl-C. `--reconcile-once` runs one
reconciler pass, prints its report as JSON and exits; `--drain` relays until nothing is due and
exits. Several relays may run against one PostgreSQL database (rows are claimed with SKIP LOCKED).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys

from service.json_logging import configure_logging
from service.relay.outbox_relay import OutboxRelay
from service.relay.reconciler import Reconciler
from service.runtime import StartupError, build_runtime, close_runtime, start_runtime
from service.settings import Settings, SettingsError, unknown_variables
from service.system_clock import SystemClock


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m service.relay",
        description="Run the outbox relay alone (settings also from REHEARSAL_* env vars).",
    )
    parser.add_argument("--db-url", help="sqlite+aiosqlite:///path or postgresql+asyncpg://...")
    parser.add_argument("--calendar-url", help="base URL of the calendar provider")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--reconcile-once", action="store_true", help="one reconciler pass, then exit"
    )
    mode.add_argument("--drain", action="store_true", help="relay until nothing is due, then exit")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING (REHEARSAL_LOG_LEVEL)")
    return parser.parse_args(argv)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    runtime = build_runtime(settings, SystemClock(), random.Random(settings.seed))
    try:
        await start_runtime(runtime)
        if args.reconcile_once:
            report = await Reconciler(runtime).run_once()
            print(json.dumps({"event": "reconciled", **report.as_dict()}), flush=True)
            return 0 if report.skipped is None else 1
        relay = OutboxRelay(runtime)
        if args.drain:
            while await relay.drain_once():
                pass
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [asyncio.create_task(relay.run_forever())]
        if settings.reconcile_interval_s > 0:
            tasks.append(asyncio.create_task(Reconciler(runtime).run_forever()))
        print(json.dumps({"event": "ready", "service": "outbox-relay"}), flush=True)
        await stop.wait()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
        return 0
    finally:
        await close_runtime(runtime)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        settings = Settings.from_env(dict(os.environ)).replace(
            db_url=args.db_url, calendar_url=args.calendar_url, log_level=args.log_level
        )
    except SettingsError as exc:
        print(f"python -m service.relay: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    unknown = unknown_variables(os.environ)
    if unknown:
        logging.getLogger("service.relay").warning(
            "environment variables no setting reads (typos?)", extra={"variables": unknown}
        )
    try:
        return asyncio.run(run(settings, args))
    except (SettingsError, ValueError) as exc:
        print(f"python -m service.relay: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"python -m service.relay: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
