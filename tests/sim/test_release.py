"""A finished run is freed by reference counting the moment it returns (`sim.release`), not left
in reference cycles for the cyclic collector to traverse."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.spec import load_catalog
from service.booking.model import Appointment
from sim import simulate
from sim.host import ServiceHost
from sim.memory_store import MemoryStore
from sim.provider import SimProvider

ROOT = Path(__file__).resolve().parents[2]
# Every way a run can end with work in flight: the relay polling, a backlog, a crash and
# restart, toxics, a hung provider, the scripted bursts.
SCENARIOS = {
    s.name: s
    for folder in ("catalog", "negative")
    for s in load_catalog(ROOT / "scenarios" / folder)
}
MODEL = (ServiceHost, MemoryStore, SimProvider, Appointment)


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def model_alive() -> list[str]:
    return [type(o).__name__ for o in gc.get_objects() if isinstance(o, MODEL)]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_finished_run_is_freed_without_the_cyclic_collector(
    name: str, collector_off: None
) -> None:
    assert model_alive() == []
    evidence = simulate(SCENARIOS[name])
    assert evidence.requests
    left = model_alive()
    assert left == [], f"{name}: the run left {sorted(set(left))} in reference cycles"
