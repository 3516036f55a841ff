"""Tests of `scenarios/`: scenario files, evidence, invariants, SLO assertions, results."""
