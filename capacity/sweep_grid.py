"""The grid of a capacity sweep: `--sweep KEY=VALUES` axes in, every combination out.

Owns the axis grammar, its errors and the grid's size bound; nothing runs here. An axis is a
dotted override key (`sim.config.apply_overrides`: `load.rate_rps`, `settings.retry_max_attempts`,
`twin.cpu_create_ms`) and its values, written as

- a range `START..STOP:STEP` (STOP included when the steps land on it; `:STEP` defaults to 1),
  e.g. `load.rate_rps=100..3000:100`;
- a list `A,B,C`, e.g. `settings.retry_max_attempts=2,3,5` or `settings.protect_outbox=true,false`;
- a single value, e.g. `load.users=200`.

Numbers stay ints when they are written as ints. The grid is the cartesian product of the axes in
the order given, capped at `MAX_GRID_POINTS`. Pure: no I/O, no clock.

>>> parse_axis("load.rate_rps=100..300:100").values
(100, 200, 300)
>>> [dict(p) for p in build_grid([parse_axis("a=1,2"), parse_axis("b=x")])]
[{'a': 1, 'b': 'x'}, {'a': 2, 'b': 'x'}]
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

#: A sweep larger than this is refused: at ~1 s a point it is an hour of both cores.
MAX_GRID_POINTS = 5000
RATE_KEY = "load.rate_rps"
_GRAMMAR = "write KEY=START..STOP:STEP (e.g. load.rate_rps=100..3000:100) or KEY=A,B,C"
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


class SweepSpecError(ValueError):
    """A `--sweep` spec (or the grid it makes) that cannot be run; the message says what to fix."""


@dataclass(frozen=True)
class SweepAxis:
    """One swept override: its dotted key and the values it takes, in order."""

    key: str
    values: tuple[Any, ...]


def parse_axis(spec: str) -> SweepAxis:
    """One `--sweep` spec as an axis, or SweepSpecError naming the bad part."""
    key, sep, text = spec.partition("=")
    key = key.strip()
    if not sep:
        raise SweepSpecError(f"--sweep '{spec}': no '='; {_GRAMMAR}")
    if not _KEY.match(key):
        raise SweepSpecError(
            f"--sweep '{spec}': '{key}' is not a dotted key like load.rate_rps; {_GRAMMAR}"
        )
    text = text.strip()
    if not text:
        raise SweepSpecError(f"--sweep '{spec}': no values after '='; {_GRAMMAR}")
    if ".." in text:
        values = _range_values(spec, text)
    else:
        parts = [part.strip() for part in text.split(",")]
        if any(not part for part in parts):
            raise SweepSpecError(f"--sweep '{spec}': an empty item in the list '{text}'")
        values = tuple(_scalar(part) for part in parts)
    if len(set(map(repr, values))) != len(values):
        raise SweepSpecError(f"--sweep '{spec}': a value is listed twice")
    return SweepAxis(key, values)


def parse_axes(specs: Sequence[str]) -> list[SweepAxis]:
    """Every `--sweep` spec, each key once."""
    axes = [parse_axis(spec) for spec in specs]
    seen: set[str] = set()
    for axis in axes:
        if axis.key in seen:
            raise SweepSpecError(
                f"--sweep: '{axis.key}' is swept twice; give it one spec with all its values"
            )
        seen.add(axis.key)
    return axes


def grid_size(axes: Sequence[SweepAxis], copies: int = 1) -> int:
    """How many points the axes make (times `copies`, e.g. the number of scenarios)."""
    return math.prod(len(axis.values) for axis in axes) * copies


def check_grid_size(
    axes: Sequence[SweepAxis], copies: int = 1, limit: int = MAX_GRID_POINTS
) -> int:
    """The grid's size, or SweepSpecError when it is over `limit`."""
    size = grid_size(axes, copies)
    if size > limit:
        shape = " x ".join(f"{len(a.values)} {a.key}" for a in axes)
        if copies > 1:
            shape += f" x {copies} scenarios"
        raise SweepSpecError(
            f"--sweep: the grid has {size} points ({shape}); the limit is {limit}. "
            "Widen a step, drop values or split the sweep into several runs"
        )
    return size


def build_grid(axes: Sequence[SweepAxis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values as an overrides dict, the first axis varying
    slowest — but the rate axis, when there is one, always fastest, so the rows of one
    configuration sit together in rate order."""
    ordered = sorted(axes, key=lambda axis: axis.key == RATE_KEY)
    keys = [axis.key for axis in ordered]
    return [
        dict(zip(keys, combination, strict=True))
        for combination in itertools.product(*(axis.values for axis in ordered))
    ]


def _range_values(spec: str, text: str) -> tuple[Any, ...]:
    bounds, _, step_text = text.partition(":")
    start_text, _, stop_text = bounds.partition("..")
    start = _decimal(spec, start_text, "start")
    stop = _decimal(spec, stop_text, "stop")
    step = _decimal(spec, step_text, "step") if step_text else Decimal(1)
    if step <= 0:
        raise SweepSpecError(f"--sweep '{spec}': the step must be > 0 (got {step_text})")
    if stop < start:
        raise SweepSpecError(
            f"--sweep '{spec}': the range runs backwards ({start_text} > {stop_text}); "
            "write START..STOP with START <= STOP"
        )
    count = int((stop - start) / step) + 1
    if count > MAX_GRID_POINTS:
        raise SweepSpecError(
            f"--sweep '{spec}': the range has {count} values; the limit is {MAX_GRID_POINTS}"
        )
    integral = all(d == d.to_integral_value() for d in (start, step))
    values = [start + step * i for i in range(count)]
    return tuple(int(v) if integral else float(v) for v in values)


def _decimal(spec: str, text: str, part: str) -> Decimal:
    text = text.strip()
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        raise SweepSpecError(
            f"--sweep '{spec}': the range's {part} '{text}' is not a number; {_GRAMMAR}"
        )
    return value


def _scalar(text: str) -> Any:
    """A list item as the YAML scalar it would be: int, float, bool, or text."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text
