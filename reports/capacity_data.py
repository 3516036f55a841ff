"""The capacity inputs of the report: a load sweep (CSV) and a calibration (JSON), and the knee.

Both files come from the SimPy twin (issue 5); this module defines their format, reads them and
says what is wrong with a bad one (file, line, column). Pure apart from reading the file.

Sweep CSV: one row per (configuration, offered rate) run, a header line, comma-separated:

    config,rate_rps,p50_ms,p95_ms,p99_ms,success_rate,backlog_max,retries_per_request
    workers=4,100,8.1,19.5,31.0,1.0,0,0.02
    workers=4,200,9.0,24.8,40.2,0.9995,3,0.05

- `config`: a label for the configuration (any text; one line per config on the plots).
- `rate_rps`: the offered rate, requests per second (> 0).
- `p50_ms`, `p95_ms`, `p99_ms`: latency percentiles (nearest-rank), ms; empty when no request
  finished.
- `success_rate`: share of requests answered per contract, 0..1 (as in results_post.json).
- `backlog_max`: the outbox backlog's peak (rows); `retries_per_request`: mean retries.
- Optional `outage_s`: when present, rows with outage_s > 0 are an outage-length sweep and are
  drawn as backlog max vs outage length; the other rows are the rate sweep.
- Optional `achieved_rps` (requests a second that started within the load window) and
  `failed_slos` (the SLOs that failed at the point, `; `-separated; empty: none): the twin's
  sweeps write both, and the knee uses them (below).
- Other columns are kept and ignored.

Calibration JSON: the same scenario measured in both modes at a few load levels:

    {"scenario": "healthy",
     "levels": [{"rate_rps": 50, "sim_p50_ms": 6.2, "sim_p95_ms": 14.0,
                 "real_p50_ms": 6.8, "real_p95_ms": 15.1}, ...]}

`scenario` is optional; every level needs the five numbers (ms, and rps for the rate).

The knee of a configuration is the run contract's (`contract.knees`): the highest offered rate
whose point holds — its SLOs passed and its load was delivered — below the first that does not,
the very rule `knees.json` was written with. The SLO verdict of a point is the sweep's own when
the CSV carries it (a `failed_slos` column, as the twin's sweeps write: the scenario's SLOs,
judged at that point); a CSV without one is judged against the report's `CapacitySLO` (p95 at
or under its target, success rate at or over its target), which fills `failed_slos` in.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from contract.knees import find_knees
from reports.errors import ReportInputError

SWEEP_COLUMNS = (
    "config",
    "rate_rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "success_rate",
    "backlog_max",
    "retries_per_request",
)
#: Sweep columns that may be empty (a rate at which nothing finished has no percentile).
_MAY_BE_EMPTY = ("p50_ms", "p95_ms", "p99_ms")
CALIBRATION_FIELDS = ("rate_rps", "sim_p50_ms", "sim_p95_ms", "real_p50_ms", "real_p95_ms")


@dataclass(frozen=True)
class CapacitySLO:
    """The SLO a sweep is judged against; the defaults are the catalog's healthy gates."""

    p95_ms: float = 300.0
    success_rate: float = 0.999


def read_sweep(path: str | Path) -> pd.DataFrame:
    """The sweep CSV as a frame with numeric columns; ReportInputError naming file/line/column."""
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype={"config": str}, keep_default_na=True)
    except FileNotFoundError as exc:
        raise ReportInputError(f"{path}: no such sweep file") from exc
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ReportInputError(f"{path}: not a readable CSV ({exc})") from exc
    missing = [c for c in SWEEP_COLUMNS if c not in frame.columns]
    if missing:
        raise ReportInputError(
            f"{path}: missing column(s) {', '.join(missing)}; a sweep CSV needs "
            f"{', '.join(SWEEP_COLUMNS)}"
        )
    if frame.empty:
        raise ReportInputError(f"{path}: has a header but no rows")
    numeric = [c for c in SWEEP_COLUMNS if c != "config"]
    if "outage_s" in frame.columns:
        numeric.append("outage_s")
    for column in numeric:
        converted = pd.to_numeric(frame[column], errors="coerce")
        given = frame[column].notna()
        bad = converted.isna() & given
        if column not in (*_MAY_BE_EMPTY, "outage_s"):
            bad |= ~given
        if bad.any():
            row = int(bad.idxmax())
            got = repr(frame[column].iloc[row]) if given.iloc[row] else "an empty cell"
            raise ReportInputError(
                f"{path}, line {row + 2}: column {column} must be a number (got {got})"
            )
        frame[column] = converted
    if frame["config"].isna().any():
        row = int(frame["config"].isna().idxmax())
        raise ReportInputError(f"{path}, line {row + 2}: column config is empty")
    if (frame["rate_rps"] <= 0).any():
        row = int((frame["rate_rps"] <= 0).idxmax())
        raise ReportInputError(f"{path}, line {row + 2}: rate_rps must be > 0")
    return frame


def rate_sweep(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sweep that vary the offered rate (not the outage length)."""
    if "outage_s" not in frame.columns:
        return frame
    return frame[~(frame["outage_s"].fillna(0) > 0)]


def outage_sweep(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sweep that vary the outage length (empty without an outage_s column)."""
    if "outage_s" not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame["outage_s"].fillna(0) > 0]


def knees(frame: pd.DataFrame, slo: CapacitySLO) -> pd.DataFrame:
    """Per configuration: the knee (`contract.knees.find_knees`) of the sweep's rows.

    Columns: config, knee_rps (NaN when even the lowest rate does not hold), first_breach_rps
    (NaN when every rate holds), p95_ms and success_rate at the knee, and `judged_by`: "sweep"
    when the CSV carried its SLO verdict, else the `CapacitySLO` it was judged against.
    """
    rows = frame.to_dict("records")
    if "failed_slos" in frame.columns:
        judged_by = "sweep"
    else:
        judged_by = f"p95 <= {slo.p95_ms:g} ms, success >= {slo.success_rate:g}"
        for row in rows:
            row["failed_slos"] = "; ".join(_breached(row, slo))
    found = [
        {
            "config": k.config,
            "knee_rps": _nan(k.knee_rps),
            "first_breach_rps": _nan(k.first_breach_rps),
            "p95_ms": _nan(k.p95_ms),
            "success_rate": _nan(k.success_rate),
            "judged_by": judged_by,
        }
        for k in find_knees(rows)
    ]
    return pd.DataFrame(
        found,
        columns=["config", "knee_rps", "first_breach_rps", "p95_ms", "success_rate", "judged_by"],
    )


def _breached(row: dict[str, Any], slo: CapacitySLO) -> list[str]:
    """The `CapacitySLO` gates a row breaks; a missing p95 (nothing finished) breaks its gate."""
    breached = []
    p95 = row["p95_ms"]
    if p95 is None or math.isnan(p95) or p95 > slo.p95_ms:
        breached.append(f"latency_ms.p95 <= {slo.p95_ms:g}")
    if not row["success_rate"] >= slo.success_rate:
        breached.append(f"success_rate >= {slo.success_rate:g}")
    return breached


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def read_calibration(path: str | Path) -> pd.DataFrame:
    """The calibration JSON's levels as a frame sorted by rate, with the p95 error (sim vs real)."""
    path = Path(path)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportInputError(f"{path}: no such calibration file") from exc
    except (OSError, ValueError) as exc:
        raise ReportInputError(f"{path}: not valid JSON ({exc})") from exc
    levels = data.get("levels") if isinstance(data, dict) else None
    if not isinstance(levels, list) or not levels:
        raise ReportInputError(f'{path}: must be an object with a non-empty "levels" list')
    for index, level in enumerate(levels):
        if not isinstance(level, dict):
            raise ReportInputError(f"{path}: levels[{index}] must be an object")
        for name in CALIBRATION_FIELDS:
            value = level.get(name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ReportInputError(
                    f"{path}: levels[{index}].{name} must be a number >= 0 (got {value!r})"
                )
    frame = pd.DataFrame([{k: float(level[k]) for k in CALIBRATION_FIELDS} for level in levels])
    frame = frame.sort_values("rate_rps", kind="stable").reset_index(drop=True)
    for p in ("p50", "p95"):
        real = frame[f"real_{p}_ms"].where(frame[f"real_{p}_ms"] > 0)
        frame[f"{p}_error"] = (frame[f"sim_{p}_ms"] - real) / real
    frame.attrs["scenario"] = data.get("scenario")
    return frame
