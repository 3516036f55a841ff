"""Outcome classification: which provider answers are safe to retry, which are final, and which
may have committed."""

from __future__ import annotations

import pytest

from service.resilience.outcomes import (
    Outcome,
    OutcomeKind,
    classify_status,
    classify_transport_error,
)


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_is_ok(status: int) -> None:
    assert classify_status(status) is OutcomeKind.OK


@pytest.mark.parametrize("status", [408, 425, 429, 502, 503, 504])
def test_not_now_statuses_are_retryable(status: int) -> None:
    assert classify_status(status) is OutcomeKind.RETRYABLE


@pytest.mark.parametrize("status", [500, 501, 505, 507, 599])
def test_other_5xx_may_have_committed(status: int) -> None:
    assert classify_status(status) is OutcomeKind.AMBIGUOUS


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 499])
def test_other_4xx_are_permanent(status: int) -> None:
    assert classify_status(status) is OutcomeKind.PERMANENT


@pytest.mark.parametrize("status", [100, 199, 300, 301, 304, 399])
def test_1xx_and_3xx_are_permanent_not_followed(status: int) -> None:
    # The calendar client does not follow redirects: an unexpected one is a refusal to fix,
    # not something a retry can change.
    assert classify_status(status) is OutcomeKind.PERMANENT


def test_a_connect_failure_is_retryable() -> None:
    assert classify_transport_error(request_sent=False) is OutcomeKind.RETRYABLE


def test_a_failure_after_the_request_was_sent_is_ambiguous() -> None:
    assert classify_transport_error(request_sent=True) is OutcomeKind.AMBIGUOUS


@pytest.mark.parametrize("kind", list(OutcomeKind))
def test_only_an_ok_outcome_is_ok(kind: OutcomeKind) -> None:
    assert Outcome(kind, now=1.0).ok is (kind is OutcomeKind.OK)


def test_an_outcome_carries_its_time_and_retry_after() -> None:
    outcome = Outcome(OutcomeKind.RETRYABLE, now=3.5, retry_after_s=2.0, detail="429")

    assert (outcome.now, outcome.retry_after_s, outcome.detail) == (3.5, 2.0, "429")
