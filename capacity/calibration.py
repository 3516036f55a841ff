"""Calibration: one scenario at a few load levels, measured on the real stack and predicted by
the twin, side by side.

Owns the levels (fractions of a configured rate), the scenario run at each level and repeat,
the comparison (medians over repeats; error = (predicted − measured) / measured), the
calibration JSON `reports.capacity_data.read_calibration` reads, and the printed table.
Running either mode is the caller's (`capacity.calibration_command`); fitting is
`capacity.calibration_fit`'s. Pure: no I/O, no clock.

Each (level, repeat) runs under its own scenario name (`healthy-20pct-r1`), so every real run
gets its own folder, service and database; the twin runs the same renamed scenario with the same
seed, so both modes send the same request stream (`contract.workload` derives it from the name).

>>> [level.rate_rps for level in plan_levels(100.0)]
[20.0, 50.0, 80.0]
>>> round(error_pct(predicted=11.0, measured=10.0), 1)
10.0
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from contract.evidence import RequestRecord, percentile
from contract.spec import Scenario
from sim.config import apply_overrides

FRACTIONS = (0.2, 0.5, 0.8)
#: The 100% level. This project's 2-core machines (real stack: Locust, service, proxy and
#: provider on the same cores) differ from one session to the next: one held healthy p95 < 50 ms
#: to 425-450 rps, another (2026-11-22) was saturated at 240 rps (p50 10-50 ms, per-run p95
#: 33-115 ms) and held 160 rps at p95 11-15 ms. The levels (40/100/160 rps) stay below the knee
#: on both, where run-to-run spread is small enough to fit to; the run says when the top level
#: was saturated (`saturation_note`). On a faster machine pass a higher `--calibrate-rate`.
DEFAULT_RATE_RPS = 200.0
#: Requests each run sends at the lowest level, at least (see `level_duration_s`).
MIN_REQUESTS = 200
#: An operation enters the fit's per-operation terms with at least this many requests.
MIN_OPERATION_REQUESTS = 30
#: The target: the twin's p95 within this share of the measured p95 at every level.
P95_TOLERANCE = 0.20
#: Requests that start in a run's first `WARMUP_S` seconds are left out on both sides. Every
#: real run starts a fresh service and database (cold caches, first connections to the
#: provider); on this project's 2-core machine the first second's p95 was 1.3-8.9x the rest's
#: in 14 of 18 runs (2026-11-22), and the twin, which starts warm, does not model it.
WARMUP_S = 1.0
#: The top level's real p50 past this multiple of the lowest level's: the stack was saturated
#: there, and a fit would chase the saturation (the run says so and suggests a lower rate).
SATURATED_P50_RATIO = 3.0


@dataclass(frozen=True)
class Level:
    fraction: float
    rate_rps: float

    @property
    def label(self) -> str:
        return f"{self.fraction:.0%}"


@dataclass(frozen=True)
class RunLatency:
    """One run: every request's latency (ms, as the load driver saw it), the operation of each
    (parallel to the latencies; may be empty), and the load average before the run."""

    scenario: str
    latencies_ms: tuple[float, ...] = field(repr=False)
    load_avg: tuple[float, float, float] | None = None
    operations: tuple[str, ...] = field(default=(), repr=False)

    @classmethod
    def from_records(
        cls,
        scenario: str,
        records: Iterable[RequestRecord],
        load_avg: tuple[float, float, float] | None = None,
        warmup_s: float = 0.0,
    ) -> RunLatency:
        """The run's requests that started at or after `warmup_s` (see `WARMUP_S`)."""
        rows = [(r.latency_ms, r.operation.value) for r in records if r.start_s >= warmup_s]
        return cls(scenario, tuple(v for v, _ in rows), load_avg, tuple(op for _, op in rows))

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50) or 0.0

    @property
    def p95_ms(self) -> float:
        return percentile(self.latencies_ms, 95) or 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)


@dataclass(frozen=True)
class LevelComparison:
    """One level: measured against predicted, each the median over the level's runs of each
    run's own (nearest-rank) p50 and p95. The median, not the pooled requests: on a shared
    machine one run can meet someone else's test suite, and the median of three ignores it
    where the pooled p95 would be that run's tail. Each run sends at least `MIN_REQUESTS`
    requests (`level_duration_s`), so its own p95 is a statistic, not an anecdote."""

    level: Level
    real: tuple[RunLatency, ...]
    sim: tuple[RunLatency, ...]
    real_p50_ms: float = field(init=False)
    real_p95_ms: float = field(init=False)
    sim_p50_ms: float = field(init=False)
    sim_p95_ms: float = field(init=False)

    def __post_init__(self) -> None:
        for side in ("real", "sim"):
            runs = getattr(self, side)
            if not any(run.latencies_ms for run in runs):
                raise ValueError(f"level {self.level.label}: no {side} requests to compare")
            p50, p95 = level_percentiles(runs)
            object.__setattr__(self, f"{side}_p50_ms", p50)
            object.__setattr__(self, f"{side}_p95_ms", p95)

    @property
    def p50_error_pct(self) -> float:
        return error_pct(self.sim_p50_ms, self.real_p50_ms)

    @property
    def p95_error_pct(self) -> float:
        return error_pct(self.sim_p95_ms, self.real_p95_ms)


def level_percentiles(runs: Sequence[RunLatency]) -> tuple[float, float]:
    """The median over runs (that have requests) of each run's p50 and p95; 0 for none."""
    measured = [run for run in runs if run.latencies_ms]
    if not measured:
        return 0.0, 0.0
    return (
        statistics.median(run.p50_ms for run in measured),
        statistics.median(run.p95_ms for run in measured),
    )


def level_stats(runs: Sequence[RunLatency]) -> dict[str, tuple[float, float]]:
    """(p50, p95) under "all" as `level_percentiles`, and per operation, of the runs' requests
    pooled, for each operation with at least `MIN_OPERATION_REQUESTS` (fewer make no p95)."""
    stats = {"all": level_percentiles(runs)}
    by_operation: dict[str, list[float]] = {}
    for run in runs:
        for latency, operation in zip(run.latencies_ms, run.operations, strict=False):
            by_operation.setdefault(operation, []).append(latency)
    for operation, values in sorted(by_operation.items()):
        if len(values) >= MIN_OPERATION_REQUESTS:
            stats[operation] = (percentile(values, 50) or 0.0, percentile(values, 95) or 0.0)
    return stats


def plan_levels(rate_rps: float, fractions: Sequence[float] = FRACTIONS) -> list[Level]:
    """The calibration levels: each fraction of `rate_rps`."""
    if rate_rps <= 0:
        raise ValueError(f"the calibration rate must be > 0 (got {rate_rps:g})")
    return [Level(f, round(rate_rps * f, 6)) for f in fractions]


def level_scenario(base: Scenario, level: Level, repeat: int, duration_s: float) -> Scenario:
    """`base` at the level's constant rate for `duration_s`, named for the level and repeat."""
    name = f"{base.name}-{round(level.fraction * 100)}pct-r{repeat}"
    return run_scenario_for(base, level.rate_rps, duration_s, name)


def run_scenario_for(base: Scenario, rate_rps: float, duration_s: float, name: str) -> Scenario:
    """`base` at a constant rate for a duration, under another name."""
    overrides = {"load.rate_rps": rate_rps, "load.duration_s": duration_s, "name": name}
    return apply_overrides(base, overrides)[0]


def level_duration_s(base: Scenario, levels: Sequence[Level], warmup_s: float = 0.0) -> float:
    """How long each run lasts: the scenario's own duration, lengthened so that the lowest
    level still sends `MIN_REQUESTS` requests after its warm-up (a p95 of fewer is mostly
    noise)."""
    lowest = min(level.rate_rps for level in levels)
    return float(max(base.load.duration_s, math.ceil(MIN_REQUESTS / lowest + warmup_s)))


def saturation_note(levels: Sequence[LevelComparison]) -> str | None:
    """A warning when the top level's real p50 is past `SATURATED_P50_RATIO` times the lowest
    level's: the stack was at or past its knee there, where run-to-run spread is widest."""
    if len(levels) < 2:
        return None
    low, top = levels[0], levels[-1]
    if low.real_p50_ms <= 0 or top.real_p50_ms < SATURATED_P50_RATIO * low.real_p50_ms:
        return None
    return (
        f"the real stack looks saturated at {top.level.rate_rps:g} rps (p50 "
        f"{top.real_p50_ms:.1f} ms, {top.real_p50_ms / low.real_p50_ms:.1f}x the "
        f"{low.level.rate_rps:g}-rps level's): this machine holds less than the rate asked for; "
        f"pass a lower --calibrate-rate"
    )


def error_pct(predicted: float, measured: float) -> float:
    """(predicted − measured) / measured, in percent; inf when nothing was measured."""
    if measured <= 0:
        return float("inf") if predicted > 0 else 0.0
    return (predicted - measured) / measured * 100.0


def within_target(levels: Sequence[LevelComparison], tolerance: float = P95_TOLERANCE) -> bool:
    return all(abs(c.p95_error_pct) <= tolerance * 100 for c in levels)


def calibration_document(
    scenario: str, levels: Sequence[LevelComparison], about: Mapping[str, Any]
) -> dict[str, Any]:
    """The calibration JSON: `reports.capacity_data`'s format (scenario, levels with the five
    numbers) plus extras the report ignores (errors, each run, what the run was)."""
    return {
        "scenario": scenario,
        **about,
        "levels": [
            {
                "rate_rps": c.level.rate_rps,
                "sim_p50_ms": round(c.sim_p50_ms, 3),
                "sim_p95_ms": round(c.sim_p95_ms, 3),
                "real_p50_ms": round(c.real_p50_ms, 3),
                "real_p95_ms": round(c.real_p95_ms, 3),
                "fraction": c.level.fraction,
                "p50_error_pct": round(c.p50_error_pct, 1),
                "p95_error_pct": round(c.p95_error_pct, 1),
                "real_runs": [run_json(r) for r in c.real],
                "sim_runs": [run_json(r) for r in c.sim],
            }
            for c in levels
        ],
    }


def format_comparison(levels: Sequence[LevelComparison], tolerance: float = P95_TOLERANCE) -> str:
    """The table as printed: per level, measured and predicted p50/p95, and the error."""
    lines = [
        f"{'level':>5} {'rps':>6}  {'real p50':>8} {'sim p50':>8} {'err':>7}   "
        f"{'real p95':>8} {'sim p95':>8} {'err':>7}  {'requests':>8}  {'real p95 per run':>18}",
    ]
    for c in levels:
        runs = ", ".join(f"{r.p95_ms:.0f}" for r in c.real)
        flag = "" if abs(c.p95_error_pct) <= tolerance * 100 else "  <- p95 off target"
        lines.append(
            f"{c.level.label:>5} {c.level.rate_rps:>6g}  {c.real_p50_ms:>8.1f} {c.sim_p50_ms:>8.1f} "
            f"{c.p50_error_pct:>+6.1f}%   {c.real_p95_ms:>8.1f} {c.sim_p95_ms:>8.1f} "
            f"{c.p95_error_pct:>+6.1f}%  {sum(r.requests for r in c.real):>8}  {runs:>18}{flag}"
        )
    return "\n".join(lines)


def run_json(run: RunLatency, with_latencies: bool = False) -> dict[str, Any]:
    """A run as JSON: its name and percentiles (and every latency, for `--real-from`)."""
    data: dict[str, Any] = {
        "scenario": run.scenario,
        "p50_ms": round(run.p50_ms, 3),
        "p95_ms": round(run.p95_ms, 3),
        "requests": run.requests,
    }
    if run.load_avg is not None:
        data["load_avg"] = list(run.load_avg)
    if with_latencies:
        data["latencies_ms"] = [round(v, 3) for v in run.latencies_ms]
        data["operations"] = list(run.operations)
    return data


def run_from_json(data: Mapping[str, Any]) -> RunLatency:
    """`run_json(run, with_latencies=True)` read back."""
    load = data.get("load_avg")
    return RunLatency(
        str(data["scenario"]),
        tuple(float(v) for v in data["latencies_ms"]),
        (float(load[0]), float(load[1]), float(load[2])) if load else None,
        tuple(str(op) for op in data.get("operations", ())),
    )
