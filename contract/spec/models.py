"""A scenario: load, fault timeline, service settings, drain window, SLOs, invariants, modes.

The YAML shape (every field but `name`, `description` and `load.duration_s` has a default):

    name: outage                     # unique in the catalog; lowercase, digits, _ and -
    description: breaker opens, fast-fails, recovers; the outbox drains
    modes: [real, sim]
    seed: 7
    load:
      users: 20
      rate_rps: 40                   # or shape: [{at_s: 0, rate_rps: 20, phase: warm}, ...]
      duration_s: 10
      mix: {create: 8, get: 1, list: 1, cancel: 0, reschedule: 0}   # relative weights
      duplicate_replay_ratio: 0.1    # creates replayed with the same key and body
      concurrent_same_key: {groups: 2, size: 10}
      concurrent_same_slot: {groups: 2, size: 20}   # bursts of creates for one slot, keys differ
      conflicting_slot_ratio: 0.0    # creates aimed at a slot already taken
      resources: 5
    faults:
      - {at_s: 2, until_s: 6, target: provider, action: profile, phase: outage,
         params: {outage: true}}
    settings: {deadline_ms: 300}     # the service's settings (checked against it on load)
    drain_s: 4
    slo: ["latency_ms.p95[phase=outage] < 50", "outbox.backlog_final == 0"]
    invariants: null                 # null: all of them; or a list of names
    agreement:                       # only where the scenario is inherently timing-driven
      reason: the downtime after a crash is the machine's boot time
      tolerance: {requests.transport_error: {absolute: 8}}

Times are seconds from the start of the load. Validated here: ranges, ratios in [0, 1], the
timeline in time order and starting while the load runs, no two faults fighting over one knob at
once, SLO expressions parsed and their phases declared. Pure: no I/O.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from contract.assertions import AssertionSyntaxError, SloAssertion, parse_assertion
from contract.evidence import Phase
from contract.invariants import INVARIANT_NAMES
from contract.mode_agreement import ABSOLUTE_SLACK, COUNTS, RELATIVE_SLACK, Tolerance
from contract.spec.base import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveInt,
    Ratio,
    Slug,
    SpecModel,
    number_text,
    rule_error,
)
from contract.spec.faults import Fault, ProviderFault

PositiveFloat = Annotated[float, Field(gt=0)]


class RateStep(SpecModel):
    """From at_s on, the load runs at rate_rps (until the next step or the end of the load)."""

    at_s: NonNegativeFloat
    rate_rps: PositiveFloat
    phase: Slug | None = None


class OperationMix(SpecModel):
    """Relative weights of the operations, like Locust task weights."""

    create: NonNegativeFloat = 1.0
    get: NonNegativeFloat = 0.0
    list: NonNegativeFloat = 0.0
    cancel: NonNegativeFloat = 0.0
    reschedule: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _creates_something(self) -> OperationMix:
        if self.create <= 0:
            raise rule_error(
                "must be > 0: the other operations act on appointments the run creates "
                f"(got {number_text(self.create)})",
                at=("create",),
            )
        return self

    def weights(self) -> dict[str, float]:
        """Operation name → weight, in a fixed order."""
        return self.model_dump()


class ConcurrentSameKey(SpecModel):
    """groups bursts of size concurrent creates, each burst sharing one idempotency key."""

    groups: NonNegativeInt = 0
    size: Annotated[int, Field(ge=2)] = 2


class ConcurrentSameSlot(SpecModel):
    """groups bursts of size concurrent creates for one slot, each with its own key: exactly one
    may win the slot, the rest must get 409 (the database, not the code, must guarantee it)."""

    groups: NonNegativeInt = 0
    size: Annotated[int, Field(ge=2)] = 2


class Load(SpecModel):
    """What the clients do: how many, how fast, for how long, and which awkward cases."""

    users: PositiveInt = 10
    rate_rps: PositiveFloat | None = None
    shape: list[RateStep] | None = None
    duration_s: PositiveFloat
    mix: OperationMix = OperationMix()
    duplicate_replay_ratio: Ratio = 0.0
    concurrent_same_key: ConcurrentSameKey = ConcurrentSameKey()
    concurrent_same_slot: ConcurrentSameSlot = ConcurrentSameSlot()
    conflicting_slot_ratio: Ratio = 0.0
    resources: PositiveInt = 5

    @model_validator(mode="after")
    def _check_rate(self) -> Load:
        if (self.rate_rps is None) == (self.shape is None):
            raise rule_error(
                "needs exactly one of rate_rps (a constant rate) or shape (a list of steps)",
                at=("rate_rps",),
            )
        steps = self.shape or []
        if steps and steps[0].at_s != 0:
            raise rule_error(f"must be 0 (got {number_text(steps[0].at_s)})", ("shape", 0, "at_s"))
        for index, step in enumerate(steps):
            if index and step.at_s <= steps[index - 1].at_s:
                raise rule_error(
                    f"must be > shape[{index - 1}].at_s ({number_text(steps[index - 1].at_s)}): "
                    f"steps go in time order (got {number_text(step.at_s)})",
                    ("shape", index, "at_s"),
                )
            if step.at_s >= self.duration_s:
                raise rule_error(
                    f"must be < duration_s ({number_text(self.duration_s)}) "
                    f"(got {number_text(step.at_s)})",
                    ("shape", index, "at_s"),
                )
        return self

    def rate_at(self, t_s: float) -> float:
        """The target request rate at t_s seconds into the load."""
        if self.rate_rps is not None:
            return self.rate_rps
        steps = self.shape or []
        return [s.rate_rps for s in steps if s.at_s <= t_s][-1] if steps else 0.0


def _check_slo(expression: str) -> str:
    try:
        parse_assertion(expression)
    except AssertionSyntaxError as exc:
        raise rule_error(f"is not a valid assertion: {exc}") from exc
    return expression


def _check_invariant(name: str) -> str:
    if name not in INVARIANT_NAMES:
        raise rule_error(f"must be one of {', '.join(INVARIANT_NAMES)} (got '{name}')")
    return name


SloExpression = Annotated[str, AfterValidator(_check_slo)]
InvariantName = Annotated[str, AfterValidator(_check_invariant)]


class CountTolerance(SpecModel):
    """How far the twin's count may be from the real median: max(absolute, relative × median)."""

    absolute: NonNegativeFloat = ABSOLUTE_SLACK
    relative: NonNegativeFloat = RELATIVE_SLACK


class Agreement(SpecModel):
    """Where this scenario is inherently timing-driven: which counts the mode-agreement check
    (`./run_scenarios.py --compare-modes`) lets differ more than max(3, 10%), and why."""

    reason: Annotated[str, Field(min_length=10)]
    tolerance: dict[str, CountTolerance]

    @model_validator(mode="after")
    def _known_counts(self) -> Agreement:
        for count in self.tolerance:
            if count not in COUNTS:
                raise rule_error(
                    f"'{count}' is not a compared count; use one of {', '.join(COUNTS)}",
                    at=("tolerance", count),
                )
        return self

    def tolerances(self) -> dict[str, Tolerance]:
        return {
            count: Tolerance(t.absolute, t.relative, self.reason)
            for count, t in self.tolerance.items()
        }


class Scenario(SpecModel):
    """One scenario file, validated."""

    name: Slug
    description: str
    modes: Annotated[list[Literal["real", "sim"]], Field(min_length=1)] = ["real", "sim"]
    seed: NonNegativeInt = 1
    load: Load
    faults: list[Fault] = []
    settings: dict[str, Any] = {}
    drain_s: NonNegativeFloat = 5.0
    slo: list[SloExpression] = []
    invariants: list[InvariantName] | None = None
    agreement: Agreement | None = None

    @property
    def run_s(self) -> float:
        """Load plus drain window: how long the run lasts."""
        return self.load.duration_s + self.drain_s

    def assertions(self) -> list[SloAssertion]:
        """The SLO expressions, parsed."""
        return [parse_assertion(expression) for expression in self.slo]

    def invariant_names(self) -> tuple[str, ...]:
        """The invariants this scenario is judged by (all when it names none)."""
        return INVARIANT_NAMES if self.invariants is None else tuple(self.invariants)

    def declared_phases(self) -> list[Phase]:
        """The phases the spec declares, with their planned windows, in timeline order.

        Real mode records the windows as they actually happened; sim mode can use these as is.
        """
        phases = []
        steps = self.load.shape or []
        for index, step in enumerate(steps):
            if step.phase is not None:
                end = steps[index + 1].at_s if index + 1 < len(steps) else self.load.duration_s
                phases.append(Phase(step.phase, step.at_s, end))
        for fault in self.faults:
            if fault.phase is not None:
                phases.append(Phase(fault.phase, fault.at_s, fault.end_s(self.run_s)))
        return sorted(phases, key=lambda p: (p.start_s, p.name))

    @model_validator(mode="after")
    def _check_modes(self) -> Scenario:
        if len(set(self.modes)) != len(self.modes):
            raise rule_error(f"must not repeat a mode (got {self.modes})", at=("modes",))
        return self

    @model_validator(mode="after")
    def _check_timeline(self) -> Scenario:
        for index, fault in enumerate(self.faults):
            if index and fault.at_s < self.faults[index - 1].at_s:
                raise rule_error(
                    f"must be >= faults[{index - 1}].at_s "
                    f"({number_text(self.faults[index - 1].at_s)}): list the timeline in time "
                    f"order (got {number_text(fault.at_s)})",
                    ("faults", index, "at_s"),
                )
            if fault.at_s >= self.load.duration_s:
                raise rule_error(
                    f"must be < load.duration_s ({number_text(self.load.duration_s)}): a fault "
                    f"starts while the load runs (got {number_text(fault.at_s)})",
                    ("faults", index, "at_s"),
                )
            if fault.until_s is not None and fault.until_s > self.run_s:
                raise rule_error(
                    f"must be <= load.duration_s + drain_s ({number_text(self.run_s)}) "
                    f"(got {number_text(fault.until_s)})",
                    ("faults", index, "until_s"),
                )
        self._check_no_overlap()
        return self

    def _check_no_overlap(self) -> None:
        # Two faults on one knob at once (two provider profiles, two toxics of one type on one
        # stream) would silently replace each other; refuse rather than guess.
        for later_index, later in enumerate(self.faults):
            for index, earlier in enumerate(self.faults[:later_index]):
                if _knob(earlier) is None or _knob(earlier) != _knob(later):
                    continue
                if later.at_s < earlier.end_s(self.run_s):
                    raise rule_error(
                        f"overlaps faults[{index}] (both set {_knob(later)} from "
                        f"{number_text(later.at_s)} s); end the first with an until_s <= "
                        f"{number_text(later.at_s)} or merge them",
                        ("faults", later_index, "at_s"),
                    )

    @model_validator(mode="after")
    def _check_slo_phases(self) -> Scenario:
        declared = {phase.name for phase in self.declared_phases()}
        for index, expression in enumerate(self.slo):
            phase = parse_assertion(expression).phase
            if phase is not None and phase not in declared:
                known = ", ".join(sorted(declared)) or "none; give a fault or a shape step a phase"
                raise rule_error(
                    f"selects phase '{phase}', which no fault or load step declares "
                    f"(declared: {known})",
                    ("slo", index),
                )
        return self


def _knob(fault: Any) -> str | None:
    if isinstance(fault, ProviderFault):
        return "the provider profile"
    if fault.target == "network":
        stream = getattr(fault.params, "stream", None)
        return f"the network '{fault.action}'" + (f" toxic ({stream})" if stream else "")
    return None
