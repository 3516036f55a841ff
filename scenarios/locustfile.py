"""The Locust load profile: each user is one `ClientStream` of `scenarios.workload`.

Run as its own process (Locust monkey-patches the whole process with gevent on import, so nothing
else in Rehearsal imports this module): the runner starts
`locust -f scenarios/locustfile.py --headless ...` with REHEARSAL_LOAD naming a JSON config (seed,
scenario, mix, rate, event log path). Under plain `locust -f scenarios/locustfile.py --host URL`
it runs a healthy create/get mix with seed 1 and keeps no event log.
Every request becomes one JSON line in the event log: wall-clock start/end (the runner turns them
into offsets from the run's start), key, operation, status, appointment id, external state.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path

from locust import FastHttpUser, events, task
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scenarios.workload import ClientStream, WorkloadConfig, body_digest  # noqa: E402

_CONFIG_PATH = os.environ.get("REHEARSAL_LOAD")
CONFIG: dict = json.loads(Path(_CONFIG_PATH).read_text()) if _CONFIG_PATH else {}
WORKLOAD = WorkloadConfig(
    scenario=CONFIG.get("scenario", "adhoc"),
    seed=int(CONFIG.get("seed", 1)),
    resources=int(CONFIG.get("resources", 20)),
    mix=CONFIG.get("mix", {"create": 4, "get": 1}),
    duplicate_replay_ratio=float(CONFIG.get("duplicate_replay_ratio", 0.0)),
    conflicting_slot_ratio=float(CONFIG.get("conflicting_slot_ratio", 0.0)),
)
USERS = int(CONFIG.get("users", 10))
RATE_RPS = float(CONFIG.get("rate_rps") or 50.0)  # with a shape, the shape rules
MAX_REQUESTS = int(CONFIG.get("max_requests", 1_000_000))
_client_numbers = itertools.count()
_issued = itertools.count()
_log_file = None


@events.test_start.add_listener
def _open_log(environment: Environment, **_: object) -> None:
    global _log_file, _STARTED
    _STARTED = time.monotonic()
    if CONFIG.get("event_log"):
        _log_file = open(CONFIG["event_log"], "a", buffering=1)  # noqa: SIM115 - closed on stop


@events.test_stop.add_listener
def _close_log(environment: Environment, **_: object) -> None:
    if _log_file is not None:
        _log_file.flush()
        _log_file.close()


class BookingClient(FastHttpUser):
    """One client: paced so that all users together offer RATE_RPS (or the shape's rate).

    A rate shape needs no LoadTestShape: the user count stays fixed and each user's pacing
    follows the shape's current step (which also keeps -u/--run-time usable).
    """

    network_timeout = 10.0
    connection_timeout = 5.0

    def wait_time(self) -> float:
        # Constant throughput per user, following the shape's current rate when there is one.
        rate = _current_rate() / max(1, USERS)
        elapsed = time.monotonic() - self._last_start
        return max(0.0, 1.0 / rate - elapsed) if rate > 0 else 1.0

    def on_start(self) -> None:
        self.stream = ClientStream(WORKLOAD, next(_client_numbers))
        # Spread the users' first requests over one pacing interval, as independent clients
        # would arrive, instead of all users firing in the same millisecond at spawn.
        rate = _current_rate() / max(1, USERS)
        if rate > 0:
            time.sleep(self.stream.rng.uniform(0, 1.0 / rate))  # gevent-patched: yields
        self._last_start = time.monotonic()
        self.headers = {"Content-Type": "application/json"}
        if CONFIG.get("api_key"):
            self.headers["Authorization"] = f"Bearer {CONFIG['api_key']}"

    @task
    def next_request(self) -> None:
        self._last_start = time.monotonic()
        if next(_issued) >= MAX_REQUESTS:
            self.environment.runner.quit()
            return
        planned = self.stream.next_request()
        headers = dict(self.headers)
        request_id = str(uuid.UUID(int=self.stream.rng.getrandbits(128), version=4))
        headers["X-Request-ID"] = request_id
        if planned.idempotency_key:
            headers["Idempotency-Key"] = planned.idempotency_key
        started = time.time()
        status, appointment_id, external_state, replayed = None, None, None, False
        with self.client.request(
            planned.method,
            planned.path,
            json=planned.body,
            headers=headers,
            name=planned.operation,
            catch_response=True,
        ) as response:
            ended = time.time()
            status = response.status_code or None
            if status is not None and response.text and planned.method == "POST":
                try:
                    data = response.json()
                    appointment_id = data.get("id")
                    external_state = data.get("external_state")
                except (ValueError, AttributeError):
                    pass
            elif status == 200 and planned.operation == "get":
                try:
                    data = response.json()
                    appointment_id = data.get("id")
                    external_state = data.get("external_state")
                except (ValueError, AttributeError):
                    pass
            replayed = (response.headers or {}).get("Idempotent-Replayed") == "true"
            if status in planned.expected_statuses:
                response.success()
            else:
                response.failure(f"status {status}, expected {planned.expected_statuses}")
        self.stream.record(planned, status, appointment_id)
        if _log_file is not None:
            row = {
                "scenario": WORKLOAD.scenario,
                "seed": WORKLOAD.seed,
                "request_id": request_id,
                "client": planned.client,
                "index": planned.index,
                "idempotency_key": planned.idempotency_key,
                "operation": planned.operation,
                "replay_of": planned.replay_of,
                "body_digest": body_digest(planned.body),
                "start_wall": started,
                "end_wall": ended,
                "http_status": status,
                "expected_statuses": list(planned.expected_statuses),
                "appointment_id": appointment_id,
                "external_state": external_state,
                "replayed": replayed,
            }
            _log_file.write(json.dumps(row, sort_keys=True) + "\n")


def _current_rate() -> float:
    shape = CONFIG.get("shape")
    if not shape:
        return RATE_RPS
    elapsed = time.monotonic() - _STARTED
    rate = shape[0]["rate_rps"]
    for stage in shape:
        if elapsed >= stage["at_s"]:
            rate = stage["rate_rps"]
    return float(rate)


_STARTED = time.monotonic()
