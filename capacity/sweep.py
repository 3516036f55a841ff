"""A capacity sweep of the twin: one plain task per grid point, run on a process pool.

Owns turning (scenarios, axes, seed, twin parameters) into `SweepTask`s, running one task
(`run_task`: the twin, then `compute_metrics` and the scenario's own SLOs, into one row of the
sweep table) and running a task list on `concurrent.futures.ProcessPoolExecutor` over the cores.

A task is plain data — the scenario as its JSON document, the seed, the overrides, the twin
parameters, the configuration's label — and `run_task` is a module-level function of it alone,
so the same list can go to an existing cluster engine unchanged (DESIGN §9), e.g.
`dask.bag.from_sequence(map(dataclasses.asdict, tasks)).map(run_task)` or
`ray.get([ray.remote(run_task).remote(t) for t in tasks])`. No scheduler is built here.

Each run is deterministic (`sim.simulate`), so a sweep's rows are a function of its tasks: two
sweeps of one grid and seed give the same table, whatever the number of workers.
I/O: none (the pool's processes only); the table is written by `capacity.sweep_table`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from capacity.sweep_grid import RATE_KEY, SweepAxis, SweepSpecError, build_grid
from contract.assertions import SloAssertion, evaluate_assertions
from contract.evidence import RunEvidence, compute_metrics
from contract.spec import Scenario
from sim.config import TwinParams, apply_overrides
from sim.service_settings import settings_problems
from sim.twin import simulate

#: Columns every row has, in the order `reports.capacity_data` documents; then the extras.
TABLE_COLUMNS = (
    "config",
    "rate_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "success_rate",
    "backlog_max",
    "retries_per_request",
)
EXTRA_COLUMNS = ("scenario", "seed", "requests", "achieved_rps", "slo_passed", "failed_slos")


@dataclass(frozen=True)
class SweepTask:
    """One grid point: everything a worker needs, as plain (JSON-able, picklable) data."""

    index: int
    config: str  # the configuration's label: the non-rate overrides (and the scenario's name)
    scenario: dict[str, Any]  # `Scenario.model_dump(mode="json")` of the scenario file
    seed: int
    overrides: dict[str, Any]
    params: dict[str, Any]  # `TwinParams` fields


class SweepTaskError(RuntimeError):
    """A grid point the twin could not run; names the point."""


def plan_tasks(
    scenarios: Sequence[Scenario],
    axes: Sequence[SweepAxis],
    seed: int | None,
    params: TwinParams,
) -> list[SweepTask]:
    """The task list of a sweep: every scenario at every grid point.

    Every value of every axis is first applied alone to every scenario, so a bad key or value
    fails here, naming it, before anything runs. `seed` None: each scenario's own seed.
    """
    for scenario in scenarios:
        for axis in axes:
            check_axis(scenario, axis, params)
    grid = build_grid(axes)
    params_data = dataclasses.asdict(params)
    tasks: list[SweepTask] = []
    for scenario in scenarios:
        data = scenario.model_dump(mode="json", exclude_unset=True, exclude_none=True)
        for point in grid:
            label = config_label(point, scenario.name if len(scenarios) > 1 else None)
            tasks.append(
                SweepTask(
                    index=len(tasks),
                    config=label or scenario.name,
                    scenario=data,
                    seed=scenario.seed if seed is None else seed,
                    overrides=dict(point),
                    params=params_data,
                )
            )
    return tasks


def check_axis(scenario: Scenario, axis: SweepAxis, params: TwinParams) -> None:
    """SweepSpecError unless every value of `axis` is a valid override of `scenario`."""
    head, _, name = axis.key.partition(".")
    for value in axis.values:
        try:
            swept, _ = apply_overrides(scenario, {axis.key: value}, params)
        except ValueError as exc:  # pydantic's ValidationError and ScenarioError are ValueErrors
            first = str(exc).strip().splitlines()
            raise SweepSpecError(
                f"--sweep {axis.key}={value!r} does not apply to scenario '{scenario.name}': "
                f"{' '.join(first[:3])}"
            ) from exc
        if head == "settings":
            # The check every scenario file passes on load: names, types, the service's rules.
            for problem in settings_problems(swept.settings):
                raise SweepSpecError(
                    f"--sweep {axis.key}={value!r}: settings.{problem.name} {problem.message}"
                )


def config_label(point: Mapping[str, Any], scenario_name: str | None = None) -> str:
    """A configuration's label: its non-rate overrides, e.g. 'retry_max_attempts=3 users=200'
    (`settings.` and `load.` dropped, `twin.` kept), after the scenario's name when given."""
    parts = [scenario_name] if scenario_name else []
    for key, value in point.items():
        if key == RATE_KEY:
            continue
        short = key.split(".", 1)[1] if key.startswith(("settings.", "load.")) else key
        shown = str(value).lower() if isinstance(value, bool) else value
        parts.append(f"{short}={shown}")
    return " ".join(parts)


def run_task(task: SweepTask | Mapping[str, Any]) -> dict[str, Any]:
    """Run one grid point in the twin and return its row of the sweep table.

    Accepts the task or its `dataclasses.asdict` form (what a cluster engine may hand back).
    Columns: `TABLE_COLUMNS`, then `EXTRA_COLUMNS`, then one per override key.
    """
    if not isinstance(task, SweepTask):
        task = SweepTask(**task)
    base = Scenario.model_validate(task.scenario)
    scenario, params = apply_overrides(base, task.overrides, TwinParams(**task.params))
    evidence = simulate(scenario, task.seed, params=params)
    metrics = compute_metrics(evidence)
    recorded = {phase.name for phase in evidence.phases}
    # A phase SLO (e.g. `latency_ms.p95[phase=rps_300]`) judges a load shape; a constant swept
    # rate has no such phase, so it does not apply, rather than failing every point.
    applicable = [a for a in scenario.assertions() if _applies(a, recorded)]
    failed = [
        r.expression for r in evaluate_assertions(applicable, evidence, metrics) if not r.passed
    ]
    requests = metrics["requests"]
    total = requests["total"]
    latency = metrics["latency_ms"]
    row: dict[str, Any] = {
        "config": task.config,
        "rate_rps": _round(offered_rate(scenario), 6),
        "p50_ms": _round(latency["p50"], 3),
        "p95_ms": _round(latency["p95"], 3),
        "p99_ms": _round(latency["p99"], 3),
        "success_rate": _round(requests["success_rate"] or 0.0, 6),
        "backlog_max": metrics["outbox"]["backlog_max"] or 0,
        "retries_per_request": _round(
            (metrics["retries"]["retries_total"] or 0) / total if total else 0.0, 6
        ),
        "scenario": scenario.name,
        "seed": task.seed,
        "requests": total,
        "achieved_rps": _round(achieved_rate(evidence), 3),
        "slo_passed": not failed,
        "failed_slos": "; ".join(failed),
    }
    for key, value in task.overrides.items():
        row.setdefault(key, value)
    return row


def achieved_rate(evidence: RunEvidence) -> float:
    """Requests a second that started within the load window. The users send each request at
    its due time or, when behind, as soon as their previous answer came; an overloaded service
    therefore pushes requests past the window's end rather than lengthening their latency, and
    this is where it shows."""
    window = evidence.duration_s
    started = sum(1 for r in evidence.requests if r.start_s < window)
    return started / window if window > 0 else 0.0


def offered_rate(scenario: Scenario) -> float:
    """The rate the load offers: its constant rate, or its shape's time-weighted mean."""
    load = scenario.load
    if load.rate_rps is not None:
        return float(load.rate_rps)
    steps = sorted(load.shape or [], key=lambda s: s.at_s)
    total = 0.0
    for step, after in zip(steps, [*steps[1:], None], strict=True):
        end = after.at_s if after is not None else load.duration_s
        total += step.rate_rps * max(0.0, min(end, load.duration_s) - step.at_s)
    return total / load.duration_s if load.duration_s else 0.0


def run_tasks(
    tasks: Sequence[SweepTask],
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every task's row, in task order, computed on `workers` processes (default: all cores;
    1 runs them here, in this process). `progress(done, total)` follows completions.

    A task that raises stops the sweep with SweepTaskError naming its overrides; Ctrl-C cancels
    the tasks not yet started and propagates.
    """
    total = len(tasks)
    workers = max(1, min(workers or os.cpu_count() or 1, total or 1))
    rows: list[dict[str, Any] | None] = [None] * total
    if workers == 1:
        for done, task in enumerate(tasks, 1):
            rows[done - 1] = _run_named(task)
            if progress:
                progress(done, total)
        return [row for row in rows if row is not None]
    pool = ProcessPoolExecutor(max_workers=workers)
    try:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(run_task, task): i for i, task in enumerate(tasks)
        }
        for done, future in enumerate(as_completed(pending), 1):
            index = pending[future]
            error = future.exception()
            if error is not None:
                raise _task_error(tasks[index], error) from error
            rows[index] = future.result()
            if progress:
                progress(done, total)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [row for row in rows if row is not None]


def _run_named(task: SweepTask) -> dict[str, Any]:
    try:
        return run_task(task)
    except Exception as exc:  # noqa: BLE001 - re-raised with the point's name
        raise _task_error(task, exc) from exc


def _task_error(task: SweepTask, error: BaseException) -> SweepTaskError:
    name = task.scenario.get("name", "?")
    return SweepTaskError(
        f"sweep point {task.index} (scenario '{name}', seed {task.seed}, overrides "
        f"{task.overrides}) failed: {type(error).__name__}: {error}"
    )


def _applies(assertion: SloAssertion, recorded: set[str]) -> bool:
    return assertion.phase is None or assertion.phase in recorded


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
