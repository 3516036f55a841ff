"""Fitting the twin's service-time model (`TwinParams`) to a machine's real runs (`--fit`).

Two steps, both deterministic:

1. `estimate_from_breakdown`: the unloaded costs, read off the real service's own timings at the
   lowest level (`capacity.service_log_breakdown`, medians). In the twin a request's server time is its
   CPU plus its transactions plus its provider calls (`sim.timing`, `sim.booking`,
   `sim.changes`), so with W = one write transaction, R = one read, P = one provider round trip
   and s = the CPU slice on each resumption:

       create     = cpu_create + W + P + s + W      (db_txn2 of the log = s + W; calendar = P)
       reschedule = cpu_reschedule + W + P + s + W
       cancel     = cpu_cancel + W
       get, list  = cpu_get + R, cpu_list + R

   and the driver's latency is the server's plus `client_rtt_ms`. A read's database share cannot
   be told from its CPU in the log; R keeps the defaults' ratio to W.
2. `fit_levels`: least squares in log space over the levels' p50 and p95 (of the whole mix, and
   lighter, of each operation) — the twin predicting, Nelder–Mead moving four knobs on the
   step-1 estimate (from the best point of a coarse grid): a factor on every CPU cost, a factor
   on the database costs, a factor on the two network trips, and the CPU spread `cpu_sigma`.
   The split between CPU (one event loop: it queues) and the rest (it overlaps) is what makes
   latency grow with load, and only the levels show it. A small pull toward the step-1 factors
   keeps knobs the data cannot tell apart where the log put them.

`nelder_mead` is the textbook simplex method (no SciPy in the project's dependencies).
Pure: the twin is called through the `predict` function the caller passes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from capacity.service_log_breakdown import Breakdown
from sim.config import TwinParams

CPU_FIELDS = ("cpu_create_ms", "cpu_get_ms", "cpu_list_ms", "cpu_cancel_ms", "cpu_reschedule_ms")
DB_FIELDS = ("db_read_ms", "db_write_ms")
NET_FIELDS = ("client_rtt_ms", "provider_rtt_ms")
KNOBS = ("cpu_factor", "db_factor", "net_factor", "cpu_sigma")
MIN_MS = 0.05
P95_WEIGHT = 3.0  # p95 is the target (±20%); p50 still anchors the level
PRIOR_WEIGHT = 0.02  # per knob, on its log: a 2x move costs about what a 6% p95 miss does

#: Where step 2 looks first (cpu_factor, db_factor, net_factor, cpu_sigma): from "the log's
#: split is right" to "most of the time is CPU that queues and spreads".
START_GRID = tuple(
    (cpu, rest, rest, sigma)
    for cpu in (1.0, 2.0, 3.0)
    for rest in (1.0, 0.5, 0.25)
    for sigma in (0.25, 0.6, 1.0)
)
OPERATION_WEIGHT = 0.1  # per operation's (p50, p95) pair, beside the whole mix's
#: A level's latency: (p50, p95) under "all" (the whole mix, what the target judges) and
#: optionally per operation ("create", "get", ...), which pins what the mix alone cannot tell
#: apart: how much of a request's time is CPU that queues and how much is spread.
Stats = Mapping[str, tuple[float, float]]
Predict = Callable[[TwinParams], Sequence[Stats]]


@dataclass(frozen=True)
class Fit:
    """What `fit_levels` found."""

    params: TwinParams
    knobs: dict[str, float]
    loss: float
    evaluations: int


def estimate_from_breakdown(breakdown: Breakdown, base: TwinParams) -> tuple[TwinParams, list[str]]:
    """Step 1: `base` with the costs the breakdown determines; notes on what it could not."""
    notes: list[str] = []
    values: dict[str, float] = {}
    parts = breakdown.create_parts
    slice_ms = base.cpu_slice_ms
    write = base.db_write_ms
    if "calendar_ms" in parts:
        values["provider_rtt_ms"] = _floor(parts["calendar_ms"])
    else:
        notes.append("no create breakdown in service.log: provider_rtt_ms and db_write_ms kept")
    if "db_txn2_ms" in parts:
        write = _floor(parts["db_txn2_ms"] - slice_ms)
        values["db_write_ms"] = write
        values["db_read_ms"] = _floor(write * base.db_read_ms / base.db_write_ms)
    read = values.get("db_read_ms", base.db_read_ms)
    provider = values.get("provider_rtt_ms", base.provider_rtt_ms)
    server = breakdown.server_ms
    structure = {
        "create": ("cpu_create_ms", 2 * write + provider + slice_ms),
        "reschedule": ("cpu_reschedule_ms", 2 * write + provider + slice_ms),
        "cancel": ("cpu_cancel_ms", write),
        "get": ("cpu_get_ms", read),
        "list": ("cpu_list_ms", read),
    }
    for operation, (name, waits) in structure.items():
        if operation in server:
            values[name] = _floor(server[operation] - waits)
        else:
            notes.append(f"no {operation} requests in the access log: {name} kept")
    overhead = breakdown.client_overhead_ms()
    if overhead is not None:
        values["client_rtt_ms"] = _floor(overhead)
    else:
        notes.append("no client/server latency pairs: client_rtt_ms kept")
    rounded: dict[str, Any] = {k: round(v, 4) for k, v in values.items()}
    return dataclasses.replace(base, **rounded), notes


def apply_knobs(params: TwinParams, knobs: dict[str, float]) -> TwinParams:
    """`params` with the CPU, database and network costs scaled and the CPU spread set."""
    changes: dict[str, Any] = {}
    for fields, knob in (
        (CPU_FIELDS, "cpu_factor"),
        (DB_FIELDS, "db_factor"),
        (NET_FIELDS, "net_factor"),
    ):
        for name in fields:
            changes[name] = round(max(MIN_MS, getattr(params, name) * knobs[knob]), 4)
    changes["cpu_sigma"] = round(knobs["cpu_sigma"], 4)
    return dataclasses.replace(params, **changes)


def level_loss(predicted: Sequence[Stats], measured: Sequence[Stats]) -> float:
    """Σ over levels of (ln predicted/measured)² of the mix's p50 plus P95_WEIGHT times that of
    its p95, plus OPERATION_WEIGHT times both for each operation measured and predicted."""
    total = 0.0
    for pred, meas in zip(predicted, measured, strict=True):
        (sim50, sim95), (real50, real95) = pred["all"], meas["all"]
        total += _log_ratio(sim50, real50) ** 2 + P95_WEIGHT * _log_ratio(sim95, real95) ** 2
        for operation, (real50, real95) in meas.items():
            if operation == "all" or operation not in pred:
                continue
            sim50, sim95 = pred[operation]
            total += OPERATION_WEIGHT * (
                _log_ratio(sim50, real50) ** 2 + _log_ratio(sim95, real95) ** 2
            )
    return total


def fit_levels(
    start: TwinParams,
    measured: Sequence[Stats],
    predict: Predict,
    max_evaluations: int = 200,
    prior_weight: float = PRIOR_WEIGHT,
    tolerance: float = 1e-4,
    grid: Sequence[Sequence[float]] = START_GRID,
) -> Fit:
    """Step 2: the knobs that bring `predict(params)` (`Stats` per level) closest to `measured`.

    The knobs are searched in log space so they stay positive. First every point of `grid`
    (knob values: cpu_factor, db_factor, net_factor, cpu_sigma) is tried, then Nelder–Mead runs
    from the best of them and `start`'s own point (factors 1, its `cpu_sigma`): the percentiles
    are step functions of the costs, so a simplex started in one place can settle on a ledge.
    `predict` is called once per evaluation, `max_evaluations` times at most in all.
    `prior_weight` 0 fits the levels alone.
    """

    def knobs_of(x: Sequence[float]) -> dict[str, float]:
        return dict(zip(KNOBS, (math.exp(v) for v in x), strict=True))

    def loss(x: Sequence[float]) -> float:
        prior = prior_weight * sum(v * v for v in x[:3])
        if not 0.02 <= math.exp(x[3]) <= 2.0:
            return 1e9  # a CPU spread beyond this is not a service time any more
        return level_loss(predict(apply_knobs(start, knobs_of(x))), measured) + prior

    candidates = [[0.0, 0.0, 0.0, math.log(max(start.cpu_sigma, 0.05))]]
    candidates += [[math.log(v) for v in point] for point in grid]
    scored = [(loss(x), x) for x in candidates]
    _, x0 = min(scored, key=lambda pair: pair[0])
    x, value, evaluations = nelder_mead(
        loss,
        x0,
        step=[0.3, 0.3, 0.3, 0.3],
        max_evaluations=max(max_evaluations - len(candidates), 10),
        tolerance=tolerance,
    )
    knobs = {k: round(v, 4) for k, v in knobs_of(x).items()}
    return Fit(apply_knobs(start, knobs), knobs, value, evaluations + len(candidates))


def nelder_mead(
    f: Callable[[Sequence[float]], float],
    x0: Sequence[float],
    step: Sequence[float],
    max_evaluations: int = 200,
    tolerance: float = 1e-4,
) -> tuple[list[float], float, int]:
    """Minimise `f` from `x0` with the Nelder–Mead simplex (reflection 1, expansion 2,
    contraction ½, shrink ½). Returns (best x, f(best x), evaluations). Stops when the simplex's
    values differ by less than `tolerance` or after `max_evaluations`.

    >>> f = lambda v: (v[0] - 3) ** 2 + (v[1] + 1) ** 2
    >>> x, fx, _ = nelder_mead(f, [0, 0], [1, 1], tolerance=1e-10)
    >>> [round(v, 2) for v in x]
    [3.0, -1.0]
    """
    n = len(x0)
    evaluations = 0

    def value(x: list[float]) -> float:
        nonlocal evaluations
        evaluations += 1
        return f(x)

    simplex = [list(map(float, x0))]
    for i in range(n):
        point = list(map(float, x0))
        point[i] += step[i]
        simplex.append(point)
    values = [value(p) for p in simplex]
    while evaluations < max_evaluations:
        order = sorted(range(n + 1), key=lambda i: values[i])
        simplex = [simplex[i] for i in order]
        values = [values[i] for i in order]
        if values[-1] - values[0] < tolerance:
            break
        centroid = [sum(p[j] for p in simplex[:-1]) / n for j in range(n)]
        worst = simplex[-1]
        reflected = [c + (c - w) for c, w in zip(centroid, worst, strict=True)]
        f_reflected = value(reflected)
        if f_reflected < values[0]:
            expanded = [c + 2 * (c - w) for c, w in zip(centroid, worst, strict=True)]
            f_expanded = value(expanded)
            if f_expanded < f_reflected:
                simplex[-1], values[-1] = expanded, f_expanded
            else:
                simplex[-1], values[-1] = reflected, f_reflected
        elif f_reflected < values[-2]:
            simplex[-1], values[-1] = reflected, f_reflected
        else:
            toward = reflected if f_reflected < values[-1] else worst
            contracted = [c + 0.5 * (t - c) for c, t in zip(centroid, toward, strict=True)]
            f_contracted = value(contracted)
            if f_contracted < min(f_reflected, values[-1]):
                simplex[-1], values[-1] = contracted, f_contracted
            else:
                anchor = simplex[0]
                for i in range(1, n + 1):
                    simplex[i] = [
                        b + 0.5 * (p - b) for b, p in zip(anchor, simplex[i], strict=True)
                    ]
                    values[i] = value(simplex[i])
    best = values.index(min(values))
    return simplex[best], values[best], evaluations


def _log_ratio(predicted: float, measured: float) -> float:
    return math.log(max(predicted, 1e-6) / max(measured, 1e-6))


def _floor(value_ms: float) -> float:
    return max(MIN_MS, value_ms)
