"""What `--search` leaves behind: the minimal timeline as a scenario file that replays the failure.

`write_found(result, folder)` writes `<folder>/<scenario>-<hash>.yaml`: the searched scenario with
its fault timeline replaced by the minimal one and its seed pinned (`scenario_to_yaml`, so
`load_scenario` reads it back to the very scenario that failed), under a comment saying what
fails, how it was found, how to replay it, and whether real mode can replay it. The hash is of
the file's scenario text, so one timeline always lands in one file. It keeps the scenario's
name on purpose: the name seeds the load's streams (`contract.workload`), so a renamed copy
would send other keys and slots. `replay(path)` loads the file and runs it in the twin again;
`run_search_command` is what `./run_scenarios.py --search N` runs. I/O: the folder given.
"""

from __future__ import annotations

import hashlib
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

from capacity.search import Found, SearchResult, Verdict, judge, search
from contract.fault_reach import fault_reach
from contract.fault_schedule import phase_name
from contract.spec import Scenario, load_scenario, scenario_to_yaml
from sim import simulate

#: Fault kinds the live stack can apply (Toxiproxy toxics and switch, provider profiles, crash
#: points armed through the service's admin API): everything the search draws.
REAL_TARGETS = frozenset({"network", "provider", "service"})


class ReplayMismatch(RuntimeError):
    """A written file did not fail as the search saw it fail (a bug in the twin's determinism)."""


def found_path(found: Found, folder: Path) -> Path:
    digest = hashlib.sha256(found.text.encode("utf-8")).hexdigest()[:10]
    return folder / f"{found.scenario.name}-{digest}.yaml"


def write_found(result: SearchResult, folder: Path, command: str | None = None) -> Path:
    """Write the minimal failing timeline of `result` as a scenario file; return its path.

    The file is checked before this returns: read back and run again, it must fail the same
    checks (`ReplayMismatch` otherwise)."""
    found = result.found
    if found is None:
        raise ValueError("the search found no failing timeline: there is nothing to write")
    folder.mkdir(parents=True, exist_ok=True)
    path = found_path(found, folder)
    described = found.scenario.model_copy(
        update={
            "description": f"found by --search: fails {', '.join(found.verdict.failed)}",
            "faults": _reach_declared(found.scenario),
        }
    )
    body = scenario_to_yaml(described)
    path.write_text(_header(result, found, path, command) + body, encoding="utf-8")
    replayed = replay(path)
    if replayed != found.verdict:
        raise ReplayMismatch(
            f"{path}: replayed in the twin it fails {list(replayed.failed)}, but the search saw "
            f"{list(found.verdict.failed)}; keep the file and report it (the twin must repeat)"
        )
    return path


def _reach_declared(scenario: Scenario) -> list[Any]:
    """The faults, a fault whose phase touched no request in the twin marked so
    (`reaches_requests: false`): a standing trait such as a provider that ignores keys injects
    nothing a request meets, and the file must not fail the runner's reach check for it — the
    search is about the service's invariants and SLOs, not the timeline's reach."""
    reach = {phase.name: phase for phase in fault_reach(scenario.faults, simulate(scenario))}
    marked = []
    for index, fault in enumerate(scenario.faults):
        phase = reach.get(phase_name(index, fault))
        if phase is not None and not phase.reached:
            fault = fault.model_copy(update={"reaches_requests": False})
        marked.append(fault)
    return marked


def replay(path: Path) -> Verdict:
    """Load a scenario file and judge one twin run of it."""
    return judge(load_scenario(path))


def real_mode_note(scenario: Scenario) -> str:
    """Whether (and how) real mode can replay the file's timeline."""
    if "real" not in scenario.modes:
        return "sim only: the scenario does not run in real mode (modes: sim)"
    targets = {fault.target for fault in scenario.faults}
    if not targets <= REAL_TARGETS:
        return f"sim only: no live actuator for {sorted(targets - REAL_TARGETS)}"
    return (
        "every fault can be made real (Toxiproxy toxics, provider fault profiles, crash points);"
        " provider faults are keyed per request, so real mode meets the same faults, though at"
        " wall-clock timings: a failure that hangs on one exact interleaving may need reruns"
    )


def _header(result: SearchResult, found: Found, path: Path, command: str | None) -> str:
    shown = _shown(path)
    lines = [
        f"FOUND by --search on '{result.scenario.name}' (seed {result.seed}): built to FAIL.",
        f"Fails in sim mode: {', '.join(found.verdict.failed)}",
        f"Minimal fault timeline (shrunk by Hypothesis while it kept failing {found.check}):",
        *[f"  - {line}" for line in found.described or ["none: the scenario fails as it is"]],
        f"First failing timeline, before shrinking: {'; '.join(found.first) or 'none'}",
        f"Search: {result.runs} timelines run, {result.shrinks} shrink(s)"
        + (
            " (the time limit cut it short: another machine may shrink further)"
            if result.timed_out
            else ""
        ),
    ]
    if command:
        lines.append(f"Found with: {command}")
    lines += [
        f"Replay in sim mode: ./run_scenarios.py --mode sim --scenario {shown}",
        f"Real mode: {real_mode_note(found.scenario)}",
    ]
    if real_mode_note(found.scenario).startswith("every fault"):
        lines.append(f"  ./run_scenarios.py --scenario {shown}")
    lines.append(
        "The scenario keeps its name (the name seeds the load: a renamed copy would send other"
        " keys and slots); its fault timeline replaces the searched scenario's own."
    )
    commands = ("Replay", "Found with", "  ./run_scenarios.py")  # kept whole: copied, not read
    wrapped = [
        part
        for line in lines
        for part in (
            [line]
            if line.startswith(commands)
            else textwrap.wrap(line, 97, subsequent_indent="    ")
        )
    ]
    return "".join(f"# {line}\n" for line in wrapped)


def _shown(path: Path) -> str:
    root = Path(__file__).resolve().parents[1]
    try:
        return str(path.resolve().relative_to(root))
    except ValueError:
        return str(path)


def run_search_command(
    scenario: Scenario,
    examples: int,
    seed: int | None,
    folder: Path,
    progress: Callable[[str], None],
    command: str | None = None,
    time_limit_s: float = 600.0,
) -> int:
    """`./run_scenarios.py --mode sim --scenario NAME --search N`: search, write what it finds.

    Exit code as the runner's: 1 when a failing timeline was found (and written), 0 when none,
    2 when the scenario cannot be searched (too short a load) or the search was interrupted.
    """
    try:
        result = search(scenario, examples, seed=seed, time_limit_s=time_limit_s, progress=progress)
    except ValueError as exc:
        print(f"run_scenarios.py: --search: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nrun_scenarios.py: search interrupted; nothing written", file=sys.stderr)
        return 2
    if result.found is None:
        return 0
    path = write_found(result, folder, command)
    progress(f"written: {_shown(path)} (replayed in the twin: fails the same checks)")
    progress(f"replay:  ./run_scenarios.py --mode sim --scenario {_shown(path)}")
    progress(f"real mode: {real_mode_note(result.found.scenario)}")
    return 1
