"""The knee rule (`contract.knees`): which sweep point holds, and where a configuration stops."""

from __future__ import annotations

import math

from capacity.sweep_table import format_knees
from contract.knees import DELIVERED_SHARE, find_knees, point_holds


def _row(config: str, rate: float, p95: float, *, failed: str = "", achieved: float | None = None):
    return {
        "config": config,
        "rate_rps": rate,
        "p95_ms": p95,
        "success_rate": 1.0,
        "achieved_rps": rate if achieved is None else achieved,
        "failed_slos": failed,
    }


def test_the_knee_is_the_last_holding_rate_before_the_first_breach() -> None:
    rows = [
        _row("a", 300, 90, failed="latency_ms.p95 < 50"),
        _row("a", 100, 10),
        _row("a", 200, 20),
        _row("a", 400, 20),  # holds again past a breach: still not the knee
        _row("b", 100, 90, failed="latency_ms.p95 < 50"),
        _row("c", 100, 10),
        _row("c", 200, 12, achieved=150),  # 75% delivered: the users waited
    ]
    found = {k.config: k for k in find_knees(rows)}
    assert (found["a"].knee_rps, found["a"].first_breach_rps, found["a"].p95_ms) == (200, 300, 20)
    assert found["b"].knee_rps is None and found["b"].first_breach_rps == 100
    assert (found["c"].knee_rps, found["c"].first_breach_rps) == (100, 200)
    assert "delivered 150 of 200 rps (75%" in found["c"].breach
    unbroken = find_knees([_row("d", 100, 1), _row("d", 200, 2)])[0]
    assert (unbroken.knee_rps, unbroken.first_breach_rps, unbroken.breach) == (200, None, "")
    assert "none in the swept range" in format_knees([unbroken])


def test_a_point_holds_only_with_its_slos_passed_and_its_load_delivered() -> None:
    assert point_holds(_row("a", 100, 10)) == (True, "")
    assert point_holds(_row("a", 100, 10, achieved=100 * DELIVERED_SHARE)) == (True, "")
    slo_failed, why = point_holds(_row("a", 100, 10, failed="latency_ms.p95 < 5"))
    assert not slo_failed and why == "SLO failed: latency_ms.p95 < 5"
    late, why = point_holds(_row("a", 100, 10, achieved=89))
    assert not late and why.startswith("delivered 89 of 100 rps (89%")
    both, why = point_holds(_row("a", 100, 10, failed="success_rate >= 0.999", achieved=50))
    assert not both and "SLO failed" in why and "delivered 50 of 100" in why


def test_a_point_from_a_csv_without_its_delivery_or_verdict_is_judged_by_what_it_has() -> None:
    # pandas reads an empty cell as NaN: neither a failed SLO nor an undelivered load.
    unknown = {"config": "x", "rate_rps": 100.0, "achieved_rps": math.nan, "failed_slos": math.nan}
    assert point_holds(unknown) == (True, "")
    assert point_holds({"config": "x", "rate_rps": 100.0}) == (True, "")
    (knee,) = find_knees([unknown, {**unknown, "rate_rps": 200.0, "failed_slos": "p95"}])
    assert (knee.knee_rps, knee.first_breach_rps, knee.p95_ms) == (100.0, 200.0, None)
