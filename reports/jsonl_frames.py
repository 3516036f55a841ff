"""Reading a run folder's JSON Lines file into a pandas frame, checked against its record type.

The record types are `contract.evidence`'s dataclasses (RequestRecord, MetricSample,
ProviderCall): their fields are the columns, their type hints the checks. A row is refused when it
is not JSON, not an object, has an unknown or missing field, a null where the field is not
optional, text where a number belongs, or a value outside an enum; the error names the file and
the line. Checks run per column, not per value, so an hour-long event log loads in seconds
(`evidence.read_jsonl` builds one dataclass per line, which is exact but too slow for a report).
Read only.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from reports.errors import ReportInputError


@dataclass(frozen=True)
class _Column:
    """What a record field allows: its kind (number, enum, other), null, and enum values."""

    name: str
    kind: str
    optional: bool
    required: bool
    values: tuple[str, ...] = ()


def read_frame(path: Path, record_type: type[Any]) -> pd.DataFrame:
    """The records in a JSON Lines file as a frame: one column per field, in field order.

    Enums stay as their string values; an absent optional field is None. Raises ReportInputError
    naming the file and the first bad line.
    """
    columns = _columns(record_type)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be read ({exc.strerror})") from exc
    rows, line_numbers = _parse_lines(path, data, record_type.__name__, columns)
    names = [c.name for c in columns]
    frame = pd.DataFrame.from_records(rows, columns=names) if rows else pd.DataFrame(columns=names)
    for column in columns:
        bad, reason = _bad_values(frame[column.name], column)
        if bad is not None:
            value = frame[column.name].iloc[bad]
            raise ReportInputError(
                f"{path}, line {line_numbers[bad]}: {column.name} {reason} (got {value!r})"
            )
        if column.kind == "number":
            frame[column.name] = pd.to_numeric(frame[column.name])
    return frame


def _columns(record_type: type[Any]) -> list[_Column]:
    hints = typing.get_type_hints(record_type)
    columns = []
    for field in dataclasses.fields(record_type):
        hint = hints[field.name]
        args = set(typing.get_args(hint)) if _is_union(hint) else {hint}
        optional = type(None) in args
        args.discard(type(None))
        enums = [a for a in args if isinstance(a, type) and issubclass(a, enum.Enum)]
        if enums:
            kind, values = "enum", tuple(str(m.value) for m in enums[0])
        elif args & {int, float}:
            kind, values = "number", ()
        else:
            kind, values = "other", ()
        required = field.default is dataclasses.MISSING
        columns.append(_Column(field.name, kind, optional, required, values))
    return columns


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _parse_lines(
    path: Path, data: bytes, type_name: str, columns: list[_Column]
) -> tuple[list[dict[str, Any]], list[int]]:
    """Each non-blank line as a dict, with its line number; shape errors name the line."""
    names = {c.name for c in columns}
    required = {c.name for c in columns if c.required}
    rows: list[dict[str, Any]] = []
    line_numbers: list[int] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}, line {number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReportInputError(f"{where}: not valid JSON ({exc.msg})") from exc
        except UnicodeDecodeError as exc:
            raise ReportInputError(f"{where}: not UTF-8 text ({exc.reason})") from exc
        if not isinstance(row, dict):
            raise ReportInputError(f"{where}: must be a JSON object (got {type(row).__name__})")
        keys = row.keys()
        if not (required <= keys <= names):
            unknown, missing = sorted(keys - names), sorted(required - keys)
            problem = f"unknown field(s) {unknown}" if unknown else f"missing field(s) {missing}"
            raise ReportInputError(f"{where}: not a {type_name}: {problem}")
        rows.append(row)
        line_numbers.append(number)
    return rows, line_numbers


def _bad_values(series: pd.Series, column: _Column) -> tuple[int | None, str]:
    """The position of the first value the field does not allow, and why; (None, "") if none."""
    values = series.to_numpy(dtype=object)
    null = pd.isna(series).to_numpy()
    if not column.optional and null.any():
        return int(np.argmax(null)), "must not be null"
    if column.kind == "number":
        numeric = np.array(
            [isinstance(v, int | float) and not isinstance(v, bool) for v in values], dtype=bool
        )
        bad = ~(numeric | null)
        if bad.any():
            return int(np.argmax(bad)), "must be a number"
    if column.kind == "enum":
        bad = ~(series.isin(column.values).to_numpy() | null)
        if bad.any():
            return int(np.argmax(bad)), f"must be one of {', '.join(column.values)}"
    return None, ""
