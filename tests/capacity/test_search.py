"""`--search N`: Hypothesis finds a fault timeline that breaks a weakened configuration, shrinks it
to one commit-then-fail window, and the scenario file it writes replays the same failure in sim
mode; a protected, fast-recovering configuration survives a small budget; the search is
deterministic by seed and bounded; every timeline it can draw is a valid scenario."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cli.main
from capacity.search import judge, search
from capacity.search_output import write_found
from capacity.search_space import FaultDraft, SearchSpace
from cli.arguments import parse_args
from cli.main import main as cli_main
from cli.sim_mode import run_all_sim
from contract.spec import ProviderFault, Scenario, load_scenario, parse_scenario

# The service sends no key to the provider and the provider would not honour one anyway (a
# standing profile: it holds for the whole run, so the search keeps it under every timeline).
WEAKENED = """
name: weakened_keys
description: no provider key, and a provider that ignores keys
seed: 3
load: {users: 5, rate_rps: 10, duration_s: 3, mix: {create: 1}}
faults:
  - {at_s: 0, target: provider, action: profile, params: {honour_idempotency: false}}
settings:
  protect_provider_key: false
  relay_poll_s: 0.2
  outbox_schedule_s: [0.2, 0.4]
drain_s: 3
slo:
  - calendar.duplicate_bookings == 0
"""

# Every protection on, a breaker and relay that recover fast, leases short enough and a drain
# long enough that even four relay crashes leave time to finish the work.
CLEAN = """
name: clean_protected
description: every protection on, a service that recovers fast, a long drain window
seed: 2
load: {users: 5, rate_rps: 10, duration_s: 3, mix: {create: 1}}
settings:
  breaker_cooldown_s: 0.5
  relay_poll_s: 0.2
  relay_lease_s: 3
  outbox_schedule_s: [0.2, 0.5, 1.0, 1.0, 2.0]
  outbox_max_attempts: 10
drain_s: 25
slo:
  - calendar.duplicate_bookings == 0
"""


def scenario(text: str) -> Scenario:
    return parse_scenario(text, "test")


def test_a_weakened_config_shrinks_to_one_commit_then_fail_that_replays(tmp_path: Path) -> None:
    printed: list[str] = []
    result = search(scenario(WEAKENED), 40, seed=4, kinds=("provider",), progress=printed.append)
    found = result.found
    assert found is not None and not result.timed_out
    assert "no_duplicate_provider_events" in found.verdict.failed
    assert "calendar.duplicate_bookings == 0" in found.verdict.failed
    assert len(found.drafts) == 1 and len(found.first) >= 1
    (draft,) = found.drafts
    assert draft.kind == "provider" and draft.params["commit_then_fail_rate"] > 0
    provider = [f for f in found.scenario.faults if isinstance(f, ProviderFault)]
    assert all(f.params.honour_idempotency is False for f in provider)  # the standing trait
    assert sum(f.params.commit_then_fail_rate > 0 for f in provider) == 1
    assert any("FAILS" in line for line in printed) and printed[-1].strip().startswith("provider")

    path = write_found(result, tmp_path, "test")
    assert path.parent == tmp_path and path.name.startswith("weakened_keys-")
    text = path.read_text()
    assert text.startswith("# FOUND by --search") and "commit_then_fail" in text
    assert "Real mode: every fault can be made real" in text
    replayed = load_scenario(path)
    assert replayed.description.startswith("found by --search: fails")
    # The file is the found scenario, but for faults whose phase touched no request, which it
    # marks `reaches_requests: false` (the search judges invariants and SLOs, not reach).
    unmarked = [f.model_copy(update={"reaches_requests": True}) for f in replayed.faults]
    assert (
        replayed.model_copy(update={"description": found.scenario.description, "faults": unmarked})
        == found.scenario
    )
    assert judge(replayed) == found.verdict
    entries, _ = run_all_sim([replayed], None, tmp_path / "run", lambda _: None)
    failed = [i["name"] for i in entries[0]["invariants"] if not i["passed"]]
    failed += [a["expression"] for a in entries[0]["assertions"] if not a["passed"]]
    assert entries[0]["passed"] is False and tuple(failed) == found.verdict.failed


def test_a_protected_config_that_recovers_survives_a_small_budget() -> None:
    result = search(scenario(CLEAN), 25, seed=2)
    assert result.found is None
    assert result.runs >= 20 and not result.timed_out


def test_one_seed_gives_one_search_and_the_budget_bounds_it() -> None:
    weakened = scenario(WEAKENED)
    first = search(weakened, 30, seed=1)
    again = search(weakened, 30, seed=1)
    assert first.found is not None and again.found is not None
    assert (first.found.text, first.found.verdict, first.runs) == (
        again.found.text,
        again.found.verdict,
        again.runs,
    )
    out_of_time = search(weakened, 30, seed=1, time_limit_s=0)
    assert out_of_time.found is None and out_of_time.runs == 0 and out_of_time.timed_out
    with pytest.raises(ValueError, match="at least one example"):
        search(weakened, 0)


def test_the_command_line_writes_the_found_file_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "weakened.yaml"
    source.write_text(WEAKENED)
    monkeypatch.setattr(cli.main, "ROOT", tmp_path)
    code = cli_main(["--mode", "sim", "--scenario", str(source), "--search", "20", "--seed", "2"])
    out = capsys.readouterr().out
    written = list((tmp_path / "scenarios" / "found").glob("weakened_keys-*.yaml"))
    assert code == 1 and len(written) == 1
    assert "search: minimal timeline" in out and "written:" in out
    assert "--search 20 --seed 2" in written[0].read_text()
    with pytest.raises(SystemExit):
        parse_args(["--mode", "real", "--scenario", "healthy", "--search", "5"])


SPACE = SearchSpace.for_scenario(scenario(WEAKENED), 3)


@settings(max_examples=150, deadline=None)
@given(SPACE.timelines())
def test_every_drawn_timeline_is_a_valid_scenario_that_leaves_the_drain_clear(
    drafts: list[FaultDraft],
) -> None:
    made, text = SPACE.scenario_for(drafts)
    assert made.seed == 3 and made.load == SPACE.scenario.load
    assert made.settings == SPACE.scenario.settings
    horizon = made.load.duration_s - SPACE.step_s
    for fault in made.faults:
        if isinstance(fault, ProviderFault):
            assert fault.params.seed == 3 and fault.params.honour_idempotency is False
            if fault.until_s is None:  # only the standing profile's last piece runs to the end
                assert fault.params.commit_then_fail_rate == 0 and not fault.params.outage
                continue
        assert fault.at_s <= horizon + 1e-9
        assert fault.until_s is None or fault.until_s <= horizon + 1e-9
    kept = SPACE.kept(drafts)
    assert len(kept) <= len(drafts)
    assert len(made.faults) >= len(kept)


@given(st.data())
@settings(max_examples=30, deadline=None)
def test_a_scenario_without_standing_profile_gets_exactly_the_drawn_faults(
    data: st.DataObject,
) -> None:
    space = SearchSpace.for_scenario(scenario(CLEAN), 2, kinds=("network", "crash"))
    drafts = data.draw(space.timelines())
    made, _ = space.scenario_for(drafts)
    assert len(made.faults) == len(space.kept(drafts))
    assert {f.target for f in made.faults} <= {"network", "service"}


def test_a_load_too_short_for_a_timeline_is_refused_with_what_to_change() -> None:
    short = scenario("name: s\ndescription: d\nload: {rate_rps: 5, duration_s: 0.1}")
    with pytest.raises(ValueError, match="load.duration_s"):
        SearchSpace.for_scenario(short, 1)
