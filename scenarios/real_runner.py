"""The real-mode runner's public entry: run scenarios against a live stack, get their results.

What the command line and capacity planning call, and the only module of `scenarios/` they
import (import-linter holds capacity to it). `LiveSession` starts the stack (fake provider,
Toxiproxy) once, runs scenarios on it one after another, each on a fresh service, and stops
everything on the way out, whatever happens; `run_all_real` is the catalog run's loop with its
progress lines. A `RealRun` carries what a caller needs of one run: its results entry (judged by
`contract.results`), its notes, its event log's records and its folder.

Errors: `HarnessError` (the harness could not run: a port taken, a process that did not start)
and `TerminationRequested` (SIGTERM), both exit code 2 at the command line.
I/O: the live stack's processes, loopback HTTP and the run folder, through `scenarios.stack` and
`scenarios.real_mode`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from contract.spec import Scenario
from scenarios.processes import HarnessError, TerminationRequested, install_sigterm_handler
from scenarios.real_mode import RealRun, run_scenario
from scenarios.stack import LiveStack, StackOptions

__all__ = [
    "HarnessError",
    "LiveSession",
    "RealRun",
    "RealRunOptions",
    "TerminationRequested",
    "install_sigterm_handler",
    "run_all_real",
]


@dataclass(frozen=True)
class RealRunOptions:
    """Where the runs go: the service's database (None: SQLite per scenario), another service
    to test instead of starting ours, and the bearer key it wants."""

    db_url: str | None = None
    target_url: str | None = None
    api_key: str | None = None


class LiveSession:
    """One live stack for several scenario runs: `with LiveSession(...) as live: live.run(s)`."""

    def __init__(
        self,
        options: RealRunOptions,
        run_dir: Path,
        progress: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.options = options
        self.run_dir = run_dir
        self.progress = progress
        self._stack = LiveStack(
            StackOptions(
                run_dir=run_dir,
                db_url=options.db_url,
                target_url=options.target_url,
                api_key=options.api_key,
            )
        )

    def __enter__(self) -> LiveSession:
        try:
            self.progress("starting the stack (fake provider, toxiproxy)...")
            self._stack.start()
        except BaseException:
            self._stack.stop()
            raise
        if self.options.target_url:
            self.progress(
                f"testing {self.options.target_url}: point its calendar at "
                f"{self._stack.calendar_url_via_proxy} (the fake provider behind the proxy) so "
                "provider faults and checks apply"
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stack.stop()

    def run(self, scenario: Scenario, seed: int) -> RealRun:
        """One scenario on the stack, from a fresh service to its judged results entry; `seed`
        is the run seed every component's seed is derived from (`contract.seeds`)."""
        return run_scenario(
            scenario, self._stack, seed, self.run_dir, self.progress, self.options.api_key
        )


def run_all_real(
    scenarios: Sequence[Scenario],
    options: RealRunOptions,
    seed_override: int | None,
    run_dir: Path,
    progress: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Every scenario on one live stack, with progress lines; their results entries and notes."""
    entries: list[dict[str, Any]] = []
    notes: dict[str, list[str]] = {}
    with LiveSession(options, run_dir, progress) as live:
        for number, scenario in enumerate(scenarios, 1):
            seed = seed_override if seed_override is not None else scenario.seed
            print(
                f"[{number}/{len(scenarios)}] {scenario.name}: {scenario.description} "
                f"(~{scenario.run_s:.0f} s)",
                flush=True,
            )
            t0 = time.monotonic()
            result = live.run(scenario, seed)
            entries.append(result.entry)
            notes[scenario.name] = result.notes
            verdict = "PASS" if result.entry["passed"] else "FAIL"
            progress(f"{verdict} in {time.monotonic() - t0:.1f} s")
    return entries, notes
