"""The seed catalog (DESIGN §6): every file loads, every case is there, the whole run fits."""

from __future__ import annotations

from pathlib import Path

from contract.spec import CRASH_POINTS, CrashFault, NetworkFault, ProviderFault, load_catalog
from sim.service_settings import settings_problems

CATALOG = Path(__file__).resolve().parents[2] / "scenarios" / "catalog"


def test_the_whole_catalog_loads_with_unique_names() -> None:
    # With its settings checked against the service, as the command line loads it.
    names = [s.name for s in load_catalog(CATALOG, settings_problems)]
    assert load_catalog(CATALOG.parent / "negative", settings_problems)
    assert len(names) == len(set(names)) == len(list(CATALOG.glob("*.yaml")))
    assert {
        "healthy",
        "duplicate",
        "flaky_then_success",
        "slow_provider",
        "outage",
        "permanent_error",
        "ambiguous_commit_provider",
        "ambiguous_commit_network",
        "double_booking",
        "capacity_ramp",
    } <= set(names)


def test_every_crash_point_has_a_scenario() -> None:
    points = {
        fault.params.point
        for scenario in load_catalog(CATALOG)
        for fault in scenario.faults
        if isinstance(fault, CrashFault)
    }
    assert points == set(CRASH_POINTS)


def test_ambiguous_commit_is_covered_by_the_provider_and_by_the_network() -> None:
    by_name = {s.name: s for s in load_catalog(CATALOG)}
    provider = by_name["ambiguous_commit_provider"].faults
    assert all(isinstance(f, ProviderFault) and f.params.commit_then_fail_rate for f in provider)
    network = {f.action for f in by_name["ambiguous_commit_network"].faults}
    assert network == {"reset_peer", "timeout"}
    assert all(isinstance(f, NetworkFault) for f in by_name["ambiguous_commit_network"].faults)


def test_the_real_mode_catalog_fits_in_its_time_budget() -> None:
    # Issue 4: the whole default run in <= 3 minutes. run_s counts each drain window in full; a
    # run leaves it as soon as the outbox is empty, so the real total is well under this bound.
    scenarios = load_catalog(CATALOG)
    assert all(5 <= s.run_s <= 20 for s in scenarios)
    assert sum(s.run_s for s in scenarios if "real" in s.modes) <= 145


def test_every_scenario_has_gates_and_the_healthy_one_has_the_healthy_slo() -> None:
    scenarios = {s.name: s for s in load_catalog(CATALOG)}
    assert all("calendar.duplicate_bookings == 0" in s.slo for s in scenarios.values())
    assert {"latency_ms.p95 < 300", "success_rate >= 0.999"} <= set(scenarios["healthy"].slo)
