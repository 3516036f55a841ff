"""Two runs side by side: verdicts, metric deltas (B − A) and a p95 / success-rate bar chart.

Typical use: before and after a change, or two services under the same catalog. Scenarios are
matched by name; one present in only one run is listed as such, never compared with a guess.
Reads only the two validated results documents. Pure apart from writing the PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from reports.figures import DPI, WIDTH_IN, Plot, plot_style, save, skipped
from reports.formatting import METRICS, metric_value

RUN_COLOURS = {"A": "#9e9e9e", "B": "#1f77b4"}


def scenario_pairs(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    """Every scenario name of either run, in A's order then B's, with each side's verdict.

    Columns: scenario, a_passed, b_passed (None where the run lacks the scenario).
    """
    a_by_name = {s["name"]: s for s in a["scenarios"]}
    b_by_name = {s["name"]: s for s in b["scenarios"]}
    names = list(dict.fromkeys([*a_by_name, *b_by_name]))
    rows = [
        {
            "scenario": name,
            "a_passed": a_by_name[name]["passed"] if name in a_by_name else None,
            "b_passed": b_by_name[name]["passed"] if name in b_by_name else None,
        }
        for name in names
    ]
    return pd.DataFrame(rows, columns=["scenario", "a_passed", "b_passed"], dtype=object)


def metric_deltas(a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    """One row per (scenario in both runs, metric): a, b, delta = b − a, and the assessment.

    `assessment` is "better", "worse" or "same" for metrics with a direction (lower latency,
    higher success rate, …), "" for neutral ones (request counts) and where a side is None.
    """
    a_by_name = {s["name"]: s for s in a["scenarios"]}
    rows = []
    for b_entry in b["scenarios"]:
        a_entry = a_by_name.get(b_entry["name"])
        if a_entry is None:
            continue
        for block, key, label, better in METRICS:
            before, after = metric_value(a_entry, block, key), metric_value(b_entry, block, key)
            delta = after - before if before is not None and after is not None else None
            rows.append(
                {
                    "scenario": b_entry["name"],
                    "metric": f"{block}.{key}",
                    "label": label,
                    "a": before,
                    "b": after,
                    "delta": delta,
                    "assessment": _assess(delta, better),
                }
            )
    columns = ["scenario", "metric", "label", "a", "b", "delta", "assessment"]
    # dtype=object keeps counts as ints and an unmeasured metric as None (not NaN).
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _assess(delta: float | int | None, better: str) -> str:
    if delta is None or not better:
        return ""
    if delta == 0:
        return "same"
    return "better" if (delta < 0) == (better == "lower") else "worse"


def plot_comparison(deltas: pd.DataFrame, labels: tuple[str, str], folder: Path) -> Plot:
    """p95 latency and success rate per scenario, run A's bar beside run B's."""
    slug, title = "comparison", "Run A vs run B: p95 latency and success rate per scenario"
    chosen = deltas[deltas["metric"].isin(["latency_ms.p95", "requests.success_rate"])]
    if chosen[["a", "b"]].isna().all().all():
        return skipped(slug, title, "no scenario is in both runs with a p95 or success rate")
    scenarios = list(dict.fromkeys(chosen["scenario"]))
    positions = np.arange(len(scenarios))
    with plot_style():
        figure = Figure(
            figsize=(WIDTH_IN, 1.4 + 0.45 * len(scenarios)), dpi=DPI, layout="constrained"
        )
        latency_ax, success_ax = figure.subplots(1, 2, sharey=True)
        figure.suptitle(title, x=0.01, ha="left", fontsize=10, fontweight="bold")
        panels = (
            (latency_ax, "latency_ms.p95", "p95 latency (ms)", False),
            (success_ax, "requests.success_rate", "requests not successful (%)", True),
        )
        for ax, metric, xlabel, as_failure_percent in panels:
            rows = chosen[chosen["metric"] == metric].set_index("scenario").reindex(scenarios)
            # Success rates sit near 1: bars of (1 − rate) from 0 show a change honestly.
            largest = 0.0
            for offset, side in ((-0.2, "a"), (0.2, "b")):
                values = rows[side].astype(float)
                values = (1 - values) * 100 if as_failure_percent else values
                largest = max(largest, float(np.nan_to_num(values.to_numpy()).max(initial=0)))
                run = side.upper()
                bars = ax.barh(
                    positions + offset,
                    values,
                    height=0.38,
                    color=RUN_COLOURS[run],
                    label=f"run {run}: {labels[0 if run == 'A' else 1]}",
                )
                ax.bar_label(bars, fmt="%.4g", fontsize=8, padding=2)
            ax.set_xlabel(xlabel)
            ax.set_xlim(0, largest * 1.15 if largest > 0 else 1)
            if largest == 0:
                ax.text(
                    0.5,
                    0.5,
                    "0 in both runs",
                    transform=ax.transAxes,
                    ha="center",
                    va="center",
                    color="#555555",
                )
            ax.grid(axis="y", visible=False)
        latency_ax.set_yticks(positions, scenarios)
        latency_ax.invert_yaxis()
        success_ax.legend(loc="lower left", bbox_to_anchor=(0, 1.01), frameon=False, ncols=2)
        png = save(figure, folder / f"{slug}.png")
    return Plot(slug, title, png, data=chosen.reset_index(drop=True))
