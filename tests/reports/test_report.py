"""The rendered report of a small real run: every plot drawn and embedded, the verdict shown."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
from pathlib import Path

import matplotlib.image
import numpy as np
from PIL import Image

from contract.evidence import Phase
from contract.results import RunInfo, build_results, write_results
from reports.render import render_comparison, render_report
from reports.run_data import load_run
from tests.reports.conftest import Rendered

SCENARIO_PLOTS = ("latency", "outcomes", "provider", "breaker", "outbox", "retries")
EXPECTED_PNGS = {f"{s}-{p}.png" for s in ("healthy", "outage") for p in SCENARIO_PLOTS} | {
    "capacity-sweep.png",
    "capacity-outage.png",
    "calibration.png",
}


def embedded_images(page: str) -> dict[str, bytes]:
    """data-file → the PNG bytes embedded in the page's <img> for it."""
    found = re.findall(
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-file="([^"]+)"', page
    )
    return {name: base64.b64decode(data) for data, name in found}


def test_every_plot_is_a_png_with_content_and_embedded_in_the_html(rendered: Rendered) -> None:
    pngs = sorted((rendered.out / "plots").glob("*.png"))
    assert {p.name for p in pngs} == EXPECTED_PNGS
    embedded = embedded_images(rendered.html)
    for png in pngs:
        with Image.open(png) as image:
            image.verify()
        pixels = matplotlib.image.imread(png)
        assert pixels.shape[1] >= 900, f"{png.name} is too narrow to read"
        assert np.var(pixels[..., :3]) > 0, f"{png.name} is blank"
        assert f"plots/{png.name}" in rendered.html
        assert embedded[f"plots/{png.name}"] == png.read_bytes(), f"{png.name} not embedded"


def test_the_html_opens_offline(rendered: Rendered) -> None:
    assert "<script" not in rendered.html
    assert "<link" not in rendered.html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", rendered.html)
    assert "url(" not in rendered.html


def test_a_failed_assertion_shows_on_the_verdict_page(rendered: Rendered) -> None:
    document = json.loads(rendered.results.read_text())
    outage = next(s for s in document["scenarios"] if s["name"] == "outage")
    failed = next(a for a in outage["assertions"] if a["phase"] == "outage")
    assert not failed["passed"] and failed["actual"] > 50
    expression = html.escape(failed["expression"])
    row = re.search(
        rf'<tr class="failed"><td><code>{re.escape(expression)}</code></td>(.*?)</tr>',
        rendered.html,
    )
    assert row is not None, "the failed assertion has no highlighted row"
    assert "&lt; 50" in row.group(1) and f"{failed['actual']:.3f}" in row.group(1)
    assert '<td class="fail">FAIL</td>' in row.group(1)
    verdict = rendered.html.split('<h2 id="s-healthy">')[0]
    assert f"assertion <code>{expression}</code>" in verdict, "not listed under 'What failed'"
    assert '<span class="badge fail">FAIL</span>' in verdict
    assert (
        f"assertion `{failed['expression']}`: expected `< 50`, actual **{failed['actual']:.3f}**"
        in rendered.markdown
    )
    assert rendered.markdown.startswith("# Rehearsal run `run-a`: FAIL")


def test_the_verdict_page_shows_seed_mode_revision_digests_and_witnesses(
    rendered: Rendered,
) -> None:
    document = json.loads(rendered.results.read_text())
    facts = rendered.html.split('<h2 id="verdict">')[0]
    for label, value in (("mode", "sim"), ("seed", "7"), ("git revision", "abc1234")):
        assert f"<td>{label}</td><td>{value}</td>" in facts
    for scenario in document["scenarios"]:
        assert scenario["digest"] in rendered.html
        assert scenario["digest"] in rendered.markdown
    # The duplicate booking's witness names the exact key and event ids, in both outputs.
    for text in ("outage-key-0048", "evt-duplicate", "evt-outage-appt-0048"):
        assert text in rendered.html and text in rendered.markdown
    assert "no_duplicate_provider_events" in rendered.markdown


def test_the_latency_plot_was_drawn_with_the_fault_phase(rendered: Rendered) -> None:
    plots = {p.slug: p for section in rendered.report.sections for p in section.plots}
    latency = plots["outage-latency"]
    assert latency.png == rendered.out / "plots" / "outage-latency.png"
    assert latency.phases == (Phase("outage", 2.0, 5.0),)
    data = latency.data
    inside = data[(data["window_start_s"] >= 2.0) & (data["window_end_s"] <= 3.0)]
    before = data[data["window_end_s"] <= 2.0]
    assert inside["p95"].min() > 50 > before["p95"].max()
    slo = latency.extra["slos"]
    assert slo[slo["phase"] == "outage"][["start_s", "end_s", "threshold_ms"]].values.tolist() == [
        [2.0, 5.0, 50.0]
    ]
    # Every time plot of the outage shades the phase; the healthy run has none to shade.
    for kind in ("outcomes", "provider", "breaker", "outbox"):
        assert plots[f"outage-{kind}"].phases == (Phase("outage", 2.0, 5.0),)
    assert plots["healthy-latency"].phases == ()


def test_capacity_sections_show_the_knee_and_calibration(rendered: Rendered) -> None:
    capacity = rendered.html.split('<h2 id="capacity">')[1].split('<h2 id="s-')[0]
    assert "SLO: p95 ≤ 300 ms and success rate ≥ 0.999" in capacity
    assert '<td>workers=2</td><td class="num">300.0</td><td class="num">400.0</td>' in capacity
    assert '<td>workers=4</td><td class="num">600.0</td><td class="num">–</td>' in capacity
    assert '<td class="num">-23.1%</td>' in capacity  # sim p95 31.0 vs real 40.3


def test_data_that_is_absent_is_noted_not_drawn(rendered: Rendered, tmp_path: Path) -> None:
    run_dir = tmp_path / "run-a"
    shutil.copytree(rendered.results.parent, run_dir)
    document = json.loads((run_dir / "results_post.json").read_text())
    outage = document["scenarios"][1]
    outage["event_log"] = str(run_dir / "outage" / "events.jsonl")
    outage["time_series"] = None
    write_results(
        run_dir / "results_post.json", build_results(RunInfo(**document["run"]), [outage])
    )
    (run_dir / "outage" / "provider_calls.jsonl").write_text("")
    page = render_report(run_dir / "results_post.json", tmp_path / "out").read_text()
    drawn = {p.name for p in (tmp_path / "out" / "plots").glob("*.png")}
    assert drawn == {"outage-latency.png", "outage-outcomes.png"}
    assert page.count('class="skipped"') == 4
    assert page.count("the run recorded no time series (time_series is null") == 2
    assert (
        "Not drawn — outage: provider calls and injected faults: provider_calls.jsonl holds "
        "no calls"
    ) in page
    assert "Not drawn — outage: retries per request" in page
    assert "## Plots not drawn" in (tmp_path / "out" / "summary.md").read_text()


def test_a_rewritten_event_log_is_flagged(rendered: Rendered, tmp_path: Path) -> None:
    run_dir = tmp_path / "run-a"
    shutil.copytree(rendered.results.parent, run_dir)
    document = json.loads((run_dir / "results_post.json").read_text())
    for scenario in document["scenarios"]:
        scenario["event_log"] = str(run_dir / scenario["name"] / "events.jsonl")
        scenario["time_series"] = str(run_dir / scenario["name"] / "timeseries.jsonl")
    (run_dir / "results_post.json").write_text(json.dumps(document))
    events = run_dir / "healthy" / "events.jsonl"
    events.write_text("\n".join(events.read_text().splitlines()[:-1]) + "\n")
    run = load_run(run_dir / "results_post.json")
    assert "does not match the digest" in run.scenarios[0].notes[0]
    assert run.scenarios[1].notes == ()


def test_a_png_from_an_earlier_render_is_removed(rendered: Rendered, tmp_path: Path) -> None:
    stale = tmp_path / "plots" / "gone-latency.png"
    stale.parent.mkdir()
    Image.new("RGB", (4, 4)).save(stale)
    render_comparison(rendered.results, rendered.slower_results, tmp_path)
    assert [p.name for p in (tmp_path / "plots").glob("*.png")] == ["comparison.png"]
