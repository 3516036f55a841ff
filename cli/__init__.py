"""The command line of `./run_scenarios.py`: the top floor (DESIGN §2, §10).

Modules: `arguments` (every flag and the checks between them), `main` (choosing scenarios,
picking the mode, the run folder, the summary and the exit code), `sim_mode` (the catalog in the
twin, written as real mode writes it), `planning` (handing `--sweep`/`--calibrate`/`--fit` to
capacity planning). It may import every other package; none imports it.
"""
