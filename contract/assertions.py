"""SLO assertions: k6-like threshold expressions, parsed once and judged from raw evidence.

Grammar (one assertion per string):

    assertion := metric [ "[" "phase" "=" NAME "]" ] OP NUMBER
    metric    := a path of `compute_metrics`' result, e.g. latency_ms.p95, outbox.backlog_final,
                 requests.by_outcome.conflict; or `success_rate` (short for requests.success_rate)
    OP        := "<" | "<=" | ">" | ">=" | "==" | "!="

Examples: `latency_ms.p95 < 300`, `latency_ms.p95[phase=outage] < 50`, `success_rate >= 0.999`,
`calendar.duplicate_bookings == 0`, `retries.per_request_max <= 5`.

A phase selector keeps the requests whose start falls in the phase's recorded window(s) and is
allowed only on request metrics (`requests.*`, `latency_ms.*`, `success_rate`). Percentiles are
nearest-rank over the raw per-request latencies (`evidence.percentile`), never from histogram
buckets. A metric with no value (no requests in the phase, a counter nobody gathered) fails its
assertion: a gate must not pass by having nothing to judge. Pure: no I/O, no clock.
"""

from __future__ import annotations

import difflib
import functools
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from contract.evidence import METRIC_BLOCKS, Outcome, RunEvidence, compute_metrics, request_metrics

OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}

#: Short names an assertion may use for a metric path.
ALIASES = {"success_rate": "requests.success_rate"}

#: Blocks whose values can be recomputed for the requests of one phase.
PHASE_BLOCKS = ("requests", "latency_ms")


@functools.cache
def metric_paths() -> tuple[str, ...]:
    """Every metric path an assertion may name, aliases included, sorted."""
    paths = set(ALIASES)
    for block, keys in METRIC_BLOCKS.items():
        for key in keys:
            if key == "by_outcome":
                paths.update(f"{block}.by_outcome.{outcome.value}" for outcome in Outcome)
            else:
                paths.add(f"{block}.{key}")
    return tuple(sorted(paths))


class AssertionSyntaxError(ValueError):
    """An SLO expression that cannot be parsed or names an unknown metric."""


@dataclass(frozen=True)
class SloAssertion:
    """One parsed assertion. `metric` is the full path (aliases resolved)."""

    expression: str
    metric: str
    phase: str | None
    op: str
    threshold: float

    @property
    def expected(self) -> str:
        """What the assertion demands, e.g. '< 300'."""
        return f"{self.op} {_number_text(self.threshold)}"


@dataclass(frozen=True)
class AssertionResult:
    """The verdict on one assertion: what was demanded, what was measured, and whether it held."""

    expression: str
    metric: str
    phase: str | None
    expected: str
    actual: float | int | None
    passed: bool
    detail: str | None = None


_LEFT = re.compile(r"\s*(?P<metric>[A-Za-z0-9_.]+)\s*(?:\[(?P<selector>[^\]]*)\])?\s*$")
_SELECTOR = re.compile(r"\s*(?P<key>[A-Za-z_]+)\s*=\s*(?P<value>[A-Za-z0-9_.-]+)\s*$")
_OPERATOR = re.compile(r"<=|>=|==|!=|<|>")
_NUMBER = re.compile(r"\s*[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def parse_assertion(expression: str) -> SloAssertion:
    """Parse one SLO expression, or raise AssertionSyntaxError saying what is wrong with it.

    >>> parse_assertion("latency_ms.p95[phase=outage] < 50").phase
    'outage'
    """
    if not isinstance(expression, str):
        raise AssertionSyntaxError(f"SLO {expression!r} must be a string")
    shown = " ".join(expression.split())

    def fail(reason: str) -> AssertionSyntaxError:
        return AssertionSyntaxError(f"SLO '{shown}': {reason}")

    found = list(_OPERATOR.finditer(expression))
    if not found:
        raise fail("needs a comparison, one of < <= > >= == != (e.g. 'latency_ms.p95 < 300')")
    if len(found) > 1:
        raise fail("has more than one comparison; write one threshold per assertion")
    op = found[0].group()
    left, right = expression[: found[0].start()], expression[found[0].end() :]
    if not _NUMBER.match(right):
        raise fail(f"the threshold after '{op}' must be a number (got '{right.strip()}')")
    threshold = float(right)
    parts = _LEFT.match(left)
    if parts is None:
        raise fail(f"'{left.strip()}' is not a metric path like 'latency_ms.p95[phase=outage]'")
    metric = ALIASES.get(parts["metric"], parts["metric"])
    if metric not in metric_paths():
        close = difflib.get_close_matches(parts["metric"], metric_paths(), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise fail(f"unknown metric '{parts['metric']}'{hint}; known: {', '.join(metric_paths())}")
    phase = None
    if parts["selector"] is not None:
        selector = _SELECTOR.match(parts["selector"])
        if selector is None or selector["key"] != "phase":
            raise fail(f"selector '[{parts['selector']}]' must read [phase=NAME]")
        if metric.split(".")[0] not in PHASE_BLOCKS:
            raise fail(
                f"'{parts['metric']}' is a whole-run metric; a [phase=...] selector applies only "
                "to requests.*, latency_ms.* and success_rate"
            )
        phase = selector["value"]
    return SloAssertion(expression=shown, metric=metric, phase=phase, op=op, threshold=threshold)


def evaluate_assertion(
    assertion: SloAssertion, evidence: RunEvidence, metrics: Mapping[str, Any] | None = None
) -> AssertionResult:
    """Judge one assertion against a run. metrics defaults to `compute_metrics(evidence)`."""
    detail = None
    if assertion.phase is None:
        values = metrics if metrics is not None else compute_metrics(evidence)
    else:
        windows = [p for p in evidence.phases if p.name == assertion.phase]
        if not windows:
            recorded = sorted({p.name for p in evidence.phases}) or ["none"]
            return _result(
                assertion,
                None,
                f"phase '{assertion.phase}' was not recorded (recorded: {', '.join(recorded)})",
            )
        in_phase = [r for r in evidence.requests if any(p.contains(r.start_s) for p in windows)]
        values = request_metrics(in_phase, sum(p.end_s - p.start_s for p in windows))
        if not in_phase:
            detail = f"no request started in phase '{assertion.phase}'"
    actual = _lookup(values, assertion.metric)
    if actual is None and detail is None:
        detail = f"{assertion.metric} was not measured in this run"
    return _result(assertion, actual, detail)


def evaluate_assertions(
    assertions: Iterable[SloAssertion],
    evidence: RunEvidence,
    metrics: Mapping[str, Any] | None = None,
) -> list[AssertionResult]:
    """Judge several assertions against one run, computing the whole-run metrics once."""
    values = metrics if metrics is not None else compute_metrics(evidence)
    return [evaluate_assertion(a, evidence, values) for a in assertions]


def _result(assertion: SloAssertion, actual: Any, detail: str | None) -> AssertionResult:
    passed = actual is not None and OPERATORS[assertion.op](actual, assertion.threshold)
    return AssertionResult(
        expression=assertion.expression,
        metric=assertion.metric,
        phase=assertion.phase,
        expected=assertion.expected,
        actual=actual,
        passed=passed,
        detail=detail,
    )


def _lookup(values: Mapping[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
