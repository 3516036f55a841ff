"""The load's request streams as `contract.workload` wrote them before it was made fast: the
reference its fast version must equal request for request (`test_workload_equivalence.py`).

Frozen on purpose: do not optimise or "fix" this copy; when the workload's behaviour changes,
change both (the configs and planned requests are the workload's own types)."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta
from typing import Any

from contract.seeds import component_rng
from contract.workload import (
    MAX_CLIENTS,
    OPERATIONS,
    SLOT_EPOCH,
    SLOT_MINUTES,
    PlannedRequest,
    WorkloadConfig,
)


def slot_for(resource_index: int, slot_index: int) -> tuple[str, str, str]:
    start = SLOT_EPOCH + timedelta(minutes=SLOT_MINUTES * slot_index)
    end = start + timedelta(minutes=SLOT_MINUTES)
    return f"resource-{resource_index:03d}", _iso(start), _iso(end)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def create_body(rng: random.Random, resource_id: str, start: str, end: str) -> dict[str, Any]:
    return {
        "customer_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "resource_id": resource_id,
        "slot": {"start_time": start, "end_time": end},
        "service_type": rng.choice(["consultation", "pickup"]),
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
        # Live appointments this client holds, with their slots (insertion order = creation order).
        self._live: dict[str, tuple[str, str, str]] = {}
        ops = [op for op in OPERATIONS if config.mix.get(op, 0) > 0]
        self._ops = ops or ["create"]
        self._weights = [config.mix.get(op, 0) for op in self._ops] if ops else [1.0]

    def _key(self, tag: str) -> str:
        return f"{self.config.scenario}-{self.config.seed}-c{self.client}-{self.index}-{tag}"

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
        operation = self.rng.choices(self._ops, weights=self._weights)[0]
        live = list(self._live)
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
            return PlannedRequest(self.client, self.index, "list", "GET", path, None, None, (200,))
        target = self.rng.choice(live)
        if operation == "get":
            path = f"/v1/appointments/{target}"
            return PlannedRequest(self.client, self.index, "get", "GET", path, None, None, (200,))
        if operation == "cancel":
            self._live.pop(target, None)
            path = f"/v1/appointments/{target}/cancel"
            return PlannedRequest(
                self.client, self.index, "cancel", "POST", path, self._key("cancel"), {}, (200, 202)
            )
        resource, start, end = self._unique_slot()
        resource = self._live.pop(target)[0]  # a reschedule keeps the resource, moves the time
        self._live[target] = (resource, start, end)
        path = f"/v1/appointments/{target}/reschedule"
        body = {"slot": {"start_time": start, "end_time": end}}
        return PlannedRequest(
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
        planned = PlannedRequest(
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
        return PlannedRequest(
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

    def _conflict(self) -> PlannedRequest:
        resource, start, end = self._live[self.rng.choice(list(self._live))]
        body = create_body(self.rng, resource, start, end)
        return PlannedRequest(
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
                PlannedRequest(
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
            self._live[appointment_id] = (
                planned.body["resource_id"],
                slot["start_time"],
                slot["end_time"],
            )
