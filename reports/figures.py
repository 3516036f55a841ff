"""Figure plumbing shared by every plot family: style, the time axis, fault-phase shading, saving.

Figures are built with `matplotlib.figure.Figure` directly and saved through the Agg canvas, never
through pyplot: no GUI backend, no global figure registry to leak, safe inside another program.
A plot function returns a `Plot`: either drawn (a PNG and the frame it was drawn from) or skipped
(no PNG, a note saying why), so the page can say what is missing instead of showing empty axes.
Deterministic: the PNG carries no timestamp or software stamp.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from contract.evidence import Phase

#: Width of every figure, inches; at DPI this fits a laptop screen at full size.
WIDTH_IN = 10.0
DPI = 110
TIME_LABEL = "time since scenario start (s)"

#: Faint fills for fault phases, cycled; labels use the matching darker colour.
PHASE_FILLS = ("#fdd0a2", "#c6dbef", "#d9d9d9", "#dadaeb", "#c7e9c0")
PHASE_INKS = ("#a63603", "#08519c", "#525252", "#54278f", "#006d2c")

STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}

#: Share of the axes width one character of a phase label takes (8 pt text on WIDTH_IN).
_LABEL_CHAR_FRACTION = 0.0075
_LABEL_ROW_PT = 11
#: Fixed margins of time plots, inches: y label, legend column, x label, title.
_LEFT_IN = 0.75
_RIGHT_IN = 2.15
_BOTTOM_IN = 0.5
_TITLE_IN = 0.34


@dataclass(frozen=True)
class Plot:
    """One figure of the report.

    Drawn: `png` is its file and `data` the frame it was drawn from. Skipped: `png` is None and
    `note` says why. `phases` are the fault phases shaded on it, exactly as drawn.
    """

    slug: str
    title: str
    png: Path | None
    data: pd.DataFrame | None = None
    phases: tuple[Phase, ...] = ()
    note: str = ""
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def drawn(self) -> bool:
        """True when a PNG was written."""
        return self.png is not None


def skipped(slug: str, title: str, reason: str) -> Plot:
    """A plot that was not drawn because its data is absent; reason is shown on the page."""
    return Plot(slug=slug, title=title, png=None, note=reason)


@contextlib.contextmanager
def plot_style() -> Iterator[None]:
    """The report's matplotlib style, for the figures built inside the block only."""
    # The stubs type rcParams keys as Literals; STYLE holds valid keys (rcParams would reject others).
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]
        yield


def new_figure(height_in: float, nrows: int = 1, sharex: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of the report's width with nrows axes stacked (call inside `plot_style`)."""
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI, layout="constrained")
    axes = figure.subplots(nrows=nrows, ncols=1, sharex=sharex, squeeze=False)[:, 0]
    return figure, list(axes)


def time_figure(height_in: float) -> tuple[Figure, Axes]:
    """A figure for a plot over scenario time, with fixed margins (see `fit_time_figure`).

    Fixed margins, not constrained layout: every time plot of a scenario then puts t = 0 and
    t = end at the same pixels, so plots stacked on the page line up.
    """
    figure = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    return figure, figure.add_subplot()


def fit_time_figure(figure: Figure, label_rows: int) -> None:
    """Set the fixed margins: room for the y label, the legend column, title and phase labels."""
    width, height = figure.get_size_inches()
    top_in = _TITLE_IN + label_rows * _LABEL_ROW_PT / 72
    figure.subplots_adjust(
        left=_LEFT_IN / width,
        right=1 - _RIGHT_IN / width,
        bottom=_BOTTOM_IN / height,
        top=1 - top_in / height,
    )


def save(figure: Figure, path: Path) -> Path:
    """Write figure as a PNG at path (folders made) and return path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    return path


def time_axis(ax: Axes, span_s: float, label: bool = True) -> None:
    """Seconds since the scenario's start, 0 to span_s, the same on every plot of a scenario."""
    ax.set_xlim(0, span_s)
    if label:
        ax.set_xlabel(TIME_LABEL)


@dataclass(frozen=True)
class PhaseShading:
    """What `shade_phases` drew: the phases, and how many rows their labels took."""

    phases: tuple[Phase, ...]
    label_rows: int


def shade_phases(ax: Axes, phases: Sequence[Phase], span_s: float) -> PhaseShading:
    """Shade each fault phase and label it just above the axes; set the title first.

    Labels that would collide go on a new row; the title is lifted to clear the rows.
    """
    drawn: list[Phase] = []
    row_ends: list[float] = []
    transform = blended_transform_factory(ax.transData, ax.transAxes)
    for index, phase in enumerate(phases):
        if phase.end_s <= 0 or phase.start_s >= span_s:
            continue
        fill = PHASE_FILLS[index % len(PHASE_FILLS)]
        ink = PHASE_INKS[index % len(PHASE_INKS)]
        ax.axvspan(
            phase.start_s,
            max(phase.end_s, phase.start_s + span_s / 500),
            color=fill,
            alpha=0.6,
            zorder=0,
            linewidth=0,
        )
        # Edges drawn over the data, so a phase stays visible under a full stacked area.
        for edge in (phase.start_s, phase.end_s):
            ax.axvline(edge, color=ink, linestyle=(0, (3, 3)), linewidth=0.8, alpha=0.7, zorder=4)
        label = f"{phase.name} {phase.start_s:.1f}–{phase.end_s:.1f} s"  # real phases: wall clock, 0.1 s is plenty
        x0 = max(phase.start_s, 0.0) / span_s
        row = next((r for r, end in enumerate(row_ends) if end <= x0), len(row_ends))
        if row == len(row_ends):
            row_ends.append(0.0)
        row_ends[row] = x0 + len(label) * _LABEL_CHAR_FRACTION + 0.01
        ax.annotate(
            label,
            xy=(max(phase.start_s, 0.0), 1.0),
            xycoords=transform,
            xytext=(0, 3 + row * _LABEL_ROW_PT),
            textcoords="offset points",
            fontsize=8,
            color=ink,
            ha="left",
            va="bottom",
            annotation_clip=False,
        )
        drawn.append(phase)
    if row_ends:
        ax.set_title(ax.get_title(loc="left"), loc="left", pad=6 + _LABEL_ROW_PT * len(row_ends))
    return PhaseShading(tuple(drawn), len(row_ends))


def legend_outside(ax: Axes) -> None:
    """The legend to the right of the axes, so it never covers data."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0)


#: Widths a bucket or window may take, seconds: round numbers a reader can count with.
NICE_SECONDS = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def nice_seconds(at_least_s: float) -> float:
    """The smallest of `NICE_SECONDS` (or a whole hour count) that is at least at_least_s."""
    for width in NICE_SECONDS:
        if width >= at_least_s:
            return width
    return 3600.0 * math.ceil(at_least_s / 3600.0)


def bin_width_s(span_s: float) -> float:
    """Width of the per-second buckets: 1 s, widened to a round width so there are ≤ 300 bars."""
    return nice_seconds(span_s / 300)


def rates_per_bucket(
    times_s: np.ndarray, masks: dict[str, np.ndarray], span_s: float
) -> tuple[pd.DataFrame, float]:
    """Events per second in round-width buckets, one column per mask (events it selects).

    One row per bucket (`t_s` is its left edge); times past the span land in the last bucket.
    Returns the frame and the bucket width.
    """
    bin_s = bin_width_s(span_s)
    edges = np.arange(0.0, span_s, bin_s)
    bucket = np.clip((times_s.astype(float) // bin_s).astype(int), 0, len(edges) - 1)
    frame = pd.DataFrame({"t_s": edges})
    for name, mask in masks.items():
        frame[name] = np.bincount(bucket[mask], minlength=len(edges)) / bin_s
    return frame, bin_s


def plain_log_scale(ax: Axes) -> None:
    """A log y axis labelled 1, 2, 5, 10, 20, 50 … (plain numbers, not powers of ten)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def integer_y(ax: Axes) -> None:
    """Whole-number ticks on the y axis, for counts (rows, requests)."""
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def stacked_rates(
    ax: Axes, left_edges: Sequence[float], bin_s: float, series: Sequence[tuple[str, Any, str]]
) -> None:
    """Stacked per-bucket rates as filled steps: (label, values, colour) from the bottom up.

    Filled steps rather than bars: adjacent bars leave hairline seams when rasterised.
    """
    x = [*left_edges, left_edges[-1] + bin_s]
    ys = [[*values, values[-1]] for _, values, _ in series]
    ax.stackplot(
        x,
        ys,
        step="post",
        labels=[label for label, _, _ in series],
        colors=[colour for _, _, colour in series],
        linewidth=0,
    )
