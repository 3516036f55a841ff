"""The live stack of a real-mode run: fake provider, Toxiproxy, and the service under test.

Owns starting them on free loopback ports, readiness with a bound, the service's supervision (a
crash point ends it with 137; the supervisor restarts it on the same port and database, disarmed),
and teardown through the run's `ProcessGroup`. With `target_url` it starts no service and points
the scenarios at that one instead. Toxiproxy: `TOXIPROXY_URL` when set, else the embedded server
as a child process. I/O: subprocesses and loopback HTTP only.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from contract.scenario_settings import settings_env
from fakes.toxiproxy.client import ToxiproxyClient
from scenarios.pg_databases import (
    create_database,
    drop_database,
    is_postgres,
    scenario_database_url,
)
from scenarios.processes import HarnessError, ManagedProcess, ProcessGroup, free_port

ROOT = Path(__file__).resolve().parents[1]
PROXY_NAME = "calendar"
CRASH_EXIT_CODE = 137


@dataclass(frozen=True)
class StackOptions:
    run_dir: Path
    seed: int
    db_url: str | None = None  # None: a fresh SQLite file per scenario in the run folder
    target_url: str | None = None
    toxiproxy_url: str | None = None
    api_key: str | None = None
    python: str = sys.executable


class ServiceSupervisor:
    """Runs the service; when it exits 137 (a crash point) restarts it disarmed, same port and DB."""

    def __init__(self, group: ProcessGroup, argv: list[str], env: dict[str, str], log_dir: Path):
        self.group = group
        self.argv = argv
        self.env = env
        self.log_dir = log_dir
        self.crashes: list[float] = []  # monotonic times of observed crash exits
        self.unexpected_exit: str | None = None
        self.process: ManagedProcess | None = None
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._generation = 0
        self.port = int(argv[argv.index("--port") + 1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, crash_at: str | None = None) -> None:
        """Launch the service; `wait_ready` before sending it anything (the caller may start
        other work, e.g. Locust's slow import, while the service boots)."""
        self._launch(crash_at, wait=False)

    def wait_ready(self) -> None:
        assert self.process is not None
        self.process.wait_ready(timeout_s=30)
        self._watch = threading.Thread(target=self._watch_loop, name="service-watch", daemon=True)
        self._watch.start()

    def _launch(self, crash_at: str | None, wait: bool = True) -> None:
        env = dict(self.env)
        env.pop("REHEARSAL_CRASH_AT", None)
        if crash_at:
            env["REHEARSAL_CRASH_AT"] = crash_at
        self._generation += 1
        process = ManagedProcess(
            f"service (start {self._generation})",
            self.argv,
            self.log_dir / "service.log",
            ready_url=f"{self.url}/readyz",
            env=env,
            cwd=ROOT,
        )
        self.process = self.group.add(process.start())
        if wait:
            process.wait_ready(timeout_s=30)

    def _watch_loop(self) -> None:
        while not self._stop.wait(0.05):
            process = self.process
            code = process.returncode if process else None
            if code is None:
                continue
            if code != CRASH_EXIT_CODE:
                self.unexpected_exit = (
                    f"the service exited with code {code}; last lines:\n{process.log_tail()}"
                )
                return
            self.crashes.append(time.monotonic())
            try:
                self._launch(None)
            except HarnessError as exc:
                self.unexpected_exit = f"the service did not come back after a crash: {exc}"
                return

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=5)
        if self.process is not None:
            self.process.stop()


@dataclass
class LiveStack:
    """The provider and the proxy for the whole run; a service per scenario."""

    options: StackOptions
    group: ProcessGroup = field(default_factory=ProcessGroup)
    provider_url: str = ""
    toxiproxy: ToxiproxyClient | None = None
    proxy_listen: str = ""
    scratch_databases: list[str] = field(default_factory=list)

    def start(self) -> LiveStack:
        logs = self.options.run_dir / "logs"
        port = free_port()
        provider = ManagedProcess(
            "fake calendar",
            [
                self.options.python,
                "-m",
                "fakes.calendar",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--seed",
                str(self.options.seed),
            ],
            logs / "provider.log",
            ready_url=f"http://127.0.0.1:{port}/_control/faults",
            cwd=ROOT,
        )
        self.group.add(provider.start()).wait_ready()
        self.provider_url = f"http://127.0.0.1:{port}"
        toxiproxy_url = self.options.toxiproxy_url or os.environ.get("TOXIPROXY_URL")
        if not toxiproxy_url:
            tport = free_port()
            proxy = ManagedProcess(
                "embedded toxiproxy",
                [
                    self.options.python,
                    "-m",
                    "fakes.toxiproxy",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(tport),
                    "--seed",
                    str(self.options.seed),
                ],
                logs / "toxiproxy.log",
                ready_url=f"http://127.0.0.1:{tport}/version",
                cwd=ROOT,
            )
            self.group.add(proxy.start()).wait_ready()
            toxiproxy_url = f"http://127.0.0.1:{tport}"
        self.toxiproxy = ToxiproxyClient(toxiproxy_url)
        try:
            self.toxiproxy.version()
        except Exception as exc:  # noqa: BLE001 - any failure here means no usable proxy
            raise HarnessError(f"no Toxiproxy answers at {toxiproxy_url}: {exc}") from exc
        existing = self.toxiproxy.get_proxy(PROXY_NAME)
        if existing is not None:
            self.toxiproxy.destroy_proxy(PROXY_NAME)
        created = self.toxiproxy.create_proxy(
            PROXY_NAME, upstream=f"127.0.0.1:{port}", listen=f"127.0.0.1:{free_port()}"
        )
        self.proxy_listen = created.listen
        return self

    @property
    def calendar_url_via_proxy(self) -> str:
        return f"http://{self.proxy_listen}"

    def reset_faults(self) -> None:
        """Before each scenario: a healthy provider with no events, a clean proxy."""
        assert self.toxiproxy is not None
        self.toxiproxy.reset()
        with httpx.Client(timeout=5) as client:
            client.post(f"{self.provider_url}/_control/reset").raise_for_status()

    def start_service(
        self, scenario_name: str, settings: Mapping[str, Any], crash_at: str | None = None
    ) -> ServiceSupervisor | None:
        if self.options.target_url:
            return None
        scenario_dir = self.options.run_dir / scenario_name
        scenario_dir.mkdir(parents=True, exist_ok=True)
        if is_postgres(self.options.db_url):
            assert self.options.db_url is not None
            db_url = scenario_database_url(
                self.options.db_url, self.options.run_dir.name, scenario_name
            )
            try:
                create_database(self.options.db_url, db_url)
            except Exception as exc:  # noqa: BLE001 - any failure: the harness cannot run
                raise HarnessError(
                    f"could not create a database for {scenario_name}: {exc}"
                ) from exc
            self.scratch_databases.append(db_url)
            print(
                f"  database: {make_url(db_url).render_as_string(hide_password=True)}", flush=True
            )
        else:
            db_url = self.options.db_url or f"sqlite+aiosqlite:///{scenario_dir / 'service.db'}"
        argv = [
            self.options.python,
            "-m",
            "service",
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
            "--db-url",
            db_url,
            "--calendar-url",
            self.calendar_url_via_proxy,
        ]
        env = dict(os.environ)
        env.update(
            settings_env({"seed": self.options.seed, "allow_crash_arming": True, **settings})
        )
        if self.options.api_key:
            env.setdefault("REHEARSAL_API_KEYS", f"{self.options.api_key}:rehearsal")
        supervisor = ServiceSupervisor(self.group, argv, env, scenario_dir)
        supervisor.start(crash_at)
        return supervisor

    def service_url(self, supervisor: ServiceSupervisor | None) -> str:
        if supervisor is None:
            assert self.options.target_url
            return self.options.target_url.rstrip("/")
        return supervisor.url

    def drop_scratch_databases(self) -> None:
        """Drop the per-scenario PostgreSQL databases (after their services stopped)."""
        assert self.options.db_url is not None or not self.scratch_databases
        while self.scratch_databases:
            url = self.scratch_databases.pop()
            try:
                drop_database(self.options.db_url or "", url)
            except Exception as exc:  # noqa: BLE001 - leave it, say so
                print(f"  note: could not drop scratch database {url}: {exc}")

    def stop(self) -> None:
        self.group.stop_all()
        self.drop_scratch_databases()
