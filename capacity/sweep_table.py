"""The outputs of a capacity sweep: its table (CSV), its knees (JSON) and the printed knee table.

Owns the CSV exactly as `reports.capacity_data` documents it (the eight documented columns
first, then extra columns it keeps and ignores: scenario, seed, requests, achieved_rps,
slo_passed, failed_slos and one per swept key) and the knee of each configuration.

The knee of a configuration is the highest offered rate at which the point holds — the scenario's
own SLOs pass AND the load was delivered (at least `DELIVERED_SHARE` of the offered rate started
within the load window) — below the first rate that does not hold. The delivery test is there
because the load is closed-loop, as Locust's users are: a user waits for its answer before its
next request, so an overloaded service shows its overload as users falling behind, not only as
latency, and p95 can stay under the SLO at rates nobody got.
Rows and knees are functions of the rows alone. I/O: writing the two files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from capacity.sweep import EXTRA_COLUMNS, TABLE_COLUMNS
from contract.event_log import write_atomic
from contract.knees import DELIVERED_SHARE


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
    """Whether a row holds, and if not, why (failed SLOs, or the load not delivered)."""
    reasons = []
    if row["failed_slos"]:
        reasons.append(f"SLO failed: {row['failed_slos']}")
    offered, achieved = float(row["rate_rps"]), float(row["achieved_rps"])
    if offered > 0 and achieved < DELIVERED_SHARE * offered:
        reasons.append(
            f"delivered {achieved:g} of {offered:g} rps ({achieved / offered:.0%}; "
            "the service fell behind and the users waited for it)"
        )
    return not reasons, "; ".join(reasons)


def find_knees(rows: Iterable[Mapping[str, Any]]) -> list[Knee]:
    """Each configuration's knee, configurations in first-seen order."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["config"], []).append(row)
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
                knee_rps=_num(knee_row, "rate_rps"),
                first_breach_rps=_num(breach_row, "rate_rps"),
                breach=breach,
                p95_ms=_num(knee_row, "p95_ms"),
                success_rate=_num(knee_row, "success_rate"),
                achieved_rps=_num(knee_row, "achieved_rps"),
                rates=len(ordered),
            )
        )
    return knees


def table_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The CSV's columns: the documented eight, the extras, then each swept key once."""
    columns = [*TABLE_COLUMNS, *EXTRA_COLUMNS]
    for row in rows:
        columns.extend(key for key in row if key not in columns)
    return columns


def encode_csv(rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The sweep table as CSV bytes: a header, one line per row; empty cell for no value,
    true/false for booleans."""
    out = io.StringIO()
    columns = table_columns(rows)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue().encode("utf-8")


def write_sweep(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    write_atomic(path, encode_csv(rows))


def write_knees(path: Path, knees: Sequence[Knee], about: Mapping[str, Any]) -> None:
    """The knees as JSON, with what the sweep was (`about`: scenarios, axes, seed, SLOs...)."""
    document = {**about, "delivered_share": DELIVERED_SHARE, "knees": [asdict(k) for k in knees]}
    write_atomic(path, (json.dumps(document, indent=1, sort_keys=False) + "\n").encode())


def format_knees(knees: Sequence[Knee]) -> str:
    """The knee table as printed."""
    width = max([len("configuration"), *(len(k.config) for k in knees)])
    lines = [
        f"{'configuration':{width}}  {'knee rps':>8}  {'p95 ms':>7}  {'success':>7}  "
        f"{'achieved':>8}  {'breach rps':>10}  first breach",
    ]
    for k in knees:
        lines.append(
            f"{k.config:{width}}  {_show(k.knee_rps, 'g'):>8}  {_show(k.p95_ms, '.1f'):>7}  "
            f"{_show(k.success_rate, '.4f'):>7}  {_show(k.achieved_rps, '.0f'):>8}  "
            f"{_show(k.first_breach_rps, 'g'):>10}  {k.breach or 'none in the swept range'}"
        )
    return "\n".join(lines)


def _num(row: Mapping[str, Any] | None, key: str) -> float | None:
    if row is None or row.get(key) is None:
        return None
    value = float(row[key])
    return None if math.isnan(value) else value


def _show(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
