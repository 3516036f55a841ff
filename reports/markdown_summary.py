"""summary.md: the verdict in GitHub-flavoured Markdown, for CI logs and pull requests.

Short on purpose: the verdict, the run's facts, one row per scenario, then every failed check with
its expected and actual value (invariants with their witness); each scenario's full assertion and
invariant list folds into a `<details>` block. Plots stay in the HTML. Pure: text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.formatting import number, percent_change, short_digest, signed, verdict, witness_lines

if TYPE_CHECKING:
    from reports.render import Comparison, Report

#: Witness entries shown per failed invariant in the summary (the HTML shows all it has).
WITNESS_SHOWN = 5


def report_markdown(report: Report) -> str:
    """The run's summary.md."""
    document = report.run.document
    run = document["run"]
    counts = document["summary"]["counts"]
    lines = [
        f"# Rehearsal run `{run['id']}`: {verdict(document['summary']['passed_all'])}",
        "",
        f"{counts['passed']}/{counts['scenarios']} scenarios passed · mode {run['mode']} · "
        f"seed {run['seed']} · revision `{run['git_revision'] or 'unknown'}` · host "
        f"{run['host']} · started {run['started_at']}",
        "",
        "| scenario | verdict | requests | p95 (ms) | success rate | duplicates | backlog final "
        "| digest |",
        "|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for s in document["scenarios"]:
        lines.append(
            f"| {s['name']} | **{verdict(s['passed'])}** | {number(s['requests']['total'])} | "
            f"{number(s['latency_ms']['p95'])} | {number(s['requests']['success_rate'], 4)} | "
            f"{number(s['calendar']['duplicate_bookings'])} | "
            f"{number(s['outbox']['backlog_final'])} | `{short_digest(s['digest'])}` |"
        )
    failures = _failures(document["scenarios"])
    lines += ["", "## Failed checks", ""] + (failures or ["None: every check held."])
    lines += ["", "## Checks per scenario", ""]
    for s in document["scenarios"]:
        lines += _details(s)
    skipped = [
        f"- {plot.title}: {plot.note}"
        for section in report.sections
        for plot in section.plots
        if not plot.drawn
    ]
    if skipped:
        lines += ["", "## Plots not drawn", "", *skipped]
    lines += ["", "Full report with plots: `report.html` beside this file.", ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _failures(scenarios: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for s in scenarios:
        for a in s["assertions"]:
            if not a["passed"]:
                detail = f" ({a['detail']})" if a["detail"] else ""
                lines.append(
                    f"- **{s['name']}**: assertion `{a['expression']}`: expected "
                    f"`{a['expected']}`, actual **{number(a['actual'], 3)}**{detail}"
                )
        for i in s["invariants"]:
            if not i["passed"]:
                detail = "" if i["witness"] else f" {i['detail']}"
                lines.append(
                    f"- **{s['name']}**: invariant `{i['name']}`: {i['actual']} violation(s) "
                    f"(allowed {i['expected']}).{detail}"
                )
                lines += [f"  - `{w}`" for w in witness_lines(i["witness"], WITNESS_SHOWN)]
    return lines


def _details(s: Mapping[str, Any]) -> list[str]:
    lines = [
        f"<details><summary>{s['name']}: {verdict(s['passed'])} · seed {s['seed']} · digest "
        f"{s['digest']}</summary>",
        "",
        "| check | expected | actual | verdict |",
        "|---|---|--:|---|",
    ]
    for a in s["assertions"]:
        lines.append(
            f"| `{_cell(a['expression'])}` | `{_cell(a['expected'])}` | "
            f"{number(a['actual'], 3)} | {verdict(a['passed'])} |"
        )
    for i in s["invariants"]:
        witness = "; ".join(witness_lines(i["witness"], WITNESS_SHOWN))
        actual = f"{i['actual']} violation(s)" + (f": {witness}" if witness else "")
        lines.append(
            f"| invariant `{i['name']}` | {i['expected']} violations | {_cell(actual)} | "
            f"{verdict(i['passed'])} |"
        )
    lines += ["", "</details>", ""]
    return lines


def comparison_markdown(comparison: Comparison) -> str:
    """The comparison's summary.md: verdicts side by side and the deltas that have a direction."""
    a, b = comparison.documents
    lines = [
        f"# Rehearsal comparison: A `{comparison.labels[0]}` vs B `{comparison.labels[1]}`",
        "",
        f"A: {verdict(a['summary']['passed_all'])} · revision "
        f"`{a['run']['git_revision'] or 'unknown'}` · B: {verdict(b['summary']['passed_all'])} · "
        f"revision `{b['run']['git_revision'] or 'unknown'}`",
        "",
        "| scenario | A | B |",
        "|---|---|---|",
    ]
    for p in comparison.pairs.itertuples():
        lines.append(f"| {p.scenario} | {_side(p.a_passed)} | {_side(p.b_passed)} |")
    lines += [
        "",
        "## Metric deltas (B − A)",
        "",
        "| scenario | metric | A | B | delta | change | B is |",
        "|---|---|--:|--:|--:|--:|---|",
    ]
    unchanged = 0
    for r in comparison.deltas.itertuples():
        if r.delta == 0 or (r.a is None and r.b is None):
            unchanged += 1
            continue
        digits = 4 if r.metric == "requests.success_rate" else 1
        lines.append(
            f"| {r.scenario} | {r.label} | {number(r.a, digits)} | {number(r.b, digits)} | "
            f"{signed(r.delta, digits)} | {percent_change(r.a, r.b)} | {r.assessment} |"
        )
    if unchanged:
        lines += ["", f"{unchanged} unchanged metric(s) not listed; the HTML lists them all."]
    lines.append("")
    return "\n".join(lines)


def _side(passed: bool | None) -> str:
    if passed is None or pd.isna(passed):
        return "not in this run"
    return f"**{verdict(bool(passed))}**"
