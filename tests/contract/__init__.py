"""Tests of `contract/`: the scenario spec, workload, evidence, judges, results and schedule."""
