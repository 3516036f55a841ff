"""A scenario's settings checked against the service's own: names, YAML types, its rules."""

from __future__ import annotations

import pytest

from sim.service_settings import KNOWN_SETTINGS, RUNNER_SETTINGS, settings_problems


def _problems(raw: dict) -> list[tuple[str, str]]:
    return [(p.name, p.message) for p in settings_problems(raw)]


def test_what_the_service_takes_passes() -> None:
    assert _problems({}) == []
    assert (
        _problems(
            {
                "relay_poll_s": 0.2,
                "deadline_ms": 1000,  # a whole number is a number
                "outbox_schedule_s": [0.5, 1, 2.0],
                "profile": "legacy",
                "protect_outbox": True,
                "retry_max_attempts": 6,
                "calendar_client": "httpx",
                "api_keys": {"k1": "tenant-a"},
            }
        )
        == []
    )


def test_an_unknown_or_mistyped_name_is_named_with_the_one_meant() -> None:
    assert _problems({"relay_pol_s": 1}) == [
        (
            "relay_pol_s",
            "is not a setting of the service (did you mean 'relay_poll_s'?); the names are the "
            "fields of service.settings.Settings and a protect_<name> switch per protection",
        )
    ]
    (only,) = _problems({"zzz": 1})
    assert "did you mean" not in only[1]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("retry_max_attempts", 2.5, "must be a whole number (got 2.5)"),
        ("retry_max_attempts", True, "must be a whole number (got true)"),
        ("deadline_ms", "300", "must be a number (got '300')"),
        ("relay_enabled", 1, "must be true or false (got 1)"),
        ("protect_outbox", "no", "must be true or false (got 'no')"),
        ("profile", 2, "must be a string (got 2)"),
        ("outbox_schedule_s", "1,2", "must be a list of numbers, e.g. [1, 2, 4] (got '1,2')"),
        ("outbox_schedule_s", [1, "x"], "must be a list of numbers, e.g. [1, 2, 4] (got a list"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(name: str, value: object, message: str) -> None:
    ((blamed, said),) = _problems({name: value})
    assert blamed == name and said.startswith(message)


def test_a_value_the_service_refuses_is_blamed_on_its_setting() -> None:
    assert _problems({"deadline_ms": -5}) == [("deadline_ms", "must be > 0 (got -5.0)")]
    assert _problems({"profile": "v3"}) == [("profile", "must be v2 or legacy (got 'v3')")]
    ((name, said),) = _problems({"relay_lease_s": 1.0})
    assert name == "relay_lease_s" and said.startswith("must exceed relay_budget_s (2.0)")


def test_what_the_runner_sets_is_not_a_scenarios_to_set() -> None:
    for name in RUNNER_SETTINGS:
        assert name in KNOWN_SETTINGS
    ((name, said),) = _problems({"seed": 3})
    assert name == "seed" and said.startswith("is set by the runner, not by a scenario: the run's")
    assert [n for n, _ in _problems({"db_url": "sqlite+aiosqlite:///x.db", "port": 1})] == [
        "db_url",
        "port",
    ]
