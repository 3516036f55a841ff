"""The event log's file format: byte-stable JSON Lines of frozen records, and atomic writes.

Sorted keys, a fixed float format (6 decimals), no spaces: one sim seed always gives one digest.
`write_jsonl`, `read_jsonl` and `write_atomic` touch only the file they are given; the rest is
pure. The records themselves are `contract.evidence`'s.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
import os
import tempfile
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

Record = TypeVar("Record")


def encode_json_value(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, floats with exactly six decimals.

    Byte-stable by construction, so one seed gives one digest. NaN and infinities are refused.
    """
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, enum.Enum):
        return json.dumps(value.value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write {value!r} to an event log: not a finite number")
        text = f"{value:.6f}"
        return "0.000000" if text == "-0.000000" else text
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return (
            "{" + ",".join(f"{json.dumps(str(k))}:{encode_json_value(v)}" for k, v in items) + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode_json_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to an event log")


def encode_jsonl(records: Iterable[Any]) -> bytes:
    """JSON Lines bytes for dataclass records, one canonical line each (`encode_json_value`).

    A float field holding an int (latency_ms=12) is written as a float, so both modes agree.
    """
    lines = []
    for record in records:
        hints = typing.get_type_hints(type(record))
        row = {}
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if isinstance(value, int) and not isinstance(value, bool) and _is_float(hints[f.name]):
                value = float(value)
            row[f.name] = dict(value) if isinstance(value, Mapping) else value
        lines.append(encode_json_value(row) + "\n")
    return "".join(lines).encode("utf-8")


def _is_float(hint: Any) -> bool:
    return hint is float or float in typing.get_args(hint)


def decode_jsonl(data: bytes, record_type: type[Record]) -> list[Record]:
    """Records of record_type from JSON Lines bytes; an unknown or missing field is an error."""
    hints = typing.get_type_hints(record_type)
    names = {f.name for f in dataclasses.fields(record_type)}  # type: ignore[arg-type]
    records = []
    for number, line in enumerate(data.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        unknown = sorted(set(row) - names)
        if unknown:
            raise ValueError(
                f"line {number}: unknown field(s) {unknown} for {record_type.__name__}"
            )
        try:
            records.append(record_type(**{k: _typed(hints[k], v) for k, v in row.items()}))
        except TypeError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
    return records


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    for candidate in typing.get_args(hint) or (hint,):
        if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
            return candidate(value)
        if candidate is float and isinstance(value, int):
            return float(value)
    return value


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write data to path via a temporary file and a rename: a crash never leaves half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> str:
    """Write records as canonical JSON Lines (atomically); return the sha256 of the bytes."""
    data = encode_jsonl(records)
    write_atomic(path, data)
    return sha256_hex(data)


def read_jsonl(path: str | os.PathLike[str], record_type: type[Record]) -> list[Record]:
    """Read records of record_type written by `write_jsonl`."""
    try:
        return decode_jsonl(Path(path).read_bytes(), record_type)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """The sha256 digest of data, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()
