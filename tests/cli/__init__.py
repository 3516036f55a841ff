"""Tests of `cli/`: the command line of run_scenarios.py and its sim-mode run."""
