"""What the twin is configured by beyond the service's own settings: its service-time model.

Owns `TwinParams`: the costs the real service spends and the twin must be told (CPU per request,
database time, network round trips, restart time). They are uncalibrated defaults until `--fit`
(issue 5 §6) replaces them; `apply_overrides` lets sweeps and calibration set them with
`twin.<name>` keys beside `load.*` and `settings.*` ones. The service's settings themselves are
read as the service reads them (`sim.service_settings`).

Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract.spec import Scenario


@dataclass(frozen=True)
class TwinParams:
    """The twin's service-time model (milliseconds unless the name says otherwise).

    CPU is one FIFO queue per service worker process (`cpu_workers`, uvicorn runs one): a request
    spends `cpu_<op>_ms` there, spread log-normally by `cpu_sigma`, split around its I/O
    (`cpu_before_share` first, `cpu_slice_ms` per resumption, the rest last; `sim.timing`). Database transactions hold one
    of `db_pool_size` connections; writes also take SQLite's single writer lock when
    `db_single_writer`. `provider_rtt_ms` is the service→proxy→provider→back trip outside the
    provider's own latency model; `client_rtt_ms` the load driver's HTTP trip to the service.
    """

    client_rtt_ms: float = 1.0
    provider_rtt_ms: float = 1.2
    cpu_create_ms: float = 1.6
    cpu_get_ms: float = 0.5
    cpu_list_ms: float = 0.9
    cpu_cancel_ms: float = 1.2
    cpu_reschedule_ms: float = 2.0
    cpu_sigma: float = 0.25
    cpu_before_share: float = 0.6  # of a request's CPU, the part before its first transaction
    cpu_slice_ms: float = 0.05  # the event loop's work each time a request resumes after I/O
    cpu_workers: int = 1
    db_read_ms: float = 0.15
    db_write_ms: float = 0.4
    db_single_writer: bool = True
    connect_refused_ms: float = 0.3
    client_timeout_s: float = 10.0
    spawn_rate_per_user: float = 10.0  # Locust -r: users * 10 per second
    burst_at_s: float = 0.05  # the scripted driver's barrier before a same-key burst
    request_bytes: int = 300  # sizes a bandwidth, slicer or limit_data toxic works on
    response_bytes: int = 400
    max_in_flight: int = 0  # 0: no limit; else 503 beyond this many requests in the service

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool):
                continue
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"twin.{f.name} must be a number >= 0 (got {value!r})")
        if self.cpu_workers < 1:
            raise ValueError(f"twin.cpu_workers must be >= 1 (got {self.cpu_workers})")
        if self.cpu_before_share > 1:
            raise ValueError(f"twin.cpu_before_share must be <= 1 (got {self.cpu_before_share})")


def apply_overrides(
    scenario: Scenario, overrides: Mapping[str, Any] | None, params: TwinParams | None = None
) -> tuple[Scenario, TwinParams]:
    """The scenario and twin parameters with dotted `overrides` applied.

    Keys: `twin.<param>` sets a `TwinParams` field; any other key is a path into the scenario
    (`load.rate_rps`, `settings.breaker_cooldown_s`, `drain_s`). The scenario is validated again,
    so a bad value fails with the scenario's own message.

    >>> from contract.spec import parse_scenario
    >>> s = parse_scenario("name: x\\ndescription: d\\nload: {rate_rps: 5, duration_s: 1}")
    >>> apply_overrides(s, {"load.rate_rps": 50, "twin.cpu_workers": 2})[0].load.rate_rps
    50.0
    """
    params = params or TwinParams()
    if not overrides:
        return scenario, params
    twin: dict[str, Any] = {}
    # exclude_unset keeps what the file left out unset: a provider profile without a seed must
    # still take the run's seed.
    data = scenario.model_dump(mode="json", exclude_unset=True)
    for path, value in overrides.items():
        head, _, rest = path.partition(".")
        if head == "twin":
            if rest not in {f.name for f in dataclasses.fields(TwinParams)}:
                known = ", ".join(f.name for f in dataclasses.fields(TwinParams))
                raise ValueError(f"override '{path}': no twin parameter '{rest}' (known: {known})")
            twin[rest] = value
            continue
        _set_path(data, path.split("."), value, path)
    if "shape" in data.get("load", {}) and overrides.get("load.rate_rps") is not None:
        data["load"]["shape"] = None  # a constant rate replaces a shape
    if "rate_rps" in data.get("load", {}) and overrides.get("load.shape") is not None:
        data["load"]["rate_rps"] = None
    return Scenario.model_validate(_without_nones(data)), dataclasses.replace(params, **twin)


def _set_path(data: dict[str, Any], parts: list[str], value: Any, path: str) -> None:
    target: Any = data
    for part in parts[:-1]:
        if not isinstance(target, dict):
            raise ValueError(f"override '{path}': '{part}' is not a mapping in the scenario")
        target = target.setdefault(part, {})
    if not isinstance(target, dict):
        raise ValueError(f"override '{path}': its parent is not a mapping in the scenario")
    target[parts[-1]] = value


def _without_nones(data: Any) -> Any:
    # model_dump writes absent optionals as null, which the strict models refuse as values.
    if isinstance(data, dict):
        return {k: _without_nones(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_without_nones(v) for v in data]
    return data
