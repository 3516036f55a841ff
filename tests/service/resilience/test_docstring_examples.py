"""The examples in the core's docstrings run and hold, so the documentation cannot drift."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "service.resilience.backoff",
    "service.resilience.idempotency",
    "service.resilience.outcomes",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name), verbose=False, report=False)

    assert results.attempted > 0, f"{name} has no examples left to run"
    assert results.failed == 0, f"{name}: {results.failed} docstring example(s) failed"
