"""`--search N`: Hypothesis looks for a fault timeline that breaks a scenario in the twin, and
shrinks the first one it finds to a minimal one (DESIGN §8, issue 5 §7).

Theory of operation. `search(scenario, examples)` draws timelines from `capacity.search_space`
(network toxics, provider profiles, crash points, valid per the spec), runs the scenario under
each in the twin (`sim.simulate`, the scenario's own load, settings, invariants and SLOs, one
seed throughout), and asks `hypothesis.find` for one that fails. The first failing timeline
fixes what "the same failure" means — its first failed check (an invariant, else an SLO) —
and Hypothesis shrinks it, keeping only smaller timelines that still fail that check. The
minimal timeline comes back as a `Found`: its drafts, the scenario it makes (seed pinned, the
text a file will hold) and every check it fails; `capacity.search_output` writes it out.

Deterministic: the run seed (`seed`, else the scenario's) also seeds Hypothesis (no example
database), so one seed gives one search. Bounded: at most `examples` generated timelines, and
`time_limit_s` of wall time for the whole search, shrinking included — once it is spent no new
timeline is run, so the result then depends on the machine's speed (`SearchResult.timed_out`
says so). Each distinct timeline runs once (a cache by its scenario text), which also keeps
Hypothesis's final replay of the minimal example consistent.

I/O: none here; progress goes to the `progress` callback, wall time comes from `clock`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hypothesis import HealthCheck, Phase, Verbosity, find, settings
from hypothesis.errors import NoSuchExample

from capacity.search_space import KINDS, FaultDraft, SearchSpace
from contract.assertions import evaluate_assertions
from contract.evidence import compute_metrics
from contract.invariants import check_invariants
from contract.spec import Scenario
from sim.twin import simulate

Progress = Callable[[str], None]
PASSES_PER_LINE = 10  # passing examples are reported in batches; failures one by one


@dataclass(frozen=True)
class Verdict:
    """The checks a run failed: invariant names (catalog order), then SLO expressions."""

    failed: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class Found:
    """The minimal failing timeline and what it breaks."""

    drafts: tuple[FaultDraft, ...]
    scenario: Scenario  # the base scenario with this timeline and its seed pinned
    text: str  # that scenario as YAML (`scenario_to_yaml`), what a file holds
    verdict: Verdict  # every check it fails
    check: str  # the check the search kept failing while it shrank
    first: tuple[str, ...]  # the first failing timeline, as found, before shrinking
    described: tuple[str, ...]  # the minimal timeline, one line per fault


@dataclass(frozen=True)
class SearchResult:
    scenario: Scenario
    seed: int
    examples: int  # the budget
    runs: int  # distinct timelines run (generated and shrinking)
    shrinks: int  # ever simpler failing timelines met while shrinking
    elapsed_s: float
    timed_out: bool
    found: Found | None


def judge(scenario: Scenario) -> Verdict:
    """Run `scenario` (its own seed) in the twin and name the checks that failed."""
    evidence = simulate(scenario)
    failed = [
        result.name
        for result in check_invariants(evidence, scenario.invariant_names())
        if not result.passed
    ]
    metrics = compute_metrics(evidence)
    failed += [
        result.expression
        for result in evaluate_assertions(scenario.assertions(), evidence, metrics)
        if not result.passed
    ]
    return Verdict(tuple(failed))


def search(
    scenario: Scenario,
    examples: int,
    *,
    seed: int | None = None,
    time_limit_s: float = 600.0,
    kinds: Sequence[str] = KINDS,
    max_faults: int = 4,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Look for a fault timeline under which `scenario` fails in the twin; shrink the first.

    Raises ValueError when `examples` < 1 or the scenario cannot hold a timeline.
    """
    if examples < 1:
        raise ValueError(f"the search needs at least one example (got {examples})")
    run_seed = scenario.seed if seed is None else seed
    space = SearchSpace.for_scenario(scenario, run_seed, kinds, max_faults)
    tracker = _Tracker(space, examples, time_limit_s, progress or (lambda _: None), clock)
    tracker.say(
        f"search: '{scenario.name}' in the twin, seed {run_seed}, up to {examples} timelines of "
        f"up to {max_faults} faults ({', '.join(space.kinds)}), time limit {time_limit_s:g} s"
    )
    budget = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        verbosity=Verbosity.quiet,
        suppress_health_check=list(HealthCheck),
    )
    try:
        drafts = find(
            space.timelines(), tracker.fails, settings=budget, random=random.Random(run_seed)
        )
    except NoSuchExample:
        drafts = None
    found = tracker.found(drafts) if drafts is not None else None
    result = SearchResult(
        scenario,
        run_seed,
        examples,
        tracker.runs,
        tracker.shrinks,
        round(clock() - tracker.started, 3),
        tracker.timed_out,
        found,
    )
    tracker.summarise(result)
    return result


class _Tracker:
    """The condition Hypothesis searches with, and the search's bookkeeping and progress."""

    def __init__(
        self,
        space: SearchSpace,
        examples: int,
        time_limit_s: float,
        say: Progress,
        clock: Callable[[], float],
    ) -> None:
        self.space = space
        self.examples = examples
        self.say = say
        self.clock = clock
        self.started = clock()
        self.deadline = self.started + time_limit_s
        self.verdicts: dict[str, Verdict] = {}
        self.runs = 0
        self.generated = 0
        self.quiet_passes = 0
        self.shrinks = 0
        self.timed_out = False
        self.check: str | None = None
        self.first: tuple[str, ...] = ()
        self.simplest: tuple[int, int, int] | None = None

    def fails(self, drafts: list[FaultDraft]) -> bool:
        """Does this timeline fail the scenario (the check the search is shrinking, once one
        failed)?"""
        scenario, text = self.space.scenario_for(drafts)
        verdict = self.verdicts.get(text)
        if verdict is None:
            if self.clock() >= self.deadline:
                if not self.timed_out:
                    self.timed_out = True
                    self.say("  time limit reached: no further timelines are run")
                return False
            verdict = self.verdicts[text] = judge(scenario)
            self.runs += 1
            self._report(drafts, verdict)
        if self.check is None:
            if verdict.passed:
                return False
            self.check = verdict.failed[0]
            self.first = tuple(self.space.describe(drafts))
            self._simpler(drafts)
            return True
        return self.check in verdict.failed

    def _report(self, drafts: list[FaultDraft], verdict: Verdict) -> None:
        elapsed = self.clock() - self.started
        faults = self.space.describe(drafts)
        shown = "; ".join(faults) or "no fault"
        if self.check is None:
            self.generated += 1
            if verdict.passed:
                self.quiet_passes += 1
                if self.quiet_passes % PASSES_PER_LINE == 0:
                    self.say(
                        f"  {self.generated}/{self.examples} timelines run, none failed "
                        f"({elapsed:.1f} s)"
                    )
                return
            self.say(
                f"  timeline {self.generated} FAILS {', '.join(verdict.failed)}: {shown} "
                f"({elapsed:.1f} s); shrinking"
            )
        elif self.check in verdict.failed and self._simpler(drafts):
            self.shrinks += 1
            self.say(f"  shrink {self.shrinks}: {len(faults)} fault(s) still fail: {shown}")

    def _simpler(self, drafts: list[FaultDraft]) -> bool:
        """Is this failing timeline simpler than the simplest reported so far (fewer faults,
        then earlier, then shorter: roughly Hypothesis's own order)? Hypothesis also runs
        candidates that are not, on its way; only the progress lines are filtered."""
        kept = self.space.kept(drafts)
        key = (
            len(kept),
            sum(d.start_step for d in kept),
            sum(d.steps or 0 for d in kept),
        )
        if self.simplest is not None and key >= self.simplest:
            return False
        self.simplest = key
        return True

    def found(self, drafts: list[FaultDraft]) -> Found:
        scenario, text = self.space.scenario_for(drafts)
        verdict = self.verdicts.get(text) or judge(scenario)
        assert self.check is not None and self.check in verdict.failed
        return Found(
            tuple(self.space.kept(drafts)),
            scenario,
            text,
            verdict,
            self.check,
            self.first,
            tuple(self.space.describe(drafts)),
        )

    def summarise(self, result: SearchResult) -> None:
        limit = " (time limit reached)" if result.timed_out else ""
        if result.found is None:
            self.say(
                f"search: no failure in {self.generated} timelines ({result.runs} run, "
                f"{result.elapsed_s:.1f} s){limit}"
            )
            return
        found = result.found
        self.say(
            f"search: minimal timeline after {result.shrinks} shrink(s), {result.runs} runs, "
            f"{result.elapsed_s:.1f} s{limit}: {len(found.drafts)} fault(s), fails "
            f"{', '.join(found.verdict.failed)}"
        )
        for line in found.described or ("no fault: the scenario fails as it is",):
            self.say(f"    {line}")
