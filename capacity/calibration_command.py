"""`./run_scenarios.py --calibrate [--fit]`: the twin held against this machine's real stack.

Owns the sequence. Real side: the scenario (healthy) at each level (`capacity.calibration`), each
level `--calibrate-repeats` times, interleaved (20%, 50%, 80%, 20%, ...) so a change in the
machine's load falls on every level alike, on one live stack with a fresh service per run
(`scenarios.real_runner.LiveSession`, the real runner's public entry); the load average is read before each run. Or, with
`--real-from RUN_DIR` (repeatable), earlier calibrations' real runs, several sessions pooled
(`merge_measured`): a fit over sessions with different neighbours on the machine describes
the machine better than one session does. Twin side: the same renamed scenarios
and seed through `sim.simulate`. Then the comparison table, and with `--fit` the fit
(`capacity.calibration_fit`) from the runs' own logs (`capacity.service_log_breakdown`) and their levels,
saved (`capacity.params_file`) and compared again.

Writes into `runs/<run-id>/`: the real runs' folders and `results_post.json` (so
`python -m reports runs/<id>/results_post.json --calibration runs/<id>/calibration.json` draws
it), `calibration_real.json` (what `--real-from` reads back) and `calibration.json` (the
report's format). Exit codes: 0 the p95 target was met at every level, 1 it was not, 2 the
calibration could not run. I/O: the live stack, the run folder, the params file, /proc/loadavg.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from capacity.calibration import (
    DEFAULT_RATE_RPS,
    P95_TOLERANCE,
    WARMUP_S,
    Level,
    LevelComparison,
    RunLatency,
    calibration_document,
    format_comparison,
    level_duration_s,
    level_scenario,
    level_stats,
    plan_levels,
    run_from_json,
    run_json,
    run_scenario_for,
    saturation_note,
    within_target,
)
from capacity.calibration_fit import Fit, estimate_from_breakdown, fit_levels
from capacity.params_file import (
    DEFAULTS_WORDS,
    ChosenParams,
    ParamsFileError,
    choose_params,
    host_params_path,
    params_document,
    save_params,
)
from capacity.service_log_breakdown import Breakdown, median_breakdown, read_breakdown
from contract.event_log import write_atomic
from contract.results import RunInfo, build_results, write_results
from contract.run_facts import git_revision, host_name, new_run_id, timestamp
from contract.spec import Scenario
from scenarios.real_runner import (
    HarnessError,
    LiveSession,
    RealRunOptions,
    TerminationRequested,
)
from sim.config import TwinParams
from sim.twin import simulate

REAL_FILE = "calibration_real.json"
LoadAvg = tuple[float, float, float]
#: Runs per level, by the level's fraction.
RealRuns = dict[float, list[RunLatency]]


@dataclass(frozen=True)
class Measured:
    """The real side of a calibration, and what the twin needs to replay it."""

    base: Scenario
    levels: tuple[Level, ...]
    duration_s: float
    seed: int
    real: RealRuns
    breakdowns: dict[float, Breakdown]
    warmup_s: float = WARMUP_S  # the real runs' requests before this were left out (0: none)

    def predict(self, params: TwinParams) -> RealRuns:
        """The twin's run of each real run's scenario (same name, rate, duration and seed)."""
        predicted: RealRuns = {}
        for level in self.levels:
            runs = []
            done: dict[str, RunLatency] = {}  # merged sessions repeat names: one twin run each
            for measured in self.real[level.fraction]:
                run = done.get(measured.scenario)
                if run is None:
                    scenario = run_scenario_for(
                        self.base, level.rate_rps, self.duration_s, measured.scenario
                    )
                    evidence = simulate(scenario, self.seed, params=params)
                    run = done[scenario.name] = RunLatency.from_records(
                        scenario.name, evidence.requests, warmup_s=self.warmup_s
                    )
                runs.append(run)
            predicted[level.fraction] = runs
        return predicted

    def compare(self, params: TwinParams) -> list[LevelComparison]:
        sim = self.predict(params)
        return [
            LevelComparison(lv, tuple(self.real[lv.fraction]), tuple(sim[lv.fraction]))
            for lv in self.levels
        ]

    def fit(self, start: TwinParams) -> tuple[Fit, list[str]]:
        """Step 1 from the lowest level's breakdown, step 2 over every level."""
        lowest = min(self.levels, key=lambda lv: lv.rate_rps)
        # The spread starts from the default, not from an earlier fit, so a fit depends on the
        # runs alone (the costs are all re-read from the logs in step 1).
        start = dataclasses.replace(start, cpu_sigma=TwinParams().cpu_sigma)
        estimate, notes = estimate_from_breakdown(self.breakdowns[lowest.fraction], start)
        measured = [level_stats(self.real[lv.fraction]) for lv in self.levels]

        def predict(params: TwinParams) -> list[dict[str, tuple[float, float]]]:
            runs = self.predict(params)
            return [level_stats(runs[lv.fraction]) for lv in self.levels]

        return fit_levels(estimate, measured, predict), notes

    def load_span(self) -> tuple[LoadAvg | None, LoadAvg | None]:
        """The load average before the first and before the last real run."""
        loads = [r.load_avg for runs in self.real.values() for r in runs if r.load_avg]
        return (loads[0], loads[-1]) if loads else (None, None)


@dataclass(frozen=True)
class CalibrationOptions:
    """A calibration as the command line asks for it."""

    runs_dir: Path  # the run folder goes under it
    seed: int | None = None  # None: the scenario's own
    fit: bool = False  # also fit the twin's service times and save them
    calibrate_rate: float | None = None  # the 100% level; None: DEFAULT_RATE_RPS
    calibrate_repeats: int = 3  # real runs per level
    real_from: tuple[Path, ...] = ()  # earlier calibrations' run folders to reuse
    twin_params: str | None = None  # a path, "none", or None for the host's saved file
    real: RealRunOptions = RealRunOptions()  # where the real runs go


def run_calibration_command(args: CalibrationOptions, scenarios: Sequence[Scenario]) -> int:
    base = scenarios[0]
    host = host_name()
    seed = args.seed if args.seed is not None else base.seed
    measured: Measured | None = None
    try:
        chosen = _starting_params(args, host)
        if args.real_from:
            saved = merge_measured([read_real_runs(d, base, args.seed) for d in args.real_from])
            measured, levels, duration_s, seed = saved, saved.levels, saved.duration_s, saved.seed
        else:
            levels = tuple(plan_levels(args.calibrate_rate or DEFAULT_RATE_RPS))
            duration_s = level_duration_s(base, levels, WARMUP_S)
    except (ParamsFileError, ValueError) as exc:
        print(f"run_scenarios.py: {exc}", file=sys.stderr)
        return 2
    run_id = new_run_id()
    run_dir: Path = args.runs_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ["RUN_SCENARIOS_RUN_DIR"] = str(run_dir)  # as the runner: children are findable
    full_rate = levels[-1].rate_rps / levels[-1].fraction
    print(
        f"rehearsal calibration {run_id}: {base.name} at "
        f"{', '.join(f'{lv.rate_rps:g}' for lv in levels)} rps "
        f"({'/'.join(lv.label for lv in levels)} of {full_rate:g} rps), {duration_s:g} s each, "
        f"seed {seed}, folder {run_dir}"
    )
    warmup_s = measured.warmup_s if measured is not None else WARMUP_S
    if warmup_s:
        print(
            f"  each run's first {warmup_s:g} s is left out on both sides (a fresh service warms up)"
        )
    print(f"  {chosen.describe()}")
    if measured is None:
        print(f"  load average at start: {_show_load(load_average())} on {os.cpu_count()} cores")
        try:
            measured = measure_real(base, levels, duration_s, args, seed, run_dir)
        except HarnessError as exc:
            print(f"\nrun_scenarios.py: the harness could not run: {exc}", file=sys.stderr)
            return 2
        except (KeyboardInterrupt, TerminationRequested):
            print(
                "\nrun_scenarios.py: interrupted; every child process was stopped", file=sys.stderr
            )
            return 2
        _write_json(run_dir / REAL_FILE, real_runs_json(measured))
    else:
        for folder in args.real_from:
            print(f"  real runs: {folder / REAL_FILE} (not run again)")
    final = measured.compare(chosen.params)
    repeats = len(measured.real[levels[0].fraction])
    print(f"\nreal (median of {repeats} run(s) per level) vs twin ({chosen.source}):")
    print(format_comparison(final))
    saturated = saturation_note(final)
    if saturated:
        print(f"note: {saturated}")
    params, params_path = chosen.params, chosen.path
    if args.fit:
        params_path = _save_path(args.twin_params, host)
        params, final = fit_and_save(
            measured, chosen.params, params_path, host, list(args.real_from) or [run_dir]
        )
    met = within_target(final)
    load_first, load_last = measured.load_span()
    about = {
        "seed": seed,
        "host": host,
        "twin_params": str(params_path) if params_path else "defaults",
        "params": dataclasses.asdict(params),
        "repeats": repeats,
        "duration_s": duration_s,
        "warmup_s": measured.warmup_s,
        "load_avg": {"first_run": load_first, "last_run": load_last},
        "target_p95_tolerance": P95_TOLERANCE,
        "target_met": met,
    }
    calibration_path = run_dir / "calibration.json"
    _write_json(calibration_path, calibration_document(base.name, final, about))
    print(
        f"\nload average (1/5/15 min) before the first real run {_show_load(load_first)}, "
        f"before the last {_show_load(load_last)}"
    )
    print(f"p95 within ±{P95_TOLERANCE:.0%} at every level: {'met' if met else 'NOT met'}")
    print(f"calibration: {calibration_path}")
    results = run_dir / "results_post.json"
    if results.exists():
        print(f"plot:        python -m reports {results} --calibration {calibration_path}")
    return 0 if met else 1


def fit_and_save(
    measured: Measured, start: TwinParams, path: Path, host: str, sources: Sequence[Path]
) -> tuple[TwinParams, list[LevelComparison]]:
    """`--fit`: fit, save the file, print what changed and the comparison it gives (in sample:
    judged on the runs it was fitted to; a later `--calibrate` judges it on fresh runs)."""
    fit, notes = measured.fit(start)
    final = measured.compare(fit.params)
    load_first, load_last = measured.load_span()
    about = {
        "knobs": fit.knobs,
        "loss": round(fit.loss, 5),
        "evaluations": fit.evaluations,
        "breakdown": {str(k): b.as_json() for k, b in measured.breakdowns.items()},
        "notes": notes,
        "in_sample_p50_error_pct": [round(c.p50_error_pct, 1) for c in final],
        "in_sample_p95_error_pct": [round(c.p95_error_pct, 1) for c in final],
        "levels_rps": [lv.rate_rps for lv in measured.levels],
        "load_avg": {"first_run": load_first, "last_run": load_last},
    }
    fitted_at = timestamp()
    document = params_document(
        fit.params,
        host=host,
        fitted_at=fitted_at,
        source=", ".join(str(source) for source in sources),
        fit=about,
    )
    save_params(path, document)
    for note in notes:
        print(f"  note: {note}")
    print(f"\nfitted ({fit.evaluations} twin evaluations, knobs {fit.knobs}):")
    print(format_params(start, fit.params))
    print(f"saved:  {path}")
    print("\nreal vs twin with the fitted parameters (in sample: the runs it was fitted to):")
    print(format_comparison(final))
    return fit.params, final


def measure_real(
    base: Scenario,
    levels: Sequence[Level],
    duration_s: float,
    args: CalibrationOptions,
    seed: int,
    run_dir: Path,
) -> Measured:
    """Every level `args.calibrate_repeats` times on one live stack, interleaved; also writes
    the runs' results_post.json. Each level's breakdown pools its runs' logs."""
    plan = [
        (level, level_scenario(base, level, repeat, duration_s))
        for repeat in range(1, args.calibrate_repeats + 1)
        for level in levels
    ]
    real: RealRuns = {level.fraction: [] for level in levels}
    entries = []
    started = timestamp()
    t0 = time.monotonic()
    print("  starting the stack (fake provider, toxiproxy)...", flush=True)
    with LiveSession(args.real, run_dir) as live:  # each run's own progress lines: not shown
        for number, (level, scenario) in enumerate(plan, 1):
            load = load_average()
            result = live.run(scenario, seed)
            entries.append(result.entry)
            if not result.requests:
                raise HarnessError(f"{scenario.name}: no requests; see {result.folder}")
            run = RunLatency.from_records(scenario.name, result.requests, load, WARMUP_S)
            real[level.fraction].append(run)
            print(
                f"  [{number}/{len(plan)}] {scenario.name}: {run.requests} requests, "
                f"p50 {run.p50_ms:.1f} ms, p95 {run.p95_ms:.1f} ms (load before {_show_load(load)})",
                flush=True,
            )
    info = RunInfo(
        id=run_dir.name,
        mode="real",
        seed=seed,
        started_at=started,
        duration_s=round(time.monotonic() - t0, 3),
        git_revision=git_revision(),
        host=host_name(),
    )
    write_results(run_dir / "results_post.json", build_results(info, entries))
    breakdowns = {
        level.fraction: read_breakdown(run_dir / r.scenario for r in real[level.fraction])
        for level in levels
    }
    return Measured(base, tuple(levels), duration_s, seed, real, breakdowns)


def real_runs_json(measured: Measured) -> dict[str, Any]:
    """What `--real-from` reads back: every real run's latencies and each level's breakdown."""
    return {
        "scenario": measured.base.name,
        "seed": measured.seed,
        "duration_s": measured.duration_s,
        "warmup_s": measured.warmup_s,
        "levels": [
            {
                "fraction": lv.fraction,
                "rate_rps": lv.rate_rps,
                "runs": [run_json(r, with_latencies=True) for r in measured.real[lv.fraction]],
                "breakdown": measured.breakdowns[lv.fraction].as_json(),
            }
            for lv in measured.levels
        ],
    }


def read_real_runs(run_dir: Path, base: Scenario, seed: int | None = None) -> Measured:
    """An earlier calibration's real runs (`calibration_real.json` in `run_dir`). The twin
    replays them with their own seed unless `seed` is given."""
    path = run_dir / REAL_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data["scenario"] != base.name:
            raise ValueError(f"it calibrated '{data['scenario']}', not '{base.name}'")
        levels = []
        real: RealRuns = {}
        breakdowns: dict[float, Breakdown] = {}
        for level in data["levels"]:
            fraction = float(level["fraction"])
            levels.append(Level(fraction, float(level["rate_rps"])))
            real[fraction] = [run_from_json(r) for r in level["runs"]]
            breakdowns[fraction] = Breakdown.from_json(level.get("breakdown", {}))
        duration_s = float(data["duration_s"])
        saved_seed = int(data["seed"])
        warmup_s = float(data.get("warmup_s", 0.0))  # folders from before the warm-up: none
    except FileNotFoundError as exc:
        raise ValueError(
            f"--real-from {run_dir}: no {REAL_FILE} there (a --calibrate run folder has one)"
        ) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"--real-from {path}: cannot be read back ({exc})") from exc
    if not levels:
        raise ValueError(f"--real-from {path}: no levels")
    return Measured(
        base,
        tuple(levels),
        duration_s,
        saved_seed if seed is None else seed,
        real,
        breakdowns,
        warmup_s,
    )


def merge_measured(sessions: Sequence[Measured]) -> Measured:
    """Several calibration sessions' real runs as one (same scenario, levels, duration and
    seed): each level's runs together, each breakdown field the median of the sessions'."""
    first = sessions[0]
    for other in sessions[1:]:
        same = (other.base.name, other.levels, other.duration_s, other.seed, other.warmup_s)
        if same != (first.base.name, first.levels, first.duration_s, first.seed, first.warmup_s):
            raise ValueError(
                "--real-from: the sessions differ in scenario, levels, duration, seed or warm-up; "
                "give sessions of one --calibrate-rate and --seed, made by one version"
            )
    if len(sessions) == 1:
        return first
    real = {lv.fraction: [r for s in sessions for r in s.real[lv.fraction]] for lv in first.levels}
    breakdowns = {
        lv.fraction: median_breakdown([s.breakdowns[lv.fraction] for s in sessions])
        for lv in first.levels
    }
    return dataclasses.replace(first, real=real, breakdowns=breakdowns)


def format_params(before: TwinParams, after: TwinParams) -> str:
    lines = [f"  {'parameter':20} {'before':>9} {'fitted':>9}"]
    for f in dataclasses.fields(TwinParams):
        old, new = getattr(before, f.name), getattr(after, f.name)
        if old != new:
            lines.append(f"  {f.name:20} {old:>9.4g} {new:>9.4g}")
    return "\n".join(lines)


def load_average() -> LoadAvg | None:
    """/proc/loadavg's 1, 5 and 15 minute averages (None where there is no /proc)."""
    try:
        fields = Path("/proc/loadavg").read_text().split()
        return float(fields[0]), float(fields[1]), float(fields[2])
    except (OSError, ValueError, IndexError):
        return None


def _starting_params(args: CalibrationOptions, host: str) -> ChosenParams:
    """The parameters the twin predicts with before any fit. With --fit, a --twin-params path that
    does not exist yet is where the fit will be saved, not an error."""
    given = args.twin_params
    if args.fit and given and given.lower() not in DEFAULTS_WORDS and not Path(given).exists():
        return choose_params("none", host)
    return choose_params(args.twin_params, host)


def _save_path(given: str | None, host: str) -> Path:
    if given is None or given.lower() in DEFAULTS_WORDS:
        return host_params_path(host)
    return Path(given)


def _show_load(load: LoadAvg | None) -> str:
    return "unknown" if load is None else " ".join(f"{v:.2f}" for v in load)


def _write_json(path: Path, document: dict[str, Any]) -> None:
    write_atomic(path, (json.dumps(document, indent=1) + "\n").encode())
