"""Capacity planning with the twin: sweeps and knees, fault-timeline search and shrinking,
calibration against the real stack and fitting the twin's service times (DESIGN §2, §8-9).

Modules, one job each:
- `sweep_grid`, `sweep`, `sweep_table`, `sweep_command`: `--sweep KEY=VALUES`, a grid of twin
  runs as plain tasks on a process pool (or an existing cluster engine), its table and knees;
- `search_space`, `search`, `search_output`: `--search N`, fault timelines drawn and shrunk by
  Hypothesis, the minimal failing one written to `scenarios/found/`;
- `calibration`, `calibration_fit`, `service_log_breakdown`, `calibration_command`:
  `--calibrate` / `--fit`, the twin held against real runs and its service times fitted;
- `params_file`: fitted twin parameters saved per host, and choosing which a command uses.

May import the run contract, the twin (`sim`) and the real runner's public entry
(`scenarios.real_runner`) only; only the command line (`cli/`) imports this package. The
commands take plain options (`SweepOptions`, `CalibrationOptions`), not parsed flags.
"""
