"""The outputs of a capacity sweep: its table (CSV), its knees (JSON) and the printed knee table.

Owns the CSV exactly as `reports.capacity_data` documents it (the eight documented columns
first, then extra columns it keeps and ignores: scenario, seed, requests, achieved_rps,
slo_passed, failed_slos and one per swept key), writing the knees and printing them. The knee
itself — which point holds, and where a configuration stops holding — is the run contract's
(`contract.knees`), the same rule the report marks on its plot.
Rows and knees are functions of the rows alone. I/O: writing the two files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from capacity.sweep import EXTRA_COLUMNS, TABLE_COLUMNS
from contract.event_log import write_atomic
from contract.knees import DELIVERED_SHARE, Knee


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


def _show(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
