"""Same-slot races in the twin (`load.concurrent_same_slot`), as real mode's scripted driver sends
them: clients 2000 + g, `ClientStream.slot_race(size)` fired together after the same-key bursts.
With the database guard each race has one winner and the others get 409; with the v1 check in code
(the negative control) several win, and the overlap invariant names them."""

from __future__ import annotations

from pathlib import Path

from cli.sim_mode import run_all_sim
from contract.evidence import RunEvidence
from contract.invariants import check_invariants
from contract.results import RunInfo, build_results, validate_results
from contract.spec import Scenario, load_catalog, load_scenario, parse_scenario
from contract.workload import ClientStream, body_digest
from sim import apply_overrides, simulate
from sim.clients import workload_config

ROOT = Path(__file__).resolve().parents[2]
CATALOG = {s.name: s for s in load_catalog(ROOT / "scenarios" / "catalog")}
NEGATIVE = ROOT / "scenarios" / "negative" / "legacy_double_booking.yaml"

RACES = """
name: races
description: same-key bursts, then same-slot races
seed: 5
load:
  users: 2
  rate_rps: 4
  duration_s: 2
  concurrent_same_key: {groups: 2, size: 3}
  concurrent_same_slot: {groups: 3, size: 6}
drain_s: 1
"""


def races_of(evidence: RunEvidence) -> dict[str, list]:
    """The race requests by slot (their keys name the racer: `...-c<2000+g>-1-race<n>`)."""
    by_group: dict[str, list] = {}
    for record in evidence.requests:
        key = record.idempotency_key or ""
        if "-race" in key:
            by_group.setdefault(key.rsplit("-", 2)[0], []).append(record)
    return by_group


def failed(evidence: RunEvidence, scenario: Scenario) -> dict[str, list]:
    results = check_invariants(evidence, scenario.invariant_names())
    return {r.name: r.witness for r in results if not r.passed}


def test_races_send_what_real_mode_sends_after_the_same_key_bursts() -> None:
    races = parse_scenario(RACES, "test")
    evidence = simulate(races)
    config = workload_config(races, races.seed)
    sent = races_of(evidence)
    assert len(sent) == 3
    for group, records in enumerate(sorted(sent.values(), key=lambda rs: rs[0].start_s)):
        expected = ClientStream(config, 2000 + group).slot_race(6)
        assert sorted(r.idempotency_key for r in records) == sorted(
            p.idempotency_key for p in expected
        )
        assert {r.body_digest for r in records} == {body_digest(p.body) for p in expected}
        assert len({r.start_s for r in records}) == 1  # fired together
    bursts = [r for r in evidence.requests if "-c100" in (r.idempotency_key or "")]
    first_race = min(r.start_s for rs in sent.values() for r in rs)
    assert len(bursts) == 6 and max(r.start_s for r in bursts) < first_race
    assert len({r.request_id for r in evidence.requests}) == len(evidence.requests)


def test_the_database_guard_lets_exactly_one_racer_win_each_slot() -> None:
    double = CATALOG["double_booking"]
    evidence = simulate(double)
    sent = races_of(evidence)
    assert len(sent) == double.load.concurrent_same_slot.groups
    for records in sent.values():
        winners = [r for r in records if r.http_status in (201, 202)]
        assert len(records) == 20 and len(winners) == 1
        assert sorted(r.http_status for r in records if r not in winners) == [409] * 19
        assert all(r.as_expected for r in records)
    assert failed(evidence, double) == {}


def test_the_check_in_code_double_books_and_the_overlap_invariant_names_the_pair() -> None:
    double, _ = apply_overrides(
        CATALOG["double_booking"], {"settings.protect_overlap_guard": False}
    )
    evidence = simulate(double)
    winners = [
        r for records in races_of(evidence).values() for r in records if r.http_status == 201
    ]
    assert len(winners) > double.load.concurrent_same_slot.groups
    witness = failed(evidence, double)["no_overlapping_bookings"]
    assert witness and all(len(w["appointment_ids"]) == 2 for w in witness)


def test_the_legacy_double_booking_negative_control_fails_in_sim_with_a_witness(
    tmp_path: Path,
) -> None:
    negative = load_scenario(NEGATIVE)
    entries, _ = run_all_sim([negative], None, tmp_path, lambda _: None)
    validate_results(
        build_results(RunInfo("r", "sim", 1, "2030-01-01T00:00:00Z", 1.0, None, "h"), entries)
    )
    entry = entries[0]
    broken = {i["name"]: i for i in entry["invariants"] if not i["passed"]}
    assert entry["passed"] is False
    witness = broken["no_overlapping_bookings"]["witness"]
    assert witness
    for pair in witness:
        assert len(set(pair["appointment_ids"])) == 2
        assert pair["slots"][0] == pair["slots"][1]  # the very slot the race was for
