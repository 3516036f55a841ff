"""Per-step figures of a load shape, for the summary: where a ramp stops holding.

For a scenario whose load `shape` names its steps (`phase:`), one line per step with its
offered rate, the requests that started in it, p95 and success rate, computed exactly from the
event log like the SLO assertions. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

from contract.evidence import Phase, RequestRecord, request_metrics
from contract.spec import Scenario


def step_notes(
    scenario: Scenario, records: Sequence[RequestRecord], phases: Sequence[Phase]
) -> list[str]:
    steps = scenario.load.shape or []
    windows = {p.name: p for p in phases}
    lines = []
    for step in steps:
        window = windows.get(step.phase or "")
        if window is None:
            continue
        inside = [r for r in records if window.start_s <= r.start_s < window.end_s]
        metrics = request_metrics(inside, window.end_s - window.start_s)
        p95 = metrics["latency_ms"]["p95"]
        rate = metrics["requests"]["success_rate"]
        lines.append(
            f"step {step.phase}: offered {step.rate_rps:g} rps, achieved "
            f"{metrics['requests']['rps'] or 0:.0f} rps, p95 "
            f"{'-' if p95 is None else f'{p95:.1f} ms'}, success "
            f"{'-' if rate is None else f'{rate:.4f}'}"
        )
    return lines
