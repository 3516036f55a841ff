"""The knee of a capacity sweep: where a configuration stops holding as the offered rate rises.

The one definition, used by capacity planning (the printed knee table and `knees.json`) and by the
report (the knees marked on its sweep plot), so the two can never disagree:

- a sweep point *holds* when the scenario's own SLOs passed at it (its `failed_slos` is empty)
  AND its load was delivered: the users started at least `DELIVERED_SHARE` of the offered
  requests within the load window. The delivery test is there because the load is
  closed-loop, as Locust's users are: a user waits for its answer before its next request, so
  an overloaded service shows its overload as users falling behind, not only as latency, and
  p95 can stay under the SLO at rates nobody got. A point whose `achieved_rps` is unknown (a
  sweep from elsewhere without that column) is judged by its SLOs alone;
- the *knee* of a configuration is the highest offered rate that holds below the first rate
  that does not (a rate that holds again past a breach is not the knee: the sweep already
  broke there).

A row is a mapping with `config`, `rate_rps`, `failed_slos` ("" or absent: passed) and, when
known, `achieved_rps`, `p95_ms`, `success_rate` (None or NaN: unknown). Pure: rows in, knees out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: A point whose users started fewer than this share of the offered requests within the load
#: window did not hold, whatever its SLOs say: past saturation the users wait for the service, so
#: p95 levels off and would read as holding.
DELIVERED_SHARE = 0.9


@dataclass(frozen=True)
class Knee:
    """Where one configuration stops holding."""

    config: str
    knee_rps: float | None  # None: even the lowest rate does not hold
    first_breach_rps: float | None  # None: every rate holds
    breach: str  # why the first breach does not hold ("" when none)
    p95_ms: float | None  # at the knee
    success_rate: float | None
    achieved_rps: float | None
    rates: int  # rates swept for this configuration


def point_holds(row: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether a sweep point holds, and if not, why (failed SLOs, or the load not delivered).

    >>> point_holds({"rate_rps": 100, "achieved_rps": 80, "failed_slos": ""})[0]
    False
    >>> point_holds({"rate_rps": 100, "achieved_rps": 95, "failed_slos": ""})
    (True, '')
    """
    reasons = []
    failed = _text(row.get("failed_slos"))
    if failed:
        reasons.append(f"SLO failed: {failed}")
    offered, achieved = float(row["rate_rps"]), _number(row.get("achieved_rps"))
    if achieved is not None and offered > 0 and achieved < DELIVERED_SHARE * offered:
        reasons.append(
            f"delivered {achieved:g} of {offered:g} rps ({achieved / offered:.0%}; "
            "the service fell behind and the users waited for it)"
        )
    return not reasons, "; ".join(reasons)


def find_knees(rows: Iterable[Mapping[str, Any]]) -> list[Knee]:
    """Each configuration's knee, configurations in first-seen order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["config"]), []).append(row)
    knees = []
    for config, group in groups.items():
        ordered = sorted(group, key=lambda r: float(r["rate_rps"]))
        knee_row = None
        breach_row, breach = None, ""
        for row in ordered:
            holds, why = point_holds(row)
            if not holds:
                breach_row, breach = row, why
                break
            knee_row = row
        knees.append(
            Knee(
                config=config,
                knee_rps=_field(knee_row, "rate_rps"),
                first_breach_rps=_field(breach_row, "rate_rps"),
                breach=breach,
                p95_ms=_field(knee_row, "p95_ms"),
                success_rate=_field(knee_row, "success_rate"),
                achieved_rps=_field(knee_row, "achieved_rps"),
                rates=len(ordered),
            )
        )
    return knees


def _field(row: Mapping[str, Any] | None, key: str) -> float | None:
    return None if row is None else _number(row.get(key))


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _text(value: Any) -> str:
    # A CSV read back by pandas gives NaN for an empty cell.
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()
