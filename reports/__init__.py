"""Reports: a run in, a self-contained HTML report, PNGs and a Markdown summary out.

Owns reading results_post.json and the run folder (read only; `contract.results` and
`contract.evidence` define both), drawing the plots (pandas + matplotlib on the Agg backend) and
writing `report.html`, `summary.md` and `plots/*.png` into one output folder. It never runs
anything, never fetches from the network (the HTML embeds its images) and never writes outside
the output folder it is given. Of the project it imports the run contract (`contract/`) only:
not the runner, the twin or capacity planning, whose outputs it reads as files.

Entry points: `python -m reports RESULTS_JSON [--out DIR]`, `python -m reports A.json B.json`
(comparison) and `reports.render.render_report(results_path, out_dir)`.

Modules: `run_data` (results + run folder → frames, via `jsonl_frames`), `capacity_data` (the
sweep CSV and calibration JSON formats), `request_plots`, `dependency_plots`, `capacity_plots` and
`comparison` (one plot family each), `figures` (shared figure plumbing), `formatting`,
`html_parts`, `html_page`, `comparison_page`, `markdown_summary`, `render`, `cli` and `errors`.
"""
