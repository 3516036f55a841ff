"""The requests a scenario's load makes, derived from the seed: pure and shared by every driver.

Owns: what each simulated client sends next (operation, idempotency key, body) and which HTTP
statuses count as a correct answer. Locust (`scenarios/locustfile.py`), the scripted driver and
the SimPy twin all draw from here, so one seed means the same keys, slots and payloads everywhere.
Pure: no clock, no I/O; each client stream owns a `random.Random` seeded by the run contract's
one derivation (`contract.seeds`: the "workload" component, per scenario name and client).

Hot: the SimPy twin draws tens of thousands of requests a second from here, so slot times are
arithmetic on the grid (not `datetime` + `strftime`), ids are formatted directly and the operation
draw reuses its cumulative weights — each exactly what the plain version gives (the twin's tests
hold a stream to the plain version, `tests/sim/workload_reference.py`, request for request).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contract.seeds import component_rng

# Slots are laid out on a grid far in the future so runs never collide with "now" checks.
SLOT_EPOCH = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)
SLOT_MINUTES = 30
MAX_CLIENTS = 4096  # Locust users, plus the scripted bursts' clients (1000+, 2000+)
OPERATIONS = ("create", "replay", "conflict", "get", "list", "cancel", "reschedule")
SERVICE_TYPES = ("consultation", "pickup")

# The grid as minutes from midnight of its first day; slot times of the days after it are built
# from the day's ISO date and a time of day (`slot_for`).
_GRID_ORDINAL = SLOT_EPOCH.toordinal()
_GRID_MINUTE = SLOT_EPOCH.hour * 60 + SLOT_EPOCH.minute
_DAY_MINUTES = 24 * 60
_TIMES_OF_DAY = tuple(f"T{m // 60:02d}:{m % 60:02d}:00Z" for m in range(_DAY_MINUTES))
_LAST_ORDINAL = date.max.toordinal()


@dataclass(frozen=True)
class WorkloadConfig:
    scenario: str
    seed: int
    resources: int = 20
    mix: dict[str, float] = field(default_factory=lambda: {"create": 1.0})
    duplicate_replay_ratio: float = 0.0
    conflicting_slot_ratio: float = 0.0


@dataclass(frozen=True)
class PlannedRequest:
    client: int
    index: int
    operation: str  # one of OPERATIONS
    method: str
    path: str
    idempotency_key: str | None
    body: dict[str, Any] | None
    expected_statuses: tuple[int, ...]
    replay_of: str | None = None  # the key of the create this one repeats


_new_object = object.__new__


def _planned(
    client: int,
    index: int,
    operation: str,
    method: str,
    path: str,
    idempotency_key: str | None,
    body: dict[str, Any] | None,
    expected_statuses: tuple[int, ...],
    replay_of: str | None = None,
) -> PlannedRequest:
    """`PlannedRequest(...)`, equal field for field, without the frozen dataclass's
    `object.__setattr__` per field (a third of drawing a request, in the twin's hot loop)."""
    planned = _new_object(PlannedRequest)
    fields = planned.__dict__
    fields["client"] = client
    fields["index"] = index
    fields["operation"] = operation
    fields["method"] = method
    fields["path"] = path
    fields["idempotency_key"] = idempotency_key
    fields["body"] = body
    fields["expected_statuses"] = expected_statuses
    fields["replay_of"] = replay_of
    return planned


def body_digest(body: dict[str, Any] | None) -> str | None:
    """sha256 of the body's canonical JSON (sorted keys, no insignificant whitespace, text as
    is): what the service's idempotency fingerprint gives for the same body. Written here, not
    imported, because the contract must not import the service; `tests/contract/test_workload.py`
    holds the two equal.

    >>> body_digest({"b": 1, "a": [1, 2]}) == body_digest({"a": [1, 2], "b": 1})
    True
    """
    if body is None:
        return None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def slot_for(resource_index: int, slot_index: int) -> tuple[str, str, str]:
    """(resource id, start, end) of a slot on the grid: ISO 8601 UTC text to the second."""
    start = _GRID_MINUTE + SLOT_MINUTES * slot_index
    end = start + SLOT_MINUTES
    start_day, start_minute = divmod(start, _DAY_MINUTES)
    end_day, end_minute = divmod(end, _DAY_MINUTES)
    if slot_index < 0 or _GRID_ORDINAL + end_day > _LAST_ORDINAL:
        return _slot_by_datetime(resource_index, slot_index)  # before the grid, or past year 9999
    start_date = _grid_date(start_day)
    end_date = start_date if end_day == start_day else _grid_date(end_day)
    return (
        f"resource-{resource_index:03d}",
        start_date + _TIMES_OF_DAY[start_minute],
        end_date + _TIMES_OF_DAY[end_minute],
    )


@functools.lru_cache(maxsize=1024)
def _grid_date(day: int) -> str:
    """The ISO date of the grid's day `day` (clients at one request index share a few days)."""
    return date.fromordinal(_GRID_ORDINAL + day).isoformat()


def _slot_by_datetime(resource_index: int, slot_index: int) -> tuple[str, str, str]:
    # The definition `slot_for` computes faster; it also raises what the grid raises past 9999.
    start = SLOT_EPOCH + timedelta(minutes=SLOT_MINUTES * slot_index)
    end = start + timedelta(minutes=SLOT_MINUTES)
    return f"resource-{resource_index:03d}", _iso(start), _iso(end)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_CLEAR_VERSION = ~(0xF000 << 64)
_CLEAR_VARIANT = ~(0xC000 << 48)
_VERSION_4 = 4 << 76
_VARIANT_RFC = 0x8000 << 48


def uuid4_text(bits: int) -> str:
    """`str(uuid.UUID(int=bits, version=4))` for 0 <= bits < 2**128, formatted directly."""
    h = "%032x" % ((bits & _CLEAR_VARIANT | _VARIANT_RFC) & _CLEAR_VERSION | _VERSION_4)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def create_body(rng: random.Random, resource_id: str, start: str, end: str) -> dict[str, Any]:
    return {
        "customer_id": uuid4_text(rng.getrandbits(128)),
        "resource_id": resource_id,
        "slot": {"start_time": start, "end_time": end},
        "service_type": rng.choice(SERVICE_TYPES),
        "title": "rehearsal booking",
        "owner": {"name": "Rehearsal Client", "email": "client@example.test"},
    }


class ClientStream:
    """One simulated client's requests, in order. Feed back what each create returned
    (`record`) so later gets/cancels/replays refer to real appointments."""

    def __init__(self, config: WorkloadConfig, client: int) -> None:
        if not 0 <= client < MAX_CLIENTS:
            raise ValueError(f"client number must be in 0..{MAX_CLIENTS - 1} (got {client})")
        self.config = config
        self.client = client
        self.rng = component_rng(config.seed, "workload", config.scenario, client)
        self.index = 0
        self._creates: list[PlannedRequest] = []
        # Live appointments this client holds, with their slots (insertion order = creation order),
        # and their ids in that order (what `rng.choice` picks from; kept in step with the dict).
        self._live: dict[str, tuple[str, str, str]] = {}
        self._live_ids: list[str] = []
        ops = [op for op in OPERATIONS if config.mix.get(op, 0) > 0]
        self._ops = ops or ["create"]
        self._weights = [config.mix.get(op, 0) for op in self._ops] if ops else [1.0]
        # `choices(ops, weights=w)` accumulates w on every call; given once, the draw is the same.
        self._cum_weights = list(itertools.accumulate(self._weights))
        # ...and with them, `choices` is one bisection of `random() * total` (its own code, inlined
        # for the twin's hot loop); weights it would refuse still go through it, to raise there.
        total = self._cum_weights[-1] + 0.0
        self._total = total if 0.0 < total and math.isfinite(total) else None
        self._last_op = len(self._ops) - 1
        self._key_prefix = f"{config.scenario}-{config.seed}-c{client}-"

    def _key(self, tag: str) -> str:
        return f"{self._key_prefix}{self.index}-{tag}"

    def _unique_slot(self) -> tuple[str, str, str]:
        # Clients interleave on one grid: client c, request i → slot i * MAX_CLIENTS + c, so no two
        # clients ever share a slot and the grid stays far inside year 9999 for any bounded run.
        resource = self.rng.randrange(self.config.resources)
        return slot_for(resource, self.index * MAX_CLIENTS + self.client)

    def next_request(self) -> PlannedRequest:
        self.index += 1
        roll = self.rng.random()
        if self._creates and roll < self.config.duplicate_replay_ratio:
            return self._replay()
        roll = self.rng.random()
        if self._live and roll < self.config.conflicting_slot_ratio:
            return self._conflict()
        if self._total is not None:
            index = bisect.bisect(
                self._cum_weights, self.rng.random() * self._total, 0, self._last_op
            )
            operation = self._ops[index]
        else:
            operation = self.rng.choices(self._ops, cum_weights=self._cum_weights)[0]
        live = self._live_ids
        if operation in ("get", "cancel", "reschedule", "conflict") and not live:
            operation = "create"
        if operation == "replay" and not self._creates:
            operation = "create"
        if operation == "create":
            return self._create()
        if operation == "replay":
            return self._replay()
        if operation == "conflict":
            return self._conflict()
        if operation == "list":
            resource, start, _ = slot_for(self.rng.randrange(self.config.resources), 0)
            path = f"/v1/appointments?resource_id={resource}"
            return _planned(self.client, self.index, "list", "GET", path, None, None, (200,))
        target = self.rng.choice(live)
        if operation == "get":
            path = f"/v1/appointments/{target}"
            return _planned(self.client, self.index, "get", "GET", path, None, None, (200,))
        if operation == "cancel":
            self._forget(target)
            path = f"/v1/appointments/{target}/cancel"
            return _planned(
                self.client, self.index, "cancel", "POST", path, self._key("cancel"), {}, (200, 202)
            )
        resource, start, end = self._unique_slot()
        resource = self._forget(target)[0]  # a reschedule keeps the resource, moves the time
        self._hold(target, (resource, start, end))
        path = f"/v1/appointments/{target}/reschedule"
        body = {"slot": {"start_time": start, "end_time": end}}
        return _planned(
            self.client,
            self.index,
            "reschedule",
            "POST",
            path,
            self._key("resched"),
            body,
            (200, 202, 409),
        )

    def _create(self) -> PlannedRequest:
        resource, start, end = self._unique_slot()
        body = create_body(self.rng, resource, start, end)
        planned = _planned(
            self.client,
            self.index,
            "create",
            "POST",
            "/v1/appointments",
            self._key("create"),
            body,
            (201, 202),
        )
        self._creates.append(planned)
        return planned

    def _replay(self) -> PlannedRequest:
        original = self.rng.choice(self._creates)
        return _planned(
            self.client,
            self.index,
            "replay",
            "POST",
            original.path,
            original.idempotency_key,
            original.body,
            # 409 while the first is still in flight is a correct answer too (DESIGN §3).
            (201, 202, 409),
            replay_of=original.idempotency_key,
        )

    def _hold(self, appointment_id: str, slot: tuple[str, str, str]) -> None:
        if appointment_id not in self._live:
            self._live_ids.append(appointment_id)
        self._live[appointment_id] = slot

    def _forget(self, appointment_id: str) -> tuple[str, str, str]:
        self._live_ids.remove(appointment_id)
        return self._live.pop(appointment_id)

    def _conflict(self) -> PlannedRequest:
        resource, start, end = self._live[self.rng.choice(self._live_ids)]
        body = create_body(self.rng, resource, start, end)
        return _planned(
            self.client,
            self.index,
            "conflict",
            "POST",
            "/v1/appointments",
            self._key("conflict"),
            body,
            (409,),
        )

    def slot_race(self, size: int) -> list[PlannedRequest]:
        """`size` creates for one fresh slot, each with its own key and customer: a burst where
        one may win and the others must get 409."""
        self.index += 1
        resource, start, end = self._unique_slot()
        racers = []
        for n in range(size):
            body = create_body(self.rng, resource, start, end)
            racers.append(
                _planned(
                    self.client,
                    self.index,
                    "conflict" if n else "create",
                    "POST",
                    "/v1/appointments",
                    self._key(f"race{n}"),
                    body,
                    (201, 202, 409),
                )
            )
        return racers

    def record(self, planned: PlannedRequest, status: int | None, appointment_id: str | None):
        """What the service answered; successful creates become targets for later operations."""
        if (
            planned.operation == "create"
            and status in (201, 202)
            and appointment_id
            and planned.body
        ):
            slot = planned.body["slot"]
            self._hold(
                appointment_id, (planned.body["resource_id"], slot["start_time"], slot["end_time"])
            )
