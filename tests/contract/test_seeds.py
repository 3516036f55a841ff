"""One derivation of every component's seed from the run seed (`contract.seeds`)."""

from __future__ import annotations

import random

import pytest

from contract.seeds import COMPONENTS, component_rng, derive_seed
from scenarios.stack import service_env
from service.settings import Settings


def test_a_components_seed_is_a_stable_function_of_the_run_seed_and_its_parts():
    # Pinned: a change here changes every run of every seed, in both modes (and every digest).
    assert derive_seed(1, "workload", "healthy", 0) == 5647668153134216644
    assert derive_seed(7, "service-jitter", 1) == 9861985565035618388
    seeds = {derive_seed(7, component) for component in COMPONENTS}
    assert len(seeds) == len(COMPONENTS)  # components never share a stream
    assert derive_seed(7, "service-jitter", 1) != derive_seed(7, "service-jitter", 2)
    assert derive_seed(7, "workload", "a", 1) != derive_seed(7, "workload", "a1")
    assert all(0 <= seed < 2**64 for seed in seeds)


def test_an_unknown_component_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown component 'network'.*known: workload"):
        derive_seed(1, "network")


def test_each_real_service_start_draws_what_the_twins_incarnation_draws():
    first = service_env({"PATH": "/bin"}, 7, 1, None)
    restarted = service_env({**first, "REHEARSAL_CRASH_AT": "relay_after_claim:1"}, 7, 2, None)
    assert first["PATH"] == "/bin" and "REHEARSAL_CRASH_AT" not in restarted
    for incarnation, env in ((1, first), (2, restarted)):
        # The service builds random.Random(settings.seed); the twin's incarnation draws from
        # component_rng(seed, "service-jitter", incarnation): the same numbers, in order.
        service_rng = random.Random(Settings.from_env(env).seed)
        twin_rng = component_rng(7, "service-jitter", incarnation)
        assert [service_rng.random() for _ in range(5)] == [twin_rng.random() for _ in range(5)]
    assert first["REHEARSAL_SEED"] != restarted["REHEARSAL_SEED"]
    armed = service_env({}, 7, 1, "after_db_commit_before_calendar:2")
    assert armed["REHEARSAL_CRASH_AT"] == "after_db_commit_before_calendar:2"
