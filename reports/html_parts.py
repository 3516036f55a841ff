"""Building blocks of the HTML pages: the page shell and CSS, tables, verdict cells, figures.

Self-contained by construction: CSS inline, images as data URIs, no script, no external URL.
Callers escape the text they put in cells; these helpers escape what they are given as text.
Pure apart from reading a drawn PNG to embed it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

from reports.figures import Plot
from reports.formatting import verdict

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#f6f6f6}
main{max-width:1120px;margin:0 auto;padding:16px 24px 48px;background:#fff}
h1{font-size:22px;margin:8px 0 4px}h2{font-size:18px;margin:32px 0 8px;padding-top:8px;
border-top:2px solid #ddd}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1b7f2a;font-weight:600}.fail{color:#c0221f;font-weight:700}
tr.failed td{background:#fdecea}.badge{padding:1px 8px;border-radius:4px;color:#fff}
.badge.pass{background:#1b7f2a;color:#fff}.badge.fail{background:#c0221f;color:#fff}
code,pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{margin:0;white-space:pre-wrap;word-break:break-all}
figure{margin:10px 0 18px}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#555}.skipped{color:#7a5b00;background:#fff8e1;padding:4px 8px;
border-left:3px solid #f2b701;margin:6px 0}.note{color:#7a5b00}
.facts td:first-child{color:#555}.better{color:#1b7f2a}.worse{color:#c0221f}
nav a{margin-right:10px}
"""


def page(title: str, parts: Iterable[str]) -> str:
    """A whole HTML document: title, inline CSS and the parts in order."""
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>\n{body}\n</main></body></html>\n"
    )


def badge(passed: bool) -> str:
    """A coloured PASS / FAIL badge."""
    kind = "pass" if passed else "fail"
    return f'<span class="badge {kind}">{verdict(passed)}</span>'


def verdict_cell(passed: bool) -> str:
    """A table cell saying PASS or FAIL in its colour."""
    kind = "pass" if passed else "fail"
    return f'<td class="{kind}">{verdict(passed)}</td>'


def table(header: Sequence[str], rows: Iterable[str]) -> str:
    """A table with an escaped header row and the given (already built) rows."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return f"<table><tr>{head}</tr>\n" + "\n".join(rows) + "</table>"


def figure(plot: Plot) -> str:
    """A drawn plot as an embedded <figure> naming and linking its PNG; a skipped one as a note."""
    if not plot.drawn or plot.png is None:
        return f'<p class="skipped">Not drawn — {escape(plot.title)}: {escape(plot.note)}</p>'
    data = base64.b64encode(plot.png.read_bytes()).decode("ascii")
    file = f"plots/{plot.png.name}"
    caption = escape(plot.note)
    return (
        f'<figure id="{escape(plot.slug)}"><img src="data:image/png;base64,{data}" '
        f'alt="{escape(plot.title)}" data-file="{escape(file)}">'
        f'<figcaption>{caption} <a href="{escape(file)}">{escape(file)}</a></figcaption></figure>'
    )
