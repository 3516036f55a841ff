"""How numbers, verdicts and metric names are written in the HTML and the Markdown summary.

One place so both say the same thing the same way. Pure: values in, text out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

#: The scenario metrics the report tabulates and compares: (block, key, label, better).
#: `better` says which way is an improvement in a comparison: "lower", "higher" or "" (neutral).
METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("requests", "total", "requests", ""),
    ("requests", "rps", "requests per second", ""),
    ("requests", "success_rate", "success rate", "higher"),
    ("latency_ms", "p50", "latency p50 (ms)", "lower"),
    ("latency_ms", "p95", "latency p95 (ms)", "lower"),
    ("latency_ms", "p99", "latency p99 (ms)", "lower"),
    ("latency_ms", "max", "latency max (ms)", "lower"),
    ("retries", "retries_total", "retries total", "lower"),
    ("retries", "per_request_max", "retries per request, max", "lower"),
    ("calendar", "calendar_calls_total", "calendar calls", "lower"),
    ("calendar", "duplicate_bookings", "duplicate bookings", "lower"),
    ("circuit_breaker", "circuit_breaker_open_count", "breaker openings", "lower"),
    ("circuit_breaker", "open_seconds", "breaker open (s)", "lower"),
    ("outbox", "backlog_max", "outbox backlog max", "lower"),
    ("outbox", "backlog_final", "outbox backlog final", "lower"),
    ("outbox", "drain_seconds", "outbox drain (s)", "lower"),
    ("outbox", "dead_lettered", "dead-lettered", "lower"),
)


def metric_value(entry: Mapping[str, Any], block: str, key: str) -> float | int | None:
    """One metric of a scenario's results entry (None when nobody measured it)."""
    value = entry.get(block, {}).get(key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def number(value: Any, digits: int = 1) -> str:
    """A metric for a table: "–" for None, ints as ints, rates to 4 places, others to `digits`."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) >= 1000:
            return f"{value:.0f}"
        if 0 < abs(value) < 1 and digits < 4:
            return f"{value:.4f}"
        return f"{value:.{digits}f}"
    return str(value)


def signed(value: float | int | None, digits: int = 1) -> str:
    """A delta with its sign: "+12.0", "−0.0010", "0"; "–" when either side was absent."""
    if value is None:
        return "–"
    if value == 0:
        return "0"
    text = number(abs(value), digits)
    return ("+" if value > 0 else "−") + text


def percent_change(before: float | int | None, after: float | int | None) -> str:
    """Relative change from before to after: "+12%", or "" when it has no meaning."""
    if before is None or after is None or before == 0:
        return ""
    return f"{(after - before) / abs(before) * 100:+.0f}%"


def verdict(passed: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def witness_lines(witness: list[Mapping[str, Any]], limit: int = 20) -> list[str]:
    """Each witness entry as one compact JSON line (keys sorted), at most limit of them."""
    lines = [json.dumps(entry, sort_keys=True, ensure_ascii=False) for entry in witness[:limit]]
    if len(witness) > limit:
        lines.append(f"… and {len(witness) - limit} more")
    return lines


def short_digest(digest: str) -> str:
    """The first 12 hex digits of a sha256, as the runner prints it."""
    return digest[:12]
