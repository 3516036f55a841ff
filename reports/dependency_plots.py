"""Plots of the service's dependency side: outbox backlog, circuit breaker state, provider calls.

The backlog and breaker come from the sampled `/metrics` time series (timeseries.jsonl), the calls
and injected faults from the provider's call log (provider_calls.jsonl). Each function returns the
`Plot` with the frame it drew, or a skipped `Plot` saying which data is absent. Pure apart from
writing the PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.transforms import blended_transform_factory

from contract.evidence import BreakerState
from reports.figures import (
    Plot,
    fit_time_figure,
    integer_y,
    legend_outside,
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

BREAKER_COLOURS = {
    BreakerState.CLOSED.value: "#2ca02c",
    BreakerState.HALF_OPEN.value: "#f2b701",
    BreakerState.OPEN.value: "#d62728",
}

#: Colours of the provider's fault kinds (docs/run_folder.md); "served" is a call served normally.
FAULT_COLOURS = {
    "served": "#4c72b0",
    "transient_error": "#ff7f0e",
    "outage": "#d62728",
    "hang": "#6a1b9a",
    "permanent_error": "#8c564b",
    "commit_then_fail": "#e377c2",
}
_UNKNOWN_FAULT_COLOUR = "#7f7f7f"

_NO_SERIES = "the run recorded no time series (time_series is null in the results)"
_EMPTY_SERIES = "timeseries.jsonl holds no samples"


def _series_absent(scenario: ScenarioData) -> str | None:
    if scenario.samples is None:
        return _NO_SERIES
    if scenario.samples.empty:
        return _EMPTY_SERIES
    return None


def plot_outbox(scenario: ScenarioData, folder: Path) -> Plot:
    """Outbox backlog over time: rows waiting to reach the calendar, as sampled."""
    slug = f"{scenario.name}-outbox"
    title = f"{scenario.name}: outbox backlog"
    absent = _series_absent(scenario)
    if absent or scenario.samples is None:
        return skipped(slug, title, absent or _NO_SERIES)
    span = scenario.span_s
    frame = scenario.samples[["t_s", "outbox_length"]].sort_values("t_s", kind="stable")
    frame = frame.reset_index(drop=True)
    peak = int(frame["outbox_length"].max())
    with plot_style():
        figure, ax = time_figure(3.0)
        ax.set_title(f"{title} (sampled from /metrics)")
        shading = shade_phases(ax, scenario.phases, span)
        ax.step(frame["t_s"], frame["outbox_length"], where="post", color="#4c72b0", linewidth=1.4)
        ax.fill_between(
            frame["t_s"], frame["outbox_length"], step="post", color="#4c72b0", alpha=0.2
        )
        if len(frame) <= 120:  # sample dots help on a short run, clutter a long one
            ax.plot(frame["t_s"], frame["outbox_length"], "o", color="#4c72b0", markersize=2.5)
        ax.set_ylim(0, max(1.0, peak * 1.2))
        integer_y(ax)
        if peak == 0:
            ax.text(
                0.5,
                0.5,
                "backlog stayed at 0",
                transform=ax.transAxes,
                ha="center",
                va="center",
                color="#555555",
            )
        ax.set_ylabel("outbox rows waiting")
        time_axis(ax, span)
        fit_time_figure(figure, shading.label_rows)
        png = save(figure, folder / f"{slug}.png")
    note = f"{len(frame)} samples; peak {peak} rows, final {int(frame['outbox_length'].iloc[-1])}."
    return Plot(slug, title, png, data=frame, phases=shading.phases, note=note)


def breaker_segments(samples: pd.DataFrame, span_s: float) -> pd.DataFrame:
    """Spans of one breaker state: each sample's state holds until the next sample.

    The last state is held to span_s. Adjacent samples in one state make one segment.
    """
    ordered = samples.sort_values("t_s", kind="stable")
    times = ordered["t_s"].tolist() + [max(span_s, float(ordered["t_s"].max()))]
    rows: list[dict[str, object]] = []
    for state, start, end in zip(ordered["breaker_state"], times, times[1:], strict=False):
        if rows and rows[-1]["state"] == state:
            rows[-1]["end_s"] = end
        else:
            rows.append({"state": state, "start_s": start, "end_s": end})
    return pd.DataFrame(rows, columns=["state", "start_s", "end_s"])


def plot_breaker(scenario: ScenarioData, folder: Path) -> Plot:
    """The circuit breaker's state as a timeline band, fault phases shaded behind it."""
    slug = f"{scenario.name}-breaker"
    title = f"{scenario.name}: circuit breaker state"
    absent = _series_absent(scenario)
    if absent or scenario.samples is None:
        return skipped(slug, title, absent or _NO_SERIES)
    span = scenario.span_s
    frame = breaker_segments(scenario.samples, span)
    with plot_style():
        figure, ax = time_figure(1.9)
        ax.set_title(f"{title} (sampled from /metrics)")
        shading = shade_phases(ax, scenario.phases, span)
        for state, colour in BREAKER_COLOURS.items():
            spans = frame[frame["state"] == state]
            if spans.empty:
                continue
            ax.broken_barh(
                list(zip(spans["start_s"], spans["end_s"] - spans["start_s"], strict=True)),
                (0.3, 0.4),
                facecolors=colour,
                label=state.replace("_", "-"),
            )
        ax.set_ylim(0, 1)
        ax.set_yticks([])
        ax.grid(axis="y", visible=False)
        time_axis(ax, span)
        legend_outside(ax)
        fit_time_figure(figure, shading.label_rows)
        png = save(figure, folder / f"{slug}.png")
    open_s = (frame["end_s"] - frame["start_s"])[frame["state"] == BreakerState.OPEN.value].sum()
    note = f"Open for {open_s:.1f} s in total (between samples, so ± one sampling interval)."
    return Plot(slug, title, png, data=frame, phases=shading.phases, note=note)


def provider_call_rates(calls: pd.DataFrame, span_s: float) -> tuple[pd.DataFrame, float]:
    """Provider calls per second by how they were served ("served" or the injected fault)."""
    kinds = calls["fault"].fillna("served")
    ordered = [k for k in FAULT_COLOURS if k in set(kinds)] + sorted(
        set(kinds) - set(FAULT_COLOURS)
    )
    masks = {kind: (kinds == kind).to_numpy() for kind in ordered}
    frame, bin_s = rates_per_bucket(calls["t_s"].to_numpy(dtype=float), masks, span_s)
    return frame, bin_s


def plot_provider_calls(scenario: ScenarioData, folder: Path) -> Plot:
    """Provider calls and injected faults over time, stacked by fault kind."""
    slug = f"{scenario.name}-provider"
    title = f"{scenario.name}: provider calls and injected faults"
    if scenario.provider_calls.empty:
        return skipped(slug, title, "provider_calls.jsonl holds no calls")
    span = scenario.span_s
    frame, bin_s = provider_call_rates(scenario.provider_calls, span)
    with plot_style():
        figure, ax = time_figure(3.2)
        ax.set_title(f"{title} ({bin_s:g} s buckets)")
        shading = shade_phases(ax, scenario.phases, span)
        series = [
            (
                kind if kind == "served" else f"fault: {kind}",
                frame[kind].to_numpy(),
                FAULT_COLOURS.get(kind, _UNKNOWN_FAULT_COLOUR),
            )
            for kind in frame.columns[1:]
        ]
        stacked_rates(ax, frame["t_s"].tolist(), bin_s, series)
        ax.set_ylim(0, max(1.0, float(frame.iloc[:, 1:].sum(axis=1).max())) * 1.18)
        _fault_rug(ax, scenario.provider_calls)
        ax.set_ylabel("provider calls per second")
        time_axis(ax, span)
        legend_outside(ax)
        fit_time_figure(figure, shading.label_rows)
        png = save(figure, folder / f"{slug}.png")
    faulted = int((scenario.provider_calls["fault"].notna()).sum())
    note = f"{len(scenario.provider_calls)} calls, {faulted} with an injected fault."
    if faulted:
        note += " The ticks along the top mark each faulted call, so a rare fault shows."
    return Plot(slug, title, png, data=frame, phases=shading.phases, note=note)


def _fault_rug(ax: Axes, calls: pd.DataFrame) -> None:
    """A tick at the top of the axes for every faulted call, in its fault's colour."""
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    faulted = calls[calls["fault"].notna()]
    for kind, group in faulted.groupby("fault", sort=True):
        ax.plot(
            group["t_s"],
            np.full(len(group), 0.94),
            linestyle="none",
            marker="|",
            markersize=9,
            markeredgewidth=1.2,
            transform=transform,
            color=FAULT_COLOURS.get(str(kind), _UNKNOWN_FAULT_COLOUR),
        )
