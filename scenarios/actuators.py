"""What a fault timeline step does to the live stack.

`LiveActuator` turns a scenario's fault entries into calls: network faults become Toxiproxy toxics
on the service→provider proxy (or the proxy disabled for `down`), provider faults a
`PUT /_control/faults`, service crashes an arming of the service's crash point. Reverting restores
the healthy state. I/O: Toxiproxy's API through `toxiproxy-python`, loopback HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx

from contract.spec.faults import CrashFault, DownFault, NetworkFault, ProviderFault
from fakes.toxiproxy.client import ToxiproxyClient
from scenarios.stack import PROXY_NAME


class LiveActuator:
    def __init__(
        self,
        toxiproxy: ToxiproxyClient,
        provider_url: str,
        provider_seed: int,  # the scenario's `provider` seed (`contract.seeds`)
        arm_crash: Any = None,  # callable(point, nth, restart_s) from the runner; None: skipped
    ) -> None:
        self.toxiproxy = toxiproxy
        self.provider_url = provider_url
        self.seed = provider_seed
        self.arm_crash = arm_crash
        self.notes: list[str] = []
        self._toxic_names: dict[int, str] = {}
        # One client for the run: building one per step (an SSL context, a pool) took 150-400 ms
        # on a busy machine, and a provider fault then came into force that late — the slow
        # phase of slow_provider confirmed requests 0.4 s into it that the twin made PENDING.
        self._http = httpx.Client(timeout=5, trust_env=False)

    def close(self) -> None:
        self._http.close()

    def apply(self, index: int, fault: Any) -> None:
        if isinstance(fault, DownFault):
            self.toxiproxy.set_enabled(PROXY_NAME, False)
        elif isinstance(fault, NetworkFault):
            params = fault.params
            self._toxic_names[index] = self.toxiproxy.add_toxic(
                PROXY_NAME,
                fault.action,
                stream=params.stream,
                name=f"{fault.action}_{params.stream}_{index}",
                toxicity=params.toxicity,
                **params.attributes(),
            )
        elif isinstance(fault, ProviderFault):
            self._put_profile(fault.control_json(self.seed))
        elif isinstance(fault, CrashFault):
            if self.arm_crash is None:
                self.notes.append(f"fault {index}: crash point skipped (no service of ours to arm)")
            else:
                params = fault.params
                self.arm_crash(params.point, params.nth, params.restart_s)
        else:  # pragma: no cover - the spec's union is closed
            raise TypeError(f"unknown fault {fault!r}")

    def revert(self, index: int, fault: Any) -> None:
        if isinstance(fault, DownFault):
            self.toxiproxy.set_enabled(PROXY_NAME, True)
        elif isinstance(fault, NetworkFault):
            name = self._toxic_names.pop(index, None)
            if name:
                self.toxiproxy.remove_toxic(PROXY_NAME, name)
        elif isinstance(fault, ProviderFault):
            self._put_profile({"seed": self.seed})

    def _put_profile(self, body: dict[str, Any]) -> None:
        response = self._http.put(f"{self.provider_url}/_control/faults", json=body)
        if response.status_code != 200:
            raise RuntimeError(
                f"the provider refused the fault profile ({response.status_code}): "
                f"{response.text[:300]}"
            )
