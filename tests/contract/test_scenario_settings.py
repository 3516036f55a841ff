"""A scenario's settings as the service is handed them, and the retry bound judged from them."""

from __future__ import annotations

from contract.invariants import retry_bound
from contract.scenario_settings import setting_variable, settings_env
from contract.spec import parse_scenario
from scenarios.real_mode import retry_bound_of
from service.settings import Settings
from sim import simulate


def test_settings_travel_as_the_services_variables():
    env = settings_env({"deadline_ms": 300, "outbox_schedule_s": [0.5, 1], "relay_enabled": False})
    assert env == {
        "REHEARSAL_DEADLINE_MS": "300",
        "REHEARSAL_OUTBOX_SCHEDULE_S": "0.5,1",
        "REHEARSAL_RELAY_ENABLED": "0",
    }
    assert setting_variable("protect_outbox") == "REHEARSAL_PROTECT_OUTBOX"
    parsed = Settings.from_env(env)
    assert (parsed.deadline_ms, parsed.outbox_schedule_s, parsed.relay_enabled) == (
        300.0,
        (0.5, 1.0),
        False,
    )


def _scenario(settings: str) -> object:
    return parse_scenario(
        "name: bound\ndescription: d\nload: {rate_rps: 5, users: 1, duration_s: 0.4}\n"
        f"drain_s: 0.1\nsettings: {settings}\n"
    )


def test_both_modes_judge_attempts_against_one_bound_from_the_services_own_settings():
    defaults = Settings()
    assert retry_bound(3, 5) == 18
    for settings, expected in [
        ("{}", retry_bound(defaults.retry_max_attempts, defaults.outbox_max_attempts)),
        ("{retry_max_attempts: 2, outbox_max_attempts: 1}", 4),
        (
            "{profile: legacy}",
            retry_bound(defaults.retry_max_attempts, defaults.outbox_max_attempts),
        ),
    ]:
        scenario = _scenario(settings)
        assert retry_bound_of(scenario) == expected, settings
        assert simulate(scenario, 1).retry_bound == expected, settings
