"""Real mode over a list of scenarios: one live stack for the run, a fresh service per scenario.

Owns the stack's lifetime (started once, stopped whatever happens) and the per-scenario loop with
its progress lines. I/O through `scenarios.stack` and `scenarios.real_mode`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contract.spec import Scenario
from scenarios.real_mode import run_scenario
from scenarios.stack import LiveStack, StackOptions


def run_all_real(
    scenarios: list[Scenario],
    args: argparse.Namespace,
    run_dir: Path,
    progress: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    seed = args.seed if args.seed is not None else 1
    options = StackOptions(
        run_dir=run_dir,
        seed=seed,
        db_url=args.db_url,
        target_url=args.target_url,
        api_key=args.api_key,
    )
    stack = LiveStack(options)
    entries: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    try:
        progress("starting the stack (fake provider, toxiproxy)...")
        stack.start()
        if args.target_url:
            progress(
                f"testing {args.target_url}: point its calendar at {stack.calendar_url_via_proxy} "
                "(the fake provider behind the proxy) so provider faults and checks apply"
            )
        for number, scenario in enumerate(scenarios, 1):
            scenario_seed = args.seed if args.seed is not None else scenario.seed
            print(
                f"[{number}/{len(scenarios)}] {scenario.name}: {scenario.description} "
                f"(~{scenario.run_s:.0f} s)",
                flush=True,
            )
            t0 = time.monotonic()
            result = run_scenario(scenario, stack, scenario_seed, run_dir, progress, args.api_key)
            entries.append(result.entry)
            notes[scenario.name] = result.notes
            verdict = "PASS" if result.entry["passed"] else "FAIL"
            progress(f"{verdict} in {time.monotonic() - t0:.1f} s")
    finally:
        stack.stop()
    return entries, notes
