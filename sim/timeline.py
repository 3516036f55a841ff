"""The fault timeline in virtual time: the same apply/revert steps real mode plays on the wall.

Replays `contract.fault_schedule.schedule(faults)` step by step at its `at_s`: a provider fault puts
its profile in force (`ProviderFault.control_json`, the seed defaulting to the run's provider seed,
`contract.seeds`) and its revert restores the default profile; a network fault adds or removes a
toxic on the path (or takes the proxy down); a crash arms the service's crash point for its nth
passage. Records each fault's phase window as real mode does (`contract.fault_schedule.phase_name`;
a fault still in force at the end closes at the end of the run), merged by name with the spec's
declared phases (the load shape's named steps among them), as `scenarios.real_mode` does.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from contract.evidence import Phase
from contract.fault_schedule import phase_name, schedule
from contract.spec import CrashFault, NetworkFault, ProviderFault, Scenario
from fakes.calendar.profile import FaultProfile
from sim.host import ServiceHost
from sim.network import NetworkPath
from sim.provider import SimProvider


class TimelinePlayer:
    """Plays a scenario's faults against the twin's provider, network path and service."""

    def __init__(
        self,
        env: simpy.Environment,
        scenario: Scenario,
        provider_seed: int,
        provider: SimProvider,
        network: NetworkPath,
        host: ServiceHost,
    ) -> None:
        self.env = env
        self.scenario = scenario
        self.provider_seed = provider_seed
        self.provider = provider
        self.network = network
        self.host = host
        self._windows: dict[int, list[Any]] = {}  # fault index → [name, start, end]
        self.process = env.process(self._play())

    def _play(self) -> Generator[Any, Any, None]:
        env = self.env
        for step in schedule(self.scenario.faults):
            if step.at_s > env.now:
                yield env.timeout(step.at_s - env.now)
            if step.verb == "apply":
                self._windows[step.index] = [phase_name(step.index, step.fault), env.now, None]
                self._apply(step.fault, step.index)
            else:
                self._revert(step.fault, step.index)
                self._windows[step.index][2] = env.now

    def _apply(self, fault: Any, index: int) -> None:
        if isinstance(fault, ProviderFault):
            self.provider.set_profile(
                FaultProfile.model_validate(fault.control_json(self.provider_seed))
            )
        elif isinstance(fault, NetworkFault):
            self.network.add(index, fault)
        elif isinstance(fault, CrashFault):
            params = fault.params
            self.host.arm_crash(params.point, params.nth, params.restart_s)
        else:  # pragma: no cover - the spec's union is closed
            raise TypeError(f"unknown fault {fault!r}")

    def _revert(self, fault: Any, index: int) -> None:
        if isinstance(fault, ProviderFault):
            self.provider.reset_profile()
        elif isinstance(fault, NetworkFault):
            self.network.remove(index, fault)

    def phases(self, run_s: float) -> list[Phase]:
        """The phases as real mode reports them: the spec's declared windows (load-shape steps
        included), replaced by name with the fault windows as played, by start then name."""
        recorded = {
            name: Phase(name, round(start, 6), round(end if end is not None else run_s, 6))
            for name, start, end in self._windows.values()
        }
        planned = {phase.name: phase for phase in self.scenario.declared_phases()}
        merged = {**planned, **recorded}
        return sorted(merged.values(), key=lambda p: (p.start_s, p.name))
