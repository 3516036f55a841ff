"""Plots for capacity planners: p95 and success rate vs offered rate, backlog vs outage length,
and sim vs real calibration bars.

Inputs are the frames of `reports.capacity_data` (formats defined there). Each function returns a
`Plot` with the frame it drew, or a skipped `Plot` when its rows are absent. Pure apart from
writing the PNG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from reports.capacity_data import CapacitySLO, knees, outage_sweep, rate_sweep
from reports.figures import Plot, legend_outside, new_figure, plot_style, save, skipped

#: One colour per configuration, cycled.
CONFIG_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
SLO_COLOUR = "#d62728"


def plot_sweep(sweep: pd.DataFrame, slo: CapacitySLO, folder: Path) -> Plot:
    """p95 (ms) and success rate vs offered rate, one line per configuration; SLO and knees marked.

    `extra["knees"]` holds the knee of each configuration (`capacity_data.knees`).
    """
    slug, title = "capacity-sweep", "Capacity: p95 latency and success rate vs offered rate"
    rows = rate_sweep(sweep).sort_values(["config", "rate_rps"], kind="stable")
    if rows.empty:
        return skipped(slug, title, "the sweep holds no rate rows (every row sets outage_s)")
    knee_frame = knees(rows, slo)
    with plot_style():
        figure, (latency_ax, success_ax) = new_figure(6.4, nrows=2, sharex=True)
        latency_ax.set_title(title)
        for index, (config, group) in enumerate(rows.groupby("config", sort=False)):
            colour = CONFIG_COLOURS[index % len(CONFIG_COLOURS)]
            latency_ax.plot(
                group["rate_rps"], group["p95_ms"], "o-", color=colour, label=config, markersize=4
            )
            success_ax.plot(
                group["rate_rps"],
                group["success_rate"],
                "o-",
                color=colour,
                label=config,
                markersize=4,
            )
            knee = knee_frame[knee_frame["config"] == config].iloc[0]
            if not math.isnan(knee["knee_rps"]):
                latency_ax.plot(
                    knee["knee_rps"],
                    knee["p95_ms"],
                    marker="*",
                    markersize=15,
                    color=colour,
                    markeredgecolor="black",
                    linestyle="none",
                )
                label = f"knee {knee['knee_rps']:g} rps"
                if math.isnan(knee["first_breach_rps"]):
                    label = f"knee ≥ {knee['knee_rps']:g} rps (no rate breached)"
                latency_ax.annotate(
                    label,
                    (knee["knee_rps"], knee["p95_ms"]),
                    textcoords="offset points",
                    xytext=(-6, 10 + 12 * index),
                    ha="right",
                    fontsize=8,
                    color=colour,
                )
        latency_ax.axhline(
            slo.p95_ms,
            color=SLO_COLOUR,
            linestyle="--",
            linewidth=1.1,
            label=f"SLO p95 ≤ {slo.p95_ms:g} ms",
        )
        if rows["p95_ms"].max() / max(rows["p95_ms"].min(), 1e-9) > 30:
            latency_ax.set_yscale("log")
        latency_ax.set_ylabel("p95 latency (ms)")
        legend_outside(latency_ax)
        success_ax.axhline(
            slo.success_rate,
            color=SLO_COLOUR,
            linestyle="--",
            linewidth=1.1,
            label=f"SLO success ≥ {slo.success_rate:g}",
        )
        success_ax.set_ylabel("success rate")
        success_ax.set_xlabel("offered rate (requests per second)")
        legend_outside(success_ax)
        png = save(figure, folder / f"{slug}.png")
    judged_by = str(knee_frame["judged_by"].iloc[0]) if not knee_frame.empty else "sweep"
    held = (
        "the scenario's own SLOs passed at it (the sweep's verdict)"
        if judged_by == "sweep"
        else f"it met {judged_by}"
    )
    note = (
        f"★ marks each configuration's knee (contract.knees): the highest offered rate whose point "
        f"held — {held} and its load was delivered — below the first rate that did not."
    )
    return Plot(
        slug, title, png, data=rows.reset_index(drop=True), note=note, extra={"knees": knee_frame}
    )


def plot_outage_sweep(sweep: pd.DataFrame, folder: Path) -> Plot:
    """Outbox backlog peak vs outage length, one line per configuration (and rate)."""
    slug, title = "capacity-outage", "Capacity: outbox backlog peak vs outage length"
    rows = outage_sweep(sweep)
    if rows.empty:
        return skipped(slug, title, "the sweep did not vary outage length (no outage_s > 0)")
    rows = rows.assign(series=rows["config"] + " @ " + rows["rate_rps"].map("{:g} rps".format))
    rows = rows.sort_values(["series", "outage_s"], kind="stable")
    with plot_style():
        figure, (ax,) = new_figure(3.4)
        ax.set_title(title)
        for index, (series, group) in enumerate(rows.groupby("series", sort=False)):
            ax.plot(
                group["outage_s"],
                group["backlog_max"],
                "o-",
                markersize=4,
                label=series,
                color=CONFIG_COLOURS[index % len(CONFIG_COLOURS)],
            )
        ax.set_xlabel("outage length (s)")
        ax.set_ylabel("outbox backlog peak (rows)")
        ax.set_ylim(bottom=0)
        legend_outside(ax)
        png = save(figure, folder / f"{slug}.png")
    return Plot(slug, title, png, data=rows.reset_index(drop=True))


def plot_calibration(levels: pd.DataFrame, folder: Path) -> Plot:
    """Sim vs real p50 and p95 at each load level, bars side by side, p95 error labelled."""
    slug, title = "calibration", "Calibration: sim vs real latency at each load level"
    scenario = levels.attrs.get("scenario")
    if scenario:
        title = f"{title} ({scenario})"
    bars = (
        ("sim_p50_ms", "sim p50", "#9ecae1"),
        ("real_p50_ms", "real p50", "#fdae6b"),
        ("sim_p95_ms", "sim p95", "#3182bd"),
        ("real_p95_ms", "real p95", "#e6550d"),
    )
    positions = np.arange(len(levels))
    width = 0.2
    with plot_style():
        figure, (ax,) = new_figure(3.4)
        ax.set_title(title)
        for offset, (column, label, colour) in enumerate(bars):
            drawn = ax.bar(
                positions + (offset - 1.5) * width,
                levels[column],
                width=width,
                color=colour,
                label=label,
            )
            if column == "sim_p95_ms":
                errors = [("" if math.isnan(e) else f"{e:+.0%}") for e in levels["p95_error"]]
                ax.bar_label(drawn, labels=errors, fontsize=8, padding=2)
        ax.set_xticks(positions, [f"{r:g} rps" for r in levels["rate_rps"]])
        ax.set_xlabel("load level (offered rate)")
        ax.set_ylabel("latency (ms)")
        ax.set_ylim(0, float(levels[[b[0] for b in bars]].to_numpy().max()) * 1.18)
        ax.grid(axis="x", visible=False)
        legend_outside(ax)
        png = save(figure, folder / f"{slug}.png")
    note = "The label over each sim p95 bar is its error against real p95."
    return Plot(slug, title, png, data=levels, note=note)
