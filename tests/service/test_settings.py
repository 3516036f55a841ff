"""Settings from REHEARSAL_* variables: defaults, parsing errors that name the variable, the
legacy profile and its per-protection switches."""

from __future__ import annotations

import pytest

from service.policies import Policies
from service.settings import Protections, Settings, SettingsError, unknown_variables


def test_defaults_are_the_v2_contract() -> None:
    settings = Settings.from_env({})
    assert settings.protections == Protections()
    assert settings.deadline_ms == 300
    assert settings.outbox_schedule_s == (1.0, 2.0, 4.0, 8.0, 16.0)
    assert settings.require_idempotency_key is True


def test_environment_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "REHEARSAL_API_KEYS": "k1:tenant-a, k2:tenant-b",
            "REHEARSAL_OUTBOX_SCHEDULE_S": "0.2,0.4,0.8",
            "REHEARSAL_PORT": "9000",
            "REHEARSAL_RELAY_ENABLED": "no",
            "REHEARSAL_DEADLINE_MS": "150",
        }
    )
    assert settings.api_keys == {"k1": "tenant-a", "k2": "tenant-b"}
    assert settings.outbox_schedule_s == (0.2, 0.4, 0.8)
    assert settings.port == 9000
    assert settings.relay_enabled is False
    assert settings.deadline_ms == 150.0


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"REHEARSAL_PORT": "eighty"}, "REHEARSAL_PORT"),
        ({"REHEARSAL_PORT": "70000"}, "REHEARSAL_PORT"),
        ({"REHEARSAL_DB_URL": "mysql://x"}, "REHEARSAL_DB_URL"),
        ({"REHEARSAL_API_KEYS": "no-tenant"}, "REHEARSAL_API_KEYS"),
        ({"REHEARSAL_PROFILE": "v3"}, "REHEARSAL_PROFILE"),
        ({"REHEARSAL_PROTECT_BREAKER": "maybe"}, "REHEARSAL_PROTECT_BREAKER"),
        ({"REHEARSAL_OUTBOX_SCHEDULE_S": "1,x"}, "REHEARSAL_OUTBOX_SCHEDULE_S"),
        ({"REHEARSAL_CALENDAR_CLIENT": "requests"}, "REHEARSAL_CALENDAR_CLIENT"),
        (
            {"REHEARSAL_RELAY_LEASE_S": "1", "REHEARSAL_RELAY_BUDGET_S": "2"},
            "REHEARSAL_RELAY_LEASE_S",
        ),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_legacy_profile_switches_every_protection_off() -> None:
    settings = Settings.from_env({"REHEARSAL_PROFILE": "legacy"})
    assert not any(vars(settings.protections).values())
    assert settings.require_idempotency_key is False


def test_one_protection_can_be_switched_off_alone() -> None:
    settings = Settings.from_env({"REHEARSAL_PROTECT_BREAKER": "0"})
    assert settings.protections == Protections(breaker=False)


def test_legacy_with_one_protection_back_on() -> None:
    settings = Settings.from_env({"REHEARSAL_PROFILE": "legacy", "REHEARSAL_PROTECT_OUTBOX": "1"})
    assert settings.protections == Protections(False, False, False, False, True, False)


def test_without_the_deadline_attempts_get_the_unbounded_timeout() -> None:
    policies = Policies.from_settings(Settings(protections=Protections(deadline=False)))
    assert policies.retry.attempt_timeout_s == Settings().unbounded_timeout_s


def test_invalid_policy_values_become_settings_errors() -> None:
    with pytest.raises(SettingsError, match="REHEARSAL_"):
        Policies.from_settings(Settings(outbox_max_attempts=0))


def test_unknown_variables_are_reported() -> None:
    env = {"REHEARSAL_RELAY_POL_S": "0.1", "REHEARSAL_RELAY_POLL_S": "0.1", "PATH": "/bin"}
    assert unknown_variables(env) == ["REHEARSAL_RELAY_POL_S"]
    assert unknown_variables({"REHEARSAL_PROTECT_OUTBOX": "0", "REHEARSAL_CRASH_AT": "x"}) == []
