"""The fault timeline of a scenario: what breaks, where, from when to when.

A fault is one entry of `faults:` — `at_s`, optional `until_s` (> at_s; absent: to the end of the
run, drain window included), `target` (network | provider | service), `action`, `params`, and an
optional `phase` name that SLO assertions can select (`latency_ms.p95[phase=outage] < 50`).

- network: a Toxiproxy toxic on the service→provider proxy, `action` being the toxic type and
  `params` its Toxiproxy attributes plus `stream` and `toxicity`; or `down` (proxy disabled).
- provider: `profile`, whose params are a fake-provider fault profile (DESIGN §4, validated by
  the fake's own `FaultProfile`), PUT to `/_control/faults` at `at_s`, replaced by the default
  profile at `until_s`.
- service: `crash` at a named crash point, on the nth time the point is reached after `at_s`.

Data only: the runner plays the timeline on `simpy.RealtimeEnvironment`, the twin in virtual time.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from contract.spec.base import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    Ratio,
    Slug,
    SpecModel,
    number_text,
    rule_error,
)
from fakes.calendar.profile import FaultProfile

#: The service's crash points (REHEARSAL_CRASH_AT).
CRASH_POINTS = (
    "after_db_commit_before_calendar",
    "after_calendar_before_db_update",
    "relay_after_claim",
    "relay_after_calendar_before_mark",
)

CrashPoint = Literal[
    "after_db_commit_before_calendar",
    "after_calendar_before_db_update",
    "relay_after_claim",
    "relay_after_calendar_before_mark",
]


class FaultWindow(SpecModel):
    """When a fault holds: [at_s, until_s), until the end of the run when until_s is absent."""

    at_s: NonNegativeFloat
    until_s: float | None = None
    phase: Slug | None = None
    # False: the fault is not meant to touch the load's requests (it acts before or after
    # them, or on the relay alone), so its phase need not reach any (`contract.fault_reach`).
    reaches_requests: bool = True

    @model_validator(mode="after")
    def _check_window(self) -> FaultWindow:
        if self.until_s is not None and self.until_s <= self.at_s:
            raise rule_error(
                f"must be > at_s ({number_text(self.at_s)}) (got {number_text(self.until_s)})",
                at=("until_s",),
            )
        return self

    def end_s(self, run_s: float) -> float:
        """The end of the window, run_s (load + drain) when the fault holds to the end."""
        return self.until_s if self.until_s is not None else run_s


# --- network: Toxiproxy toxics -----------------------------------------------------------------


class ToxicParams(SpecModel):
    """What every toxic takes besides its attributes (Toxiproxy's own field names)."""

    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: Ratio = 1.0

    def attributes(self) -> dict[str, Any]:
        """The toxic's `attributes` object for Toxiproxy's API."""
        return self.model_dump(exclude={"stream", "toxicity"})


class LatencyToxic(ToxicParams):
    """latency (ms) ± jitter (ms) on every chunk of data."""

    latency: NonNegativeInt
    jitter: NonNegativeInt = 0


class BandwidthToxic(ToxicParams):
    """Data limited to rate KB/s."""

    rate: NonNegativeInt


class SlowCloseToxic(ToxicParams):
    """The close of the connection delayed by delay ms."""

    delay: NonNegativeInt


class TimeoutToxic(ToxicParams):
    """No data passes; the connection closes after timeout ms (0: never)."""

    timeout: NonNegativeInt = 0


class ResetPeerToxic(ToxicParams):
    """The connection reset (TCP RST) after timeout ms."""

    timeout: NonNegativeInt = 0


class SlicerToxic(ToxicParams):
    """Data sliced into packets of average_size ± size_variation bytes, delay µs apart."""

    average_size: PositiveInt
    size_variation: NonNegativeInt = 0
    delay: NonNegativeInt = 0


class LimitDataToxic(ToxicParams):
    """The connection closed after bytes bytes have passed."""

    bytes: NonNegativeInt


class DownParams(SpecModel):
    """`down` takes no params: the proxy is disabled for the window."""


class NetworkFault(FaultWindow):
    """A fault on the service→provider network path."""

    target: Literal["network"]


class LatencyFault(NetworkFault):
    action: Literal["latency"]
    params: LatencyToxic


class BandwidthFault(NetworkFault):
    action: Literal["bandwidth"]
    params: BandwidthToxic


class SlowCloseFault(NetworkFault):
    action: Literal["slow_close"]
    params: SlowCloseToxic


class TimeoutFault(NetworkFault):
    action: Literal["timeout"]
    params: TimeoutToxic = TimeoutToxic()


class ResetPeerFault(NetworkFault):
    action: Literal["reset_peer"]
    params: ResetPeerToxic = ResetPeerToxic()


class SlicerFault(NetworkFault):
    action: Literal["slicer"]
    params: SlicerToxic


class LimitDataFault(NetworkFault):
    action: Literal["limit_data"]
    params: LimitDataToxic


class DownFault(NetworkFault):
    action: Literal["down"]
    params: DownParams = DownParams()


# --- provider: fake-provider fault profile -----------------------------------------------------


class ProviderFault(FaultWindow):
    """A fault profile set on the fake provider for the window.

    params is validated by the fake's own `FaultProfile` (one definition of the fields, DESIGN §4
    and beyond); a field the scenario leaves out keeps the fake's default.
    """

    target: Literal["provider"]
    action: Literal["profile"]
    params: FaultProfile

    @field_validator("params", mode="before")
    @classmethod
    def _known_profile_fields(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            known = list(FaultProfile.model_fields)
            for key in value:
                if key not in FaultProfile.model_fields:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise rule_error(
                        f"is not a fault-profile field ({hint}known: {', '.join(known)})",
                        at=(str(key),),
                    )
        return value

    def control_json(self, default_seed: int) -> dict[str, Any]:
        """The body for `PUT /_control/faults`: the fields the scenario set, seed defaulting to
        default_seed (the scenario's seed) so fault decisions repeat run after run."""
        body = self.params.model_dump(mode="json", exclude_unset=True)
        body.setdefault("seed", default_seed)
        return body


# --- service: crash points ---------------------------------------------------------------------


class CrashParams(SpecModel):
    """Where the service kills itself (exit 137), on which passage of that point, and how long
    it stays down: `restart_s` after the crash the restarted service takes connections again, in
    both modes (the real runner starts the new process at once and it opens its port then; a
    process that cannot boot that fast is noted, and comes back when it can)."""

    point: CrashPoint
    nth: PositiveInt = 1
    restart_s: PositiveFloat = 3.0


class CrashFault(FaultWindow):
    """The service crashes at a crash point; the runner restarts it and the run goes on."""

    target: Literal["service"]
    action: Literal["crash"]
    params: CrashParams

    @model_validator(mode="after")
    def _one_shot(self) -> CrashFault:
        if self.until_s is not None:
            raise rule_error("must be absent: a crash is a one-shot event", at=("until_s",))
        return self


NetworkFaultEntry = Annotated[
    LatencyFault
    | BandwidthFault
    | SlowCloseFault
    | TimeoutFault
    | ResetPeerFault
    | SlicerFault
    | LimitDataFault
    | DownFault,
    Field(discriminator="action"),
]

#: One entry of a scenario's fault timeline.
Fault = Annotated[NetworkFaultEntry | ProviderFault | CrashFault, Field(discriminator="target")]
