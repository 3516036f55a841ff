"""CPU cost per request of each process of the live stack: service, fake provider, proxy.

Usage: `.venv/bin/python benchmarks/stack_cpu.py [--requests 1500] [--concurrency 10] [--rounds 3]
[--db-url URL] [--workers N]`

Why CPU and not latency: on this 2-core machine the load generator, the service, the proxy and the
fake provider share the cores, so the rate at which the healthy path still holds its p95 is set by
how many CPU milliseconds one request costs across all of them. This prints those milliseconds,
per process, from /proc (utime + stime), around a bounded burst of healthy requests (create:get
8:2, the capacity ramp's mix, the same request streams as the runner) sent over loopback by this
script at a fixed concurrency. The sender's own CPU is printed too but is not Locust's.
It also prints the ceiling those figures imply: 2 cores / total CPU per request. Medians of the
rounds; each round starts a fresh service on a fresh database (the provider and proxy stay up).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.workload import ClientStream, WorkloadConfig  # noqa: E402
from scenarios.stack import LiveStack, StackOptions  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    """utime + stime of one process, in milliseconds (children not included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / TICKS


def self_cpu_ms() -> float:
    times = os.times()
    return (times.user + times.system) * 1000.0


async def burst(base_url: str, total: int, concurrency: int, seed: int) -> tuple[int, float]:
    """`total` requests from `concurrency` client streams; returns (non-2xx count, wall seconds)."""
    config = WorkloadConfig(
        scenario="stack_cpu", seed=seed, resources=50, mix={"create": 8, "get": 2}
    )
    streams = [ClientStream(config, client) for client in range(concurrency)]
    remaining = [total]
    failures = [0]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def client(stream: ClientStream) -> None:
            while remaining[0] > 0:
                remaining[0] -= 1
                planned = stream.next_request()
                headers = (
                    {"Idempotency-Key": planned.idempotency_key} if planned.idempotency_key else {}
                )
                async with session.request(
                    planned.method, planned.path, json=planned.body, headers=headers
                ) as response:
                    text = await response.text()
                appointment_id = None
                if response.status < 300:
                    appointment_id = json.loads(text).get("id")
                else:
                    failures[0] += 1
                stream.record(planned, response.status, appointment_id)

        started = time.perf_counter()
        await asyncio.gather(*(client(s) for s in streams))
        return failures[0], time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db-url", default=None, help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before measuring")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a service setting (as a scenario's settings:), e.g. --set log_level=WARNING",
    )
    parser.add_argument(
        "--py-spy",
        metavar="EXE",
        help="a py-spy executable: record the service during round 1 into service-<pid>.txt"
        " (collapsed stacks) in the current folder",
    )
    args = parser.parse_args()
    rows: dict[str, list[float]] = {}
    settings: dict[str, str | float] = {"relay_poll_s": 0.2}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--set wants NAME=VALUE, got {item!r}")
        settings[name] = value
    with tempfile.TemporaryDirectory(prefix="stack-cpu-") as tmp:
        stack = LiveStack(StackOptions(run_dir=Path(tmp), db_url=args.db_url)).start()
        try:
            names = {"provider": stack.group.processes[0], "proxy": stack.group.processes[1]}
            for round_no in range(1, args.rounds + 1):
                stack.reset_faults(round_no, toxics=False)
                supervisor = stack.start_service(f"round{round_no}", settings, round_no)
                assert supervisor is not None
                supervisor.wait_ready()
                procs = {**names, "service": supervisor.process}
                asyncio.run(burst(supervisor.url, args.warmup, args.concurrency, seed=round_no))
                before = {name: cpu_ms(p.pid) for name, p in procs.items()}
                sender_before = self_cpu_ms()
                spy = None
                if args.py_spy and round_no == 1:
                    spy = subprocess.Popen(
                        [
                            args.py_spy,
                            "record",
                            "--pid",
                            str(procs["service"].pid),
                            "--rate",
                            "500",
                            "--format",
                            "raw",
                            "-o",
                            f"service-{procs['service'].pid}.txt",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    time.sleep(1.0)  # py-spy attaches
                failures, wall = asyncio.run(
                    burst(supervisor.url, args.requests, args.concurrency, seed=1000 + round_no)
                )
                after = {name: cpu_ms(p.pid) for name, p in procs.items()}
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                    spy.wait(timeout=30)
                sender = (self_cpu_ms() - sender_before) / args.requests
                per = {name: (after[name] - before[name]) / args.requests for name in procs}
                per["sender (not Locust)"] = sender
                per["wall rps"] = args.requests / wall
                for name, value in per.items():
                    rows.setdefault(name, []).append(value)
                print(
                    f"round {round_no}: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in per.items())
                    + f", non-2xx {failures}",
                    flush=True,
                )
                supervisor.stop()
        finally:
            stack.stop()
    print(
        f"\nCPU ms per request, median of {args.rounds} rounds, {args.requests} requests each,"
        f" concurrency {args.concurrency}, create:get 8:2"
    )
    stack_total = 0.0
    for name in ("service", "provider", "proxy"):
        value = statistics.median(rows[name])
        stack_total += value
        print(f"  {name:<22} {value:6.2f} ms")
    print(f"  {'sender (not Locust)':<22} {statistics.median(rows['sender (not Locust)']):6.2f} ms")
    print(
        f"  {'stack total':<22} {stack_total:6.2f} ms  → 2 cores / total ≈ "
        f"{2000 / stack_total:.0f} rps before the load generator takes its share"
    )
    print(
        f"  service alone: one core / service ≈ {1000 / statistics.median(rows['service']):.0f} rps"
    )
    print(f"  achieved rps in the burst (median): {statistics.median(rows['wall rps']):.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
