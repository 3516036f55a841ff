"""Fault profile validation: unknown fields and bad values are named, defaults fill the rest."""

from __future__ import annotations

import pytest

from fakes.calendar.latency import QueueLatency
from fakes.calendar.profile import FaultProfile, ProfileError, parse_profile


def rejection(payload: object) -> ProfileError:
    with pytest.raises(ProfileError) as caught:
        parse_profile(payload, default_seed=1)
    return caught.value


def test_omitted_fields_take_defaults_and_the_fakes_seed() -> None:
    profile = parse_profile({"error_rate": 0.25}, default_seed=9)
    assert profile == FaultProfile(seed=9, error_rate=0.25)
    assert profile.honour_idempotency is True and profile.outage is False
    assert parse_profile({"seed": 3}, default_seed=9).seed == 3


def test_a_full_profile_is_accepted() -> None:
    payload = {
        "seed": 2,
        "latency_ms": {
            "dist": "queue",
            "servers": 3,
            "service": {"dist": "lognormal", "median_ms": 40, "sigma": 0.5},
        },
        "error_rate": 0.1,
        "error_status": 429,
        "retry_after_s": 1,
        "permanent_error_rate": 0.05,
        "permanent_error_status": 404,
        "hang_rate": 0.05,
        "hang_s": 2,
        "commit_then_fail_rate": 0.1,
        "commit_then_fail_mode": "drop",
        "outage": False,
        "honour_idempotency": False,
    }
    profile = parse_profile(payload, default_seed=1)
    assert isinstance(profile.latency_ms, QueueLatency)
    assert profile.model_dump(mode="json")["latency_ms"]["service"]["median_ms"] == 40


def test_unknown_fields_are_named() -> None:
    error = rejection({"eror_rate": 0.1, "error_rate": 0.1})
    assert error.fields == ["eror_rate"]
    assert "unknown field 'eror_rate'" in str(error)
    nested = rejection({"latency_ms": {"dist": "constant", "ms": 5, "jitter_ms": 1}})
    assert nested.fields == ["latency_ms.jitter_ms"]
    assert "known here: dist, ms" in str(nested)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"error_rate": 1.5}, "error_rate"),
        ({"error_rate": "0.5"}, "error_rate"),
        ({"outage": "yes"}, "outage"),
        ({"seed": "1"}, "seed"),
        ({"error_status": 404}, "error_status"),
        ({"permanent_error_status": 503}, "permanent_error_status"),
        ({"hang_s": 0}, "hang_s"),
        ({"retry_after_s": -1}, "retry_after_s"),
        ({"commit_then_fail_mode": "explode"}, "commit_then_fail_mode"),
        ({"latency_ms": {"dist": "gamma"}}, "latency_ms"),
        ({"latency_ms": {"dist": "uniform", "low_ms": 9, "high_ms": 1}}, "latency_ms"),
        (
            {"latency_ms": {"dist": "queue", "servers": 0, "service": {"ms": 1}}},
            "latency_ms.servers",
        ),
    ],
)
def test_bad_values_are_named(payload: dict[str, object], field: str) -> None:
    error = rejection(payload)
    assert field in error.fields
    assert field in str(error)


def test_rates_must_leave_room_for_each_other() -> None:
    error = rejection({"error_rate": 0.6, "hang_rate": 0.5})
    assert "must add up to <= 1" in str(error)
    assert "error_rate" in error.fields and "hang_rate" in error.fields


def test_a_profile_must_be_an_object() -> None:
    assert "must be a JSON object" in str(rejection([1, 2]))
