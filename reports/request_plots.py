"""Plots of what the clients saw: latency over time, outcomes over time, retries per request.

Each function takes one scenario's data and the plot folder, draws one PNG and returns the
`Plot` with the frame it drew (tests and tables read that frame, not the pixels); with nothing to
draw it returns a skipped `Plot` saying why. Percentiles are nearest-rank
(`contract.evidence.percentile`), as in results_post.json, so a window's p95 is a latency that
was observed. Pure apart from writing the PNG.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from contract.evidence import ERROR_OUTCOMES, Outcome, Phase, percentile
from reports.figures import (
    Plot,
    fit_time_figure,
    integer_y,
    legend_outside,
    new_figure,
    nice_seconds,
    plain_log_scale,
    plot_style,
    rates_per_bucket,
    save,
    shade_phases,
    skipped,
    stacked_rates,
    time_axis,
    time_figure,
)
from reports.run_data import ScenarioData

PERCENTILE_COLOURS = {"p50": "#1f77b4", "p95": "#ff7f0e", "p99": "#d62728"}
SLO_COLOUR = "#333333"

#: Outcome groups drawn, in stacking order, with their colours (DESIGN §3 outcomes).
OUTCOME_GROUPS: dict[str, tuple[frozenset[str], str]] = {
    "confirmed": (frozenset({Outcome.CONFIRMED.value}), "#2ca02c"),
    "pending": (frozenset({Outcome.PENDING.value}), "#f2b701"),
    "failed": (frozenset({Outcome.FAILED.value}), "#d62728"),
    "errors (5xx, no answer)": (frozenset(o.value for o in ERROR_OUTCOMES), "#6a1b9a"),
    "other (ok, 409, 4xx)": (
        frozenset({Outcome.OK.value, Outcome.CONFLICT.value, Outcome.REJECTED.value}),
        "#b0b0b0",
    ),
}

_THRESHOLD = re.compile(r"^\s*(<=|<)\s*([0-9.eE+-]+)\s*$")


def rolling_latency(requests: pd.DataFrame, span_s: float) -> tuple[pd.DataFrame, float]:
    """p50/p95/p99 of the requests started in each window, and the window's width in seconds.

    Windows are window_s wide (1 s; a round width for long runs, about 60 windows), stepped by a
    quarter of that; `t_s` is the window's centre. A window without requests has NaN percentiles
    (a gap in the line, not a zero).
    """
    window_s = nice_seconds(span_s / 60)
    step_s = window_s / 4
    ordered = requests.sort_values("start_s", kind="stable")
    starts = ordered["start_s"].to_numpy(dtype=float)
    latencies = ordered["latency_ms"].to_numpy(dtype=float)
    rows = []
    for end in np.arange(window_s, max(span_s, window_s) + step_s / 2, step_s):
        lo, hi = np.searchsorted(starts, [end - window_s, end], side="left")
        chunk = latencies[lo:hi].tolist()
        rows.append(
            {
                "t_s": end - window_s / 2,
                "window_start_s": end - window_s,
                "window_end_s": end,
                "requests": len(chunk),
                **{key: percentile(chunk, float(key[1:])) for key in PERCENTILE_COLOURS},
            }
        )
    frame = pd.DataFrame(rows).astype({key: float for key in PERCENTILE_COLOURS})
    return frame, window_s


def latency_slos(entry: Mapping[str, Any], phases: tuple[Phase, ...]) -> pd.DataFrame:
    """The scenario's `latency_ms.pNN < X` (or <=) assertions as lines to draw: percentile, ms, span.

    A phase-scoped assertion spans its phase's windows; an unscoped one spans the whole run
    (start_s/end_s NaN).
    """
    rows = []
    for assertion in entry.get("assertions", []):
        metric = assertion["metric"]
        match = _THRESHOLD.match(assertion["expected"])
        if not metric.startswith("latency_ms.p") or metric[11:] not in PERCENTILE_COLOURS:
            continue
        if match is None:
            continue
        key = metric[11:]
        spans = [(p.start_s, p.end_s) for p in phases if p.name == assertion["phase"]]
        if assertion["phase"] is None:
            spans = [(math.nan, math.nan)]
        for start, end in spans:
            rows.append(
                {
                    "percentile": key,
                    "operator": match.group(1),
                    "threshold_ms": float(match.group(2)),
                    "phase": assertion["phase"],
                    "start_s": start,
                    "end_s": end,
                    "passed": assertion["passed"],
                }
            )
    columns = ["percentile", "operator", "threshold_ms", "phase", "start_s", "end_s", "passed"]
    return pd.DataFrame(rows, columns=columns)


def plot_latency(scenario: ScenarioData, folder: Path) -> Plot:
    """Latency over time: p50/p95/p99 in rolling windows (ms), fault phases shaded and labelled,
    the scenario's latency SLOs as dashed lines."""
    slug = f"{scenario.name}-latency"
    title = f"{scenario.name}: latency over time"
    if scenario.requests.empty:
        return skipped(slug, title, "no requests in the event log, so no latency to plot")
    span = scenario.span_s
    frame, window_s = rolling_latency(scenario.requests, span)
    slos = latency_slos(scenario.entry, scenario.phases)
    with plot_style():
        figure, ax = time_figure(3.6)
        ax.set_title(f"{title} (rolling {window_s:g} s windows, nearest-rank percentiles)")
        shading = shade_phases(ax, scenario.phases, span)
        for key, colour in PERCENTILE_COLOURS.items():
            ax.plot(frame["t_s"], frame[key], color=colour, linewidth=1.4, label=key)
        _latency_scale(ax, frame, slos)
        for slo in slos.itertuples():
            start = 0.0 if math.isnan(slo.start_s) else slo.start_s
            end = span if math.isnan(slo.end_s) else slo.end_s
            where = f" in {slo.phase}" if slo.phase else ""
            ax.hlines(
                slo.threshold_ms, start, end, colors=SLO_COLOUR, linestyles="--", linewidth=1.1
            )
            ax.annotate(
                f"SLO {slo.percentile}{where} {slo.operator} {slo.threshold_ms:g} ms",
                xy=(end, slo.threshold_ms),
                xytext=(-3, 2),
                textcoords="offset points",
                ha="right",
                va="bottom",
                fontsize=8,
                color=SLO_COLOUR,
                bbox={
                    "boxstyle": "square,pad=0.1",
                    "facecolor": "white",
                    "alpha": 0.75,
                    "linewidth": 0,
                },
            )
        ax.set_ylabel("latency (ms)")
        time_axis(ax, span)
        legend_outside(ax)
        fit_time_figure(figure, shading.label_rows)
        png = save(figure, folder / f"{slug}.png")
    note = (
        f"Each point: requests started in a {window_s:g} s window (centred), stepped every "
        f"{window_s / 4:g} s; gaps are windows without requests."
    )
    note += " Dashed: the scenario's latency SLOs." if not slos.empty else ""
    return Plot(
        slug, title, png, data=frame, phases=shading.phases, note=note, extra={"slos": slos}
    )


def _latency_scale(ax: Axes, frame: pd.DataFrame, slos: pd.DataFrame) -> None:
    """Log scale when fast and slow latencies differ by more than 30×, else linear from 0."""
    parts = [frame[list(PERCENTILE_COLOURS)].stack(), slos["threshold_ms"]]
    values = (
        pd.concat([p for p in parts if not p.empty])
        if any(not p.empty for p in parts)
        else parts[0]
    )
    values = values[values > 0]
    if not values.empty and values.max() / values.min() > 30:
        plain_log_scale(ax)
    else:
        ax.set_ylim(bottom=0)


def outcome_rates(requests: pd.DataFrame, span_s: float) -> tuple[pd.DataFrame, float]:
    """Requests per second by outcome group in buckets of bin_s, by start time.

    One row per bucket (`t_s` is its left edge), one column per `OUTCOME_GROUPS` key.
    """
    masks = {
        group: requests["outcome"].isin(outcomes).to_numpy()
        for group, (outcomes, _) in OUTCOME_GROUPS.items()
    }
    frame, bin_s = rates_per_bucket(requests["start_s"].to_numpy(dtype=float), masks, span_s)
    return frame, bin_s


def plot_outcomes(scenario: ScenarioData, folder: Path) -> Plot:
    """Outcomes over time: confirmed / pending / failed / errors per second, stacked."""
    slug = f"{scenario.name}-outcomes"
    title = f"{scenario.name}: outcomes over time"
    if scenario.requests.empty:
        return skipped(slug, title, "no requests in the event log, so no outcomes to plot")
    span = scenario.span_s
    frame, bin_s = outcome_rates(scenario.requests, span)
    with plot_style():
        figure, ax = time_figure(3.4)
        ax.set_title(f"{title} (by request start, {bin_s:g} s buckets)")
        shading = shade_phases(ax, scenario.phases, span)
        present = [
            (group, frame[group].to_numpy(), colour)
            for group, (_, colour) in OUTCOME_GROUPS.items()
            if frame[group].sum() > 0
        ]
        stacked_rates(ax, frame["t_s"].tolist(), bin_s, present)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("requests per second")
        time_axis(ax, span)
        legend_outside(ax)
        fit_time_figure(figure, shading.label_rows)
        png = save(figure, folder / f"{slug}.png")
    absent = [g for g in OUTCOME_GROUPS if frame[g].sum() == 0]
    note = f"No request ended {' / '.join(absent)}." if absent else ""
    return Plot(slug, title, png, data=frame, phases=shading.phases, note=note)


def retries_per_request(provider_calls: pd.DataFrame) -> pd.DataFrame:
    """How many requests (idempotency keys) made each number of retries at the provider.

    Attempts per key are the provider calls carrying it (the service's retries and the outbox
    relay's alike); retries are attempts − 1. Calls without a key are not counted.
    """
    keyed = provider_calls[provider_calls["idempotency_key"].notna()]
    attempts = keyed.groupby("idempotency_key").size()
    histogram = (attempts - 1).value_counts().sort_index()
    return pd.DataFrame({"retries": histogram.index.astype(int), "requests": histogram.to_numpy()})


def plot_retries(scenario: ScenarioData, folder: Path) -> Plot:
    """Histogram of retries per request, from the provider's call log."""
    slug = f"{scenario.name}-retries"
    title = f"{scenario.name}: retries per request"
    frame = retries_per_request(scenario.provider_calls)
    if frame.empty:
        return skipped(
            slug,
            title,
            "no provider call carried an idempotency key, so there are "
            "no attempts per request to count",
        )
    with plot_style():
        figure, (ax,) = new_figure(3.0)
        ax.set_title(f"{title} (provider calls per idempotency key − 1)")
        bars = ax.bar(frame["retries"], frame["requests"], width=0.8, color="#4c72b0")
        ax.bar_label(bars, fontsize=8, padding=2)
        # At least 0–3 on the axis, so "no retries" reads as one bar at 0, not a full-width slab.
        shown = max(3, int(frame["retries"].max()))
        ax.set_xticks(range(shown + 1))
        ax.set_xlim(-0.6, shown + 0.6)
        ax.set_xlabel("retries per request")
        ax.set_ylabel("requests (idempotency keys)")
        ax.set_ylim(0, frame["requests"].max() * 1.15)
        integer_y(ax)
        ax.grid(axis="x", visible=False)
        png = save(figure, folder / f"{slug}.png")
    total = int(frame["requests"].sum())
    note = f"{total} keys; most retries for one key: {int(frame['retries'].max())}."
    return Plot(slug, title, png, data=frame, note=note)
