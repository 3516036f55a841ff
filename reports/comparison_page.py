"""The comparison page: two runs' facts and verdicts side by side and the metric deltas (B − A).

Pure: a `Comparison` (see `reports.render`) in, HTML text out.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

import pandas as pd

from reports.formatting import number, percent_change, signed
from reports.html_parts import figure, page, table, verdict_cell

if TYPE_CHECKING:
    from reports.render import Comparison


def comparison_html(comparison: Comparison) -> str:
    """The comparison page: both runs' facts, verdicts side by side, metric deltas (B − A)."""
    a, b = comparison.documents
    head = f"Rehearsal comparison: A {comparison.labels[0]} vs B {comparison.labels[1]}"
    facts = table(
        ["", "run A", "run B"],
        [
            f"<tr><td>{escape(label)}</td><td>{escape(str(a['run'][k]))}</td>"
            f"<td>{escape(str(b['run'][k]))}</td></tr>"
            for k, label in (
                ("id", "run"),
                ("mode", "mode"),
                ("seed", "seed"),
                ("git_revision", "git revision"),
                ("host", "host"),
                ("started_at", "started at"),
            )
        ]
        + [
            f"<tr><td>results file</td><td>{escape(str(comparison.paths[0]))}</td>"
            f"<td>{escape(str(comparison.paths[1]))}</td></tr>",
            f"<tr><td>verdict</td>{verdict_cell(a['summary']['passed_all'])}"
            f"{verdict_cell(b['summary']['passed_all'])}</tr>",
        ],
    )
    pairs = table(
        ["scenario", "run A", "run B"],
        [
            f"<tr><td>{escape(p.scenario)}</td>{_side(p.a_passed)}{_side(p.b_passed)}</tr>"
            for p in comparison.pairs.itertuples()
        ],
    )
    parts = [f"<h1>{escape(head)}</h1>", facts, "<h2>Verdicts</h2>", pairs, figure(comparison.plot)]
    parts.append("<h2>Metric deltas (B − A)</h2>")
    for scenario, rows in comparison.deltas.groupby("scenario", sort=False):
        parts.append(f"<h3>{escape(str(scenario))}</h3>")
        parts.append(_delta_table(rows))
    return page(head, parts)


def _side(passed: bool | None) -> str:
    if passed is None or pd.isna(passed):
        return "<td>not in this run</td>"
    return verdict_cell(bool(passed))


def _delta_table(rows: pd.DataFrame) -> str:
    lines = []
    for r in rows.itertuples():
        a, b = _maybe(r.a), _maybe(r.b)
        delta = _maybe(r.delta)
        digits = 4 if r.metric == "requests.success_rate" else 1
        cls = f' class="{r.assessment}"' if r.assessment in ("better", "worse") else ""
        lines.append(
            f'<tr><td>{escape(r.label)}</td><td class="num">{number(a, digits)}</td>'
            f'<td class="num">{number(b, digits)}</td>'
            f'<td class="num"><span{cls}>{signed(delta, digits)}</span></td>'
            f'<td class="num">{percent_change(a, b)}</td><td{cls}>{escape(r.assessment)}</td></tr>'
        )
    return table(["metric", "A", "B", "delta", "change", "B is"], lines)


def _maybe(value: Any) -> Any:
    """pandas turns None into NaN in numeric columns; the tables want None back."""
    return None if value is None or pd.isna(value) else value
