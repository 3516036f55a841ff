"""What `--search` may throw at a scenario: fault timelines valid per the scenario spec, as
Hypothesis strategies, and the scenario each timeline makes.

A timeline is a list of `FaultDraft`s — network toxics (down, timeout, reset_peer, latency),
provider profiles (commit-then-fail, transient and permanent errors, outage, hang, slow) and
service crash points — drawn with Hypothesis so that it can shrink a failing one: fewer faults,
earlier and shorter windows, and within each list of choices the first (`one_of` and
`sampled_from` shrink towards it), so the kinds and values are listed simplest first.

Rules that keep every drawn timeline a valid scenario (`contract.spec`) and a fair test:
- times are whole `step_s` steps; every fault starts and ends while the load runs and the last
  step of the load and the drain window stay clear of faults, so a service that recovers can
  show it (the after-the-drain invariants are about recovery, not about a fault held to the end);
- faults are put in time order, and one that overlaps an earlier one on the same knob (the
  provider profile, one toxic type on one stream, the proxy switch) is dropped, as the spec
  refuses both;
- the generated timeline replaces the scenario's own; a provider profile the scenario holds from
  t = 0 to the end (a standing profile) keeps its traits (`STANDING_TRAITS`: whether the provider
  honours keys, its latency model) under the generated provider windows and between them;
- provider profiles name their seed (the run's), so the scenario file written from a timeline
  replays exactly what was run (a profile without one takes the run's seed, which a replay with
  another `--seed` would change).

Pure: data in, data and strategies out; no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from contract.spec import CRASH_POINTS, ProviderFault, Scenario, parse_scenario, scenario_to_yaml

#: Fault families, in the order the shrinker prefers them.
KINDS = ("provider", "network", "crash")
#: Provider-profile fields that describe the provider rather than a fault; a standing profile's
#: values for them hold throughout a searched timeline.
STANDING_TRAITS = ("honour_idempotency", "latency_ms")
RATES = (1.0, 0.5, 0.2, 0.05)
STREAMS = ("downstream", "upstream")


@dataclass(frozen=True)
class FaultDraft:
    """One drawn fault: `kind` (provider | network | crash), the spec's `action`, its `params`
    (before the standing traits and the seed are added), and its window in steps."""

    kind: str
    action: str
    params: Mapping[str, Any]
    start_step: int
    steps: int | None  # None: a crash (one shot)
    label: str = field(default="", compare=False)

    def describe(self, step_s: float) -> str:
        """'provider commit_then_fail (rate 1, mode error) 0-0.1 s'."""
        start = _seconds(self.start_step, step_s)
        if self.steps is None:
            return f"{self.kind} {self.label} at {start:g} s"
        end = _seconds(self.start_step + self.steps, step_s)
        return f"{self.kind} {self.label} {start:g}-{end:g} s"


@dataclass(frozen=True)
class SearchSpace:
    """The timelines one scenario may meet, and the scenario each one makes."""

    scenario: Scenario
    seed: int
    kinds: tuple[str, ...] = KINDS
    max_faults: int = 4
    step_s: float = 0.1
    standing: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def for_scenario(
        cls,
        scenario: Scenario,
        seed: int,
        kinds: Sequence[str] = KINDS,
        max_faults: int = 4,
        step_s: float = 0.1,
    ) -> SearchSpace:
        """The space for `scenario` run with `seed`. Raises ValueError saying what to change when
        the load is too short to hold a fault or a kind is unknown."""
        unknown = [kind for kind in kinds if kind not in KINDS]
        if unknown or not kinds:
            raise ValueError(f"fault kinds must be some of {', '.join(KINDS)} (got {list(kinds)})")
        if int(round(scenario.load.duration_s / step_s)) < 2:
            raise ValueError(
                f"scenario '{scenario.name}': load.duration_s ({scenario.load.duration_s:g}) "
                f"must hold at least two {step_s:g} s steps for a fault timeline"
            )
        return cls(
            scenario,
            seed,
            tuple(k for k in KINDS if k in kinds),
            max_faults,
            step_s,
            standing_traits(scenario),
        )

    @property
    def horizon_steps(self) -> int:
        """Faults start and end by this step (the load's last step stays clear)."""
        return int(round(self.scenario.load.duration_s / self.step_s)) - 1

    # -- strategies ----------------------------------------------------------------------------
    def timelines(self) -> st.SearchStrategy[list[FaultDraft]]:
        """Lists of up to `max_faults` drafts (the empty timeline first: the scenario as is)."""
        return st.lists(self.fault(), max_size=self.max_faults)

    def fault(self) -> st.SearchStrategy[FaultDraft]:
        builders = {"provider": self._provider, "network": self._network, "crash": self._crash}
        return st.one_of([builders[kind]() for kind in self.kinds])

    def _window(self) -> st.SearchStrategy[tuple[int, int]]:
        """(start step, length in steps), the length cut at the horizon (no `flatmap`: the
        shrinker moves each number on its own)."""
        horizon = self.horizon_steps
        return st.builds(
            lambda start, steps: (start, min(steps, horizon - start)),
            st.integers(0, horizon - 1),
            st.integers(1, horizon),
        )

    def _provider(self) -> st.SearchStrategy[FaultDraft]:
        rate = st.sampled_from(RATES)
        profiles = st.one_of(
            st.builds(
                lambda r, mode: (
                    "commit_then_fail",
                    {"commit_then_fail_rate": r, "commit_then_fail_mode": mode},
                    f"commit_then_fail (rate {r:g}, mode {mode})",
                ),
                rate,
                st.sampled_from(("error", "drop")),
            ),
            st.builds(
                lambda r, status: (
                    "error",
                    {"error_rate": r, "error_status": status},
                    f"error (rate {r:g}, status {status})",
                ),
                rate,
                st.sampled_from((503, 500, 429)),
            ),
            st.just(("outage", {"outage": True}, "outage")),
            st.builds(
                lambda r, hang: (
                    "hang",
                    {"hang_rate": r, "hang_s": hang},
                    f"hang (rate {r:g}, {hang:g} s)",
                ),
                rate,
                st.sampled_from((30.0, 1.0, 5.0)),
            ),
            st.builds(
                lambda r: (
                    "permanent",
                    {"permanent_error_rate": r},
                    f"permanent error (rate {r:g})",
                ),
                rate,
            ),
            st.builds(
                lambda ms: (
                    "slow",
                    {"latency_ms": {"dist": "constant", "ms": ms}},
                    f"slow ({ms:g} ms)",
                ),
                st.sampled_from((500.0, 100.0, 2000.0)),
            ),
        )
        return st.builds(
            lambda profile, window: FaultDraft(
                "provider", "profile", profile[1], window[0], window[1], profile[2]
            ),
            profiles,
            self._window(),
        )

    def _network(self) -> st.SearchStrategy[FaultDraft]:
        toxicity = st.sampled_from((1.0, 0.5))
        stream = st.sampled_from(STREAMS)
        toxics = st.one_of(
            st.just(("down", {}, "down")),
            st.builds(
                lambda t, s, x: (
                    "reset_peer",
                    {"timeout": t, "stream": s, "toxicity": x},
                    f"reset_peer ({s}, after {t} ms, toxicity {x:g})",
                ),
                st.sampled_from((0, 10, 100)),
                stream,
                toxicity,
            ),
            st.builds(
                lambda t, s, x: (
                    "timeout",
                    {"timeout": t, "stream": s, "toxicity": x},
                    f"timeout ({s}, {'never closes' if t == 0 else f'closes after {t} ms'}, "
                    f"toxicity {x:g})",
                ),
                st.sampled_from((0, 100, 1000)),
                stream,
                toxicity,
            ),
            st.builds(
                lambda ms, jitter, s, x: (
                    "latency",
                    {"latency": ms, "jitter": jitter, "stream": s, "toxicity": x},
                    f"latency ({s}, {ms} ± {jitter} ms, toxicity {x:g})",
                ),
                st.sampled_from((1000, 300, 100)),
                st.sampled_from((0, 50)),
                stream,
                toxicity,
            ),
        )
        return st.builds(
            lambda toxic, window: FaultDraft(
                "network", toxic[0], toxic[1], window[0], window[1], toxic[2]
            ),
            toxics,
            self._window(),
        )

    def _crash(self) -> st.SearchStrategy[FaultDraft]:
        return st.builds(
            lambda point, nth, start: FaultDraft(
                "crash",
                "crash",
                {"point": point, "nth": nth},
                start,
                None,
                f"crash at {point} (passage {nth})",
            ),
            st.sampled_from(CRASH_POINTS),
            st.integers(1, 3),
            st.integers(0, self.horizon_steps - 1),
        )

    # -- timelines → scenarios ---------------------------------------------------------------
    def kept(self, drafts: Sequence[FaultDraft]) -> list[FaultDraft]:
        """The drafts in time order (ties: drawing order), without those that overlap an
        earlier one on the same knob."""
        ordered = sorted(enumerate(drafts), key=lambda item: (item[1].start_step, item[0]))
        busy_until: dict[str, int] = {}
        kept: list[FaultDraft] = []
        for _, draft in ordered:
            knob = _knob(draft)
            if knob is not None:
                if busy_until.get(knob, -1) > draft.start_step:
                    continue
                busy_until[knob] = draft.start_step + (draft.steps or 0)
            kept.append(draft)
        return kept

    def fault_entries(self, drafts: Sequence[FaultDraft]) -> list[dict[str, Any]]:
        """The `faults:` entries of a timeline, standing provider traits filled in."""
        kept = self.kept(drafts)
        entries: list[dict[str, Any]] = []
        provider_windows: list[tuple[int, int]] = []
        for draft in kept:
            start = _seconds(draft.start_step, self.step_s)
            entry: dict[str, Any] = {"at_s": start, "target": draft.kind, "action": draft.action}
            if draft.kind == "crash":
                entry["target"] = "service"
            else:
                assert draft.steps is not None
                entry["until_s"] = _seconds(draft.start_step + draft.steps, self.step_s)
            if draft.kind == "provider":
                entry["params"] = {**self.standing, **draft.params, "seed": self.seed}
                provider_windows.append((draft.start_step, draft.start_step + (draft.steps or 0)))
            elif draft.params:
                entry["params"] = dict(draft.params)
            entries.append(entry)
        entries.extend(self._standing_entries(provider_windows))
        return sorted(entries, key=lambda e: e["at_s"])

    def _standing_entries(self, windows: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """The standing profile between (and around) the generated provider windows."""
        if not self.standing:
            return []
        entries = []
        begin = 0
        for start, end in [*sorted(windows), (None, None)]:
            if start is None or start > begin:
                entry: dict[str, Any] = {
                    "at_s": _seconds(begin, self.step_s),
                    "target": "provider",
                    "action": "profile",
                    "params": {**self.standing, "seed": self.seed},
                }
                if start is not None:
                    entry["until_s"] = _seconds(start, self.step_s)
                entries.append(entry)
            if end is not None:
                begin = end
        return entries

    def scenario_for(self, drafts: Sequence[FaultDraft]) -> tuple[Scenario, str]:
        """The scenario a timeline makes (the seed pinned, faults replaced) and its YAML text,
        read back from that text so that what runs is exactly what a file would hold."""
        data = self.scenario.model_dump(mode="json", exclude_none=True)
        data["seed"] = self.seed
        data["faults"] = self.fault_entries(drafts)
        text = scenario_to_yaml(Scenario.model_validate(data))
        return parse_scenario(text, f"searched timeline of '{self.scenario.name}'"), text

    def describe(self, drafts: Sequence[FaultDraft]) -> list[str]:
        return [draft.describe(self.step_s) for draft in self.kept(drafts)]


def standing_traits(scenario: Scenario) -> dict[str, Any]:
    """The traits of the provider profile the scenario holds for its whole run, if any."""
    for fault in scenario.faults:
        if isinstance(fault, ProviderFault) and fault.at_s == 0 and fault.until_s is None:
            params = fault.params.model_dump(mode="json", exclude_unset=True)
            return {name: params[name] for name in STANDING_TRAITS if name in params}
    return {}


def _knob(draft: FaultDraft) -> str | None:
    if draft.kind == "provider":
        return "provider"
    if draft.kind == "network":
        return f"{draft.action}/{draft.params.get('stream', '')}"
    return None


def _seconds(steps: int, step_s: float) -> float:
    return round(steps * step_s, 6)
