"""The run report page: the verdict first, then capacity, then each scenario with its plots.

One self-contained file (see `reports.html_parts`): every PNG embedded as a data URI, each `<img>`
also naming its file in `data-file` and linking to it, for embedding elsewhere. Every value from a
results file is escaped. Pure: a `Report` (see `reports.render`) in, HTML text out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.formatting import (
    METRICS,
    metric_value,
    number,
    short_digest,
    verdict,
    witness_lines,
)
from reports.html_parts import badge, figure, page, table, verdict_cell

if TYPE_CHECKING:
    from reports.render import Report, ScenarioSection


def report_html(report: Report) -> str:
    """The run's report page: verdict first, then capacity, then every scenario."""
    run, document = report.run.run, report.run.document
    passed = document["summary"]["passed_all"]
    head = f"Rehearsal run {run['id']}: {verdict(passed)}"
    parts = [
        f"<h1>Rehearsal run {escape(run['id'])} {badge(passed)}</h1>",
        _nav([s.scenario.name for s in report.sections], bool(report.capacity)),
        _run_facts(run, report.run.path),
        _verdict_summary(document),
        _failures(document),
        _scenario_table(document["scenarios"]),
    ]
    if report.capacity:
        parts.append(_capacity(report))
    parts.extend(_scenario_section(section) for section in report.sections)
    return page(head, parts)


def _nav(names: Sequence[str], capacity: bool) -> str:
    links = ['<a href="#verdict">verdict</a>']
    if capacity:
        links.append('<a href="#capacity">capacity</a>')
    links.extend(f'<a href="#s-{escape(n)}">{escape(n)}</a>' for n in names)
    return f"<nav>{' '.join(links)}</nav>"


def _run_facts(run: Mapping[str, Any], path: object) -> str:
    facts = [
        ("run", run["id"]),
        ("mode", run["mode"]),
        ("seed", run["seed"]),
        ("git revision", run["git_revision"] or "unknown"),
        ("host", run["host"]),
        ("started at", run["started_at"]),
        ("duration", f"{number(run['duration_s'])} s"),
        ("results file", str(path)),
    ]
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in facts)
    return f'<table class="facts">{rows}</table>'


def _verdict_summary(document: Mapping[str, Any]) -> str:
    counts = document["summary"]["counts"]
    return (
        f'<h2 id="verdict">Verdict</h2><p>{counts["passed"]} of {counts["scenarios"]} scenarios '
        f"passed; {counts['assertions_failed']} assertion(s) and {counts['invariants_failed']} "
        "invariant(s) failed.</p>"
    )


def _failures(document: Mapping[str, Any]) -> str:
    items = []
    for s in document["scenarios"]:
        link = f'<a href="#s-{escape(s["name"])}">{escape(s["name"])}</a>'
        for a in s["assertions"]:
            if not a["passed"]:
                items.append(
                    f"<li>{link}: assertion <code>{escape(a['expression'])}</code> — expected "
                    f"<code>{escape(a['expected'])}</code>, actual "
                    f"<b>{escape(number(a['actual'], 3))}</b></li>"
                )
        for i in s["invariants"]:
            if not i["passed"]:
                items.append(
                    f"<li>{link}: invariant <code>{escape(i['name'])}</code> — "
                    f"{i['actual']} violation(s), expected {i['expected']}</li>"
                )
    if not items:
        return '<p class="pass">Every assertion and invariant held.</p>'
    return "<h3>What failed</h3><ul>" + "".join(items) + "</ul>"


def _scenario_table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for s in scenarios:
        cls = "" if s["passed"] else ' class="failed"'
        cells = [
            f'<td><a href="#s-{escape(s["name"])}">{escape(s["name"])}</a></td>',
            verdict_cell(s["passed"]),
            f'<td>{escape(s["mode"])}</td><td class="num">{s["seed"]}</td>',
            f'<td class="num">{number(s["requests"]["total"])}</td>',
            f'<td class="num">{number(s["latency_ms"]["p95"])}</td>',
            f'<td class="num">{number(s["requests"]["success_rate"], 4)}</td>',
            f'<td class="num">{number(s["calendar"]["duplicate_bookings"])}</td>',
            f'<td class="num">{number(s["outbox"]["backlog_final"])}</td>',
            f'<td class="mono" title="{escape(s["digest"])}">{short_digest(s["digest"])}</td>',
        ]
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    header = [
        "scenario",
        "verdict",
        "mode",
        "seed",
        "requests",
        "p95 (ms)",
        "success rate",
        "duplicates",
        "backlog final",
        "digest",
    ]
    return table(header, rows)


def _scenario_section(section: ScenarioSection) -> str:
    s = section.scenario.entry
    name = escape(s["name"])
    facts = (
        f"<p>mode {escape(s['mode'])} · seed {s['seed']} · {number(s['duration_s'])} s · "
        f"event log <code>{escape(s['event_log'])}</code><br>digest "
        f'<span class="mono">{escape(s["digest"])}</span></p>'
    )
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in section.scenario.notes)
    parts = [
        f'<h2 id="s-{name}">{name} {badge(s["passed"])}</h2>',
        facts,
        notes,
        "<h3>Assertions</h3>",
        _assertions(s["assertions"]),
        "<h3>Invariants</h3>",
        _invariants(s["invariants"]),
        "<h3>Metrics</h3>",
        _metrics(s),
        "<h3>Plots</h3>",
        *(figure(plot) for plot in section.plots),
    ]
    return "\n".join(parts)


def _assertions(assertions: Sequence[Mapping[str, Any]]) -> str:
    if not assertions:
        return "<p>No assertions.</p>"
    rows = []
    for a in assertions:
        cls = "" if a["passed"] else ' class="failed"'
        rows.append(
            f"<tr{cls}><td><code>{escape(a['expression'])}</code></td>"
            f"<td><code>{escape(a['expected'])}</code></td>"
            f'<td class="num">{escape(number(a["actual"], 3))}</td>{verdict_cell(a["passed"])}'
            f"<td>{escape(a['detail'] or '')}</td></tr>"
        )
    return table(["expression", "expected (threshold)", "actual", "verdict", "detail"], rows)


def _invariants(invariants: Sequence[Mapping[str, Any]]) -> str:
    if not invariants:
        return "<p>No invariants.</p>"
    rows = []
    for i in invariants:
        cls = "" if i["passed"] else ' class="failed"'
        witness = "\n".join(witness_lines(i["witness"])) or "—"
        checked = "" if i["checked"] else " (not checked)"
        rows.append(
            f"<tr{cls}><td><code>{escape(i['name'])}</code><br>{escape(i['description'])}</td>"
            f"{verdict_cell(i['passed'])}"
            f'<td class="num">{i["expected"]}</td><td class="num">{i["actual"]}{checked}</td>'
            f"<td><pre>{escape(witness)}</pre></td><td>{escape(_detail(i))}</td></tr>"
        )
    header = [
        "invariant",
        "verdict",
        "violations allowed",
        "violations found",
        "witness (keys / ids)",
        "detail",
    ]
    return table(header, rows)


def _detail(invariant: Mapping[str, Any]) -> str:
    """The invariant's detail, unless it only repeats the witness shown beside it."""
    return "" if invariant["witness"] else str(invariant["detail"])


def _metrics(entry: Mapping[str, Any]) -> str:
    cells = [
        f"<td>{escape(label)}</td>"
        f'<td class="num">{number(metric_value(entry, block, key), 4 if key == "success_rate" else 1)}</td>'
        for block, key, label, _ in METRICS
    ]
    by_outcome = ", ".join(f"{k} {v}" for k, v in entry["requests"]["by_outcome"].items() if v)
    cells.append(f"<td>by outcome</td><td>{escape(by_outcome or 'none')}</td>")
    half = (len(cells) + 1) // 2
    rows = [
        f"<tr>{left}{right}</tr>"
        for left, right in zip(cells[:half], [*cells[half:], "<td></td><td></td>"], strict=False)
    ]
    return table(["metric", "value", "metric", "value"], rows)


def _capacity(report: Report) -> str:
    parts = [
        '<h2 id="capacity">Capacity</h2>',
        f"<p>SLO: p95 ≤ {report.slo.p95_ms:g} ms and success rate ≥ "
        f"{report.slo.success_rate:g}.</p>",
    ]
    for plot in report.capacity:
        parts.append(figure(plot))
        knees = plot.extra.get("knees")
        if knees is not None:
            parts.append(_knee_table(knees))
    if report.calibration is not None:
        parts.append(_calibration_table(report.calibration))
    return "\n".join(parts)


def _knee_table(knees: pd.DataFrame) -> str:
    rows = [
        f'<tr><td>{escape(str(k.config))}</td><td class="num">{_nan(k.knee_rps)}</td>'
        f'<td class="num">{_nan(k.first_breach_rps)}</td><td class="num">{_nan(k.p95_ms)}</td>'
        f'<td class="num">{_nan(k.success_rate, 4)}</td></tr>'
        for k in knees.itertuples()
    ]
    header = [
        "configuration",
        "knee (rps)",
        "first breach (rps)",
        "p95 at knee (ms)",
        "success at knee",
    ]
    return table(header, rows)


def _calibration_table(levels: pd.DataFrame) -> str:
    rows = [
        f'<tr><td class="num">{_nan(r.rate_rps)}</td>'
        + "".join(
            f'<td class="num">{_nan(getattr(r, c))}</td>'
            for c in ("sim_p50_ms", "real_p50_ms", "sim_p95_ms", "real_p95_ms")
        )
        + f'<td class="num">{_ratio(r.p50_error)}</td><td class="num">{_ratio(r.p95_error)}</td>'
        "</tr>"
        for r in levels.itertuples()
    ]
    header = [
        "rate (rps)",
        "sim p50 (ms)",
        "real p50 (ms)",
        "sim p95 (ms)",
        "real p95 (ms)",
        "p50 error",
        "p95 error",
    ]
    return table(header, rows)


def _nan(value: float, digits: int = 1) -> str:
    return "–" if pd.isna(value) else number(float(value), digits)


def _ratio(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:+.1%}"
