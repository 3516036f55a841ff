"""Mode agreement: does the twin give the live stack's answer? (DESIGN §1, §8)

For each scenario, the counts that say what happened — requests by outcome, calendar calls,
breaker openings, dead letters — from one sim-mode result against the median of several
real-mode results with the same seed. A count agrees when the sim's value lies within
max(3, 10%) of the real median (`DEFAULT_TOLERANCE`), or within the wider tolerance a scenario
file declares for that count, with its reason (`agreement:` in the spec: only for a count that
is inherently timing-driven). Also reported: each count's spread across the real runs, since a
real mode that cannot repeat itself is the first thing to fix.

Pure: results entries (the dicts of results_post.json) in, a table and a verdict out.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

ABSOLUTE_SLACK = 3
RELATIVE_SLACK = 0.10
OUTCOMES = (
    "confirmed",
    "pending",
    "failed",
    "ok",
    "conflict",
    "rejected",
    "server_error",
    "transport_error",
)
COUNTS = (
    *(f"requests.{name}" for name in OUTCOMES),
    "calendar.calls",
    "breaker.openings",
    "outbox.dead_lettered",
)


def counts_of(entry: Mapping[str, Any]) -> dict[str, int]:
    """The compared counts of one scenario's results entry."""
    by_outcome = entry["requests"]["by_outcome"]
    counts = {f"requests.{name}": int(by_outcome.get(name, 0)) for name in OUTCOMES}
    counts["calendar.calls"] = int(entry["calendar"]["calendar_calls_total"] or 0)
    counts["breaker.openings"] = int(entry["circuit_breaker"]["circuit_breaker_open_count"] or 0)
    counts["outbox.dead_lettered"] = int(entry["outbox"]["dead_lettered"] or 0)
    return counts


@dataclass(frozen=True)
class Tolerance:
    """How far the sim may be from the real median: max(absolute, relative × median)."""

    absolute: float = ABSOLUTE_SLACK
    relative: float = RELATIVE_SLACK
    reason: str | None = None  # why a scenario widened it

    def allows(self, sim: float, median: float) -> bool:
        return abs(sim - median) <= max(self.absolute, self.relative * abs(median))


DEFAULT_TOLERANCE = Tolerance()


@dataclass(frozen=True)
class CountRow:
    scenario: str
    count: str
    sim: int
    real: tuple[int, ...]
    median: float
    tolerance: Tolerance

    @property
    def agrees(self) -> bool:
        return self.tolerance.allows(self.sim, self.median)

    @property
    def real_repeats(self) -> bool:
        """Do the real runs agree with their own median within the same tolerance?"""
        return all(self.tolerance.allows(value, self.median) for value in self.real)


@dataclass(frozen=True)
class ScenarioAgreement:
    scenario: str
    rows: tuple[CountRow, ...]

    @property
    def agrees(self) -> bool:
        return all(row.agrees for row in self.rows)

    @property
    def disagreements(self) -> list[CountRow]:
        return [row for row in self.rows if not row.agrees]


def compare(
    sim: Sequence[Mapping[str, Any]],
    real_runs: Sequence[Sequence[Mapping[str, Any]]],
    tolerances: Mapping[str, Mapping[str, Tolerance]] | None = None,
) -> list[ScenarioAgreement]:
    """Each scenario of `sim` against the real runs' entries of the same name.

    `tolerances`: per scenario, per count, a widened tolerance (from the scenario files).
    A scenario missing from a real run is an error: the comparison would be meaningless.
    """
    tolerances = tolerances or {}
    table = []
    for entry in sim:
        name = entry["name"]
        reals = []
        for number, run in enumerate(real_runs, start=1):
            match = [e for e in run if e["name"] == name]
            if not match:
                raise ValueError(f"real run {number} has no result for scenario '{name}'")
            reals.append(counts_of(match[0]))
        sim_counts = counts_of(entry)
        widened = tolerances.get(name, {})
        rows = []
        for count in COUNTS:
            values = tuple(r[count] for r in reals)
            median = float(statistics.median(values)) if values else 0.0
            tolerance = widened.get(count, DEFAULT_TOLERANCE)
            rows.append(CountRow(name, count, sim_counts[count], values, median, tolerance))
        table.append(ScenarioAgreement(name, tuple(rows)))
    return table


def render(table: Sequence[ScenarioAgreement], *, all_counts: bool = False) -> str:
    """The agreement table as text: per scenario its verdict, then each count that disagrees
    or that the real runs did not repeat (every nonzero count with `all_counts`)."""
    lines = [f"{'scenario / count':44} {'sim':>7} {'real median':>11}  {'real runs':<22} verdict"]
    for scenario in table:
        verdict = "agree" if scenario.agrees else f"DISAGREE ({len(scenario.disagreements)})"
        lines.append(f"{scenario.scenario:44} {'':>7} {'':>11}  {'':<22} {verdict}")
        for row in scenario.rows:
            shown = all_counts and (row.sim or row.median)
            if row.agrees and row.real_repeats and not shown:
                continue
            runs = "/".join(str(v) for v in row.real)
            mark = "ok" if row.agrees else "DIFFERS"
            if not row.real_repeats:
                mark += ", real varies"
            widened = f" (widened: {row.tolerance.reason})" if row.tolerance.reason else ""
            lines.append(
                f"  {row.count:42} {row.sim:>7} {row.median:>11g}  {runs:<22} {mark}{widened}"
            )
    agreeing = sum(1 for s in table if s.agrees)
    lines.append(f"{agreeing} of {len(table)} scenarios agree")
    return "\n".join(lines)
