"""The Locust load profile: each user is one `ClientStream` of `contract.workload`.

Run as its own process (Locust monkey-patches the whole process with gevent on import, so nothing
else in Rehearsal imports this module): the runner starts
`locust -f scenarios/locustfile.py --headless ...` with REHEARSAL_LOAD naming a JSON config (seed,
scenario, mix, rate, event log path). Under plain `locust -f scenarios/locustfile.py --host URL`
it runs a healthy create/get mix with seed 1 and keeps no event log.
Every request becomes one JSON line in the event log: wall-clock start/end (the runner turns them
into offsets from the run's start), key, operation, status, appointment id, external state.
"""

from __future__ import annotations

import gc
import itertools
import json
import os
import sys
import time
import uuid
from pathlib import Path

import gevent
import gevent.event
from locust import FastHttpUser, events, task
from locust.env import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from contract.pacing import user_request_due_s  # noqa: E402
from contract.workload import ClientStream, WorkloadConfig, body_digest  # noqa: E402

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
# (at_s, rate_rps) steps: the shape's, or one constant step.
STEPS = [(float(s["at_s"]), float(s["rate_rps"])) for s in CONFIG.get("shape") or []] or [
    (0.0, RATE_RPS)
]
_client_numbers = itertools.count()
_issued = itertools.count()
_log_file = None
_GO = gevent.event.Event()  # set once the run's t=0 is known
_REPLY_GRACE_S = 1.0  # replies still in flight at the end get this long
DURATION_S = float(CONFIG.get("duration_s", 0)) or None


@events.test_start.add_listener
def _open_log(environment: Environment, **_: object) -> None:
    global _log_file
    # Everything loaded so far (modules, the app, its schemas) lives as long as the process:
    # out of the collector's sight (gc.freeze), a full collection no longer walks it — such a
    # walk stalled Locust's loop for 50–170 ms under load and skewed the measured latencies.
    gc.freeze()
    if CONFIG.get("event_log"):
        _log_file = open(CONFIG["event_log"], "a", buffering=1)  # noqa: SIM115 - closed on stop
    if CONFIG.get("start_file"):
        gevent.spawn(_await_start, environment)
    else:  # plain `locust -f`: start now, run until Locust's own --run-time
        _set_start(time.time())


def _set_start(t0_wall: float) -> None:
    global _STARTED
    _STARTED = time.monotonic() - (time.time() - t0_wall)
    _GO.set()


def _await_start(environment: Environment) -> None:
    """The runner's t=0: say we are ready, wait for its start file, then quit by ourselves at
    t=0 + duration (plus a grace for replies still in flight), so the load ends on time."""
    Path(CONFIG["ready_file"]).write_text("ready")
    start_file = Path(CONFIG["start_file"])
    deadline = time.monotonic() + 120
    while not start_file.exists():
        if time.monotonic() > deadline:
            environment.runner.quit()
            return
        gevent.sleep(0.01)
    t0_wall = float(json.loads(start_file.read_text())["t0_wall"])
    _set_start(t0_wall)
    end_in = t0_wall + float(CONFIG.get("duration_s", 10)) - time.time()
    gevent.spawn_later(max(0.0, end_in) + _REPLY_GRACE_S, environment.runner.quit)


@events.test_stop.add_listener
def _close_log(environment: Environment, **_: object) -> None:
    if _log_file is not None:
        _log_file.flush()
        _log_file.close()


class BookingClient(FastHttpUser):
    """One client: paced so that all users together offer exactly the scenario's rate.

    A rate shape needs no LoadTestShape: the user count stays fixed and the pacing follows the
    shape's steps (which also keeps -u/--run-time usable).
    """

    network_timeout = 10.0
    connection_timeout = 5.0

    def wait_time(self) -> float:
        # Exact offered rate (contract.pacing): this user's next request is due at a fixed time
        # on the run's clock; a user that is behind goes at once.
        due = _STARTED + user_request_due_s(self.stream.client, USERS, self._sent, STEPS)
        return max(0.0, due - time.monotonic())

    def on_start(self) -> None:
        self.stream = ClientStream(WORKLOAD, next(_client_numbers))
        self._sent = 0
        self.headers = {"Content-Type": "application/json"}
        if CONFIG.get("api_key"):
            self.headers["Authorization"] = f"Bearer {CONFIG['api_key']}"
        _GO.wait()
        # Locust runs the task before the first wait_time: the first request waits its turn here.
        time.sleep(self.wait_time())  # gevent-patched: yields

    @task
    def next_request(self) -> None:
        due = user_request_due_s(self.stream.client, USERS, self._sent, STEPS)
        if DURATION_S is not None and due >= DURATION_S:
            time.sleep(0.5)  # past the load's end: idle until the quit at t=0 + duration
            return
        self._sent += 1
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


_STARTED = time.monotonic()
