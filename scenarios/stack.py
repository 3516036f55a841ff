"""The live stack of a real-mode run: fake provider, Toxiproxy, and the service under test.

Owns starting them on free loopback ports, readiness with a bound, the service's supervision (a
crash point ends it with 137; the supervisor restarts it on the same port and database, disarmed),
and teardown through the run's `ProcessGroup`. With `target_url` it starts no service and points
the scenarios at that one instead. Toxiproxy: `TOXIPROXY_URL` when set, else the embedded server
as a child process.

Seeds: each scenario's components are seeded from its run seed by the contract's one derivation
(`contract.seeds`), as the twin seeds its own: every service start gets its incarnation's
`service-jitter` seed as `REHEARSAL_SEED`, the provider its `provider` seed with the profile
reset before the scenario (and in every profile the timeline sends), and the embedded proxy its
`proxy` seed — restarted with it before a scenario whose timeline adds toxics (only toxics draw;
a real Toxiproxy at `TOXIPROXY_URL` draws unseeded, as upstream does).
I/O: subprocesses and loopback HTTP only.
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

from contract.scenario_settings import setting_variable, settings_env
from contract.seeds import derive_seed
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
    db_url: str | None = None  # None: a fresh SQLite file per scenario in the run folder
    target_url: str | None = None
    toxiproxy_url: str | None = None
    api_key: str | None = None
    python: str = sys.executable


def service_env(
    base: Mapping[str, str], seed: int, incarnation: int, crash_at: str | None
) -> dict[str, str]:
    """The environment of one service start: `base`, the incarnation's own jitter seed (the
    twin's incarnation `incarnation` draws from the same one), and its crash point if armed."""
    env = dict(base)
    env[setting_variable("seed")] = str(derive_seed(seed, "service-jitter", incarnation))
    env.pop(setting_variable("crash_at"), None)
    if crash_at:
        env[setting_variable("crash_at")] = crash_at
    return env


class ServiceSupervisor:
    """Runs the service; when it exits 137 (a crash point) restarts it disarmed, same port and DB.

    The restarted process starts at once but opens its port only `restart_s` after the crash
    (`REHEARSAL_LISTEN_NOT_BEFORE`), so the downtime a crash fault asks for is the downtime the
    load meets — the same as in the twin — not however long this machine takes to boot a process
    at that moment (1.3-3.3 s measured here under load). When booting takes longer, the run
    notes it (`late_restarts`)."""

    def __init__(
        self, group: ProcessGroup, argv: list[str], env: dict[str, str], log_dir: Path, seed: int
    ):
        self.group = group
        self.argv = argv
        self.env = env
        self.seed = seed  # the scenario's run seed; each start derives its own from it
        self.log_dir = log_dir
        self.crashes: list[float] = []  # monotonic times of observed crash exits
        self.restart_s = 3.0  # set by the crash fault that arms the next crash
        self.late_restarts: list[str] = []
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
        self._generation += 1
        env = service_env(self.env, self.seed, self._generation, crash_at)
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
            crashed_mono = time.monotonic()
            self.crashes.append(crashed_mono)
            # The exit is seen within one poll of it: the wall clock then, plus the downtime.
            listen_at = time.time() + self.restart_s
            try:
                self._launch(None, listen_at=listen_at)
            except HarnessError as exc:
                self.unexpected_exit = f"the service did not come back after a crash: {exc}"
                return
            down_s = time.monotonic() - crashed_mono
            if down_s > self.restart_s + 0.25:
                self.late_restarts.append(
                    f"the service took {down_s:.2f} s to come back after its crash, past the "
                    f"fault's restart_s {self.restart_s:g} s (this machine boots it slower): "
                    "requests refused meanwhile will exceed the twin's"
                )

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
    _embedded_proxy: ManagedProcess | None = None  # None: a Toxiproxy of the user's
    _proxy_seed: int | None = None

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
                "0",  # each scenario puts its own seed in force (`reset_faults`)
            ],
            logs / "provider.log",
            ready_url=f"http://127.0.0.1:{port}/_control/faults",
            cwd=ROOT,
        )
        self.group.add(provider.start()).wait_ready()
        self.provider_url = f"http://127.0.0.1:{port}"
        toxiproxy_url = self.options.toxiproxy_url or os.environ.get("TOXIPROXY_URL")
        if toxiproxy_url:
            self._connect_toxiproxy(toxiproxy_url)
        else:
            self._start_embedded_proxy(0)  # re-seeded per scenario when its toxics draw
        existing = self.toxiproxy.get_proxy(PROXY_NAME) if self.toxiproxy else None
        if existing is not None:
            assert self.toxiproxy is not None
            self.toxiproxy.destroy_proxy(PROXY_NAME)
        self.proxy_listen = f"127.0.0.1:{free_port()}"
        self._create_proxy()
        return self

    def _start_embedded_proxy(self, seed: int) -> None:
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
                str(seed),
            ],
            self.options.run_dir / "logs" / "toxiproxy.log",
            ready_url=f"http://127.0.0.1:{tport}/version",
            cwd=ROOT,
        )
        self.group.add(proxy.start()).wait_ready()
        self._embedded_proxy = proxy
        self._proxy_seed = seed
        self._connect_toxiproxy(f"http://127.0.0.1:{tport}")

    def _connect_toxiproxy(self, url: str) -> None:
        self.toxiproxy = ToxiproxyClient(url)
        try:
            self.toxiproxy.version()
        except Exception as exc:  # noqa: BLE001 - any failure here means no usable proxy
            raise HarnessError(f"no Toxiproxy answers at {url}: {exc}") from exc

    def _create_proxy(self) -> None:
        """The service→provider proxy, on the same listen address for the whole run."""
        assert self.toxiproxy is not None
        host, _, port = self.provider_url.removeprefix("http://").partition(":")
        created = self.toxiproxy.create_proxy(
            PROXY_NAME, upstream=f"{host}:{port}", listen=self.proxy_listen
        )
        self.proxy_listen = created.listen

    @property
    def calendar_url_via_proxy(self) -> str:
        return f"http://{self.proxy_listen}"

    def reset_faults(self, seed: int, toxics: bool) -> None:
        """Before each scenario: a healthy provider with no events and the scenario's provider
        seed, a clean proxy — with the scenario's proxy seed when its timeline adds toxics
        (`toxics`), which needs the embedded proxy restarted (its seed is fixed at start)."""
        assert self.toxiproxy is not None
        proxy_seed = derive_seed(seed, "proxy")
        if toxics and self._embedded_proxy is not None and self._proxy_seed != proxy_seed:
            self._embedded_proxy.stop()
            self._start_embedded_proxy(proxy_seed)
            self._create_proxy()
        self.toxiproxy.reset()
        with httpx.Client(timeout=5) as client:
            client.post(f"{self.provider_url}/_control/reset").raise_for_status()
            client.put(
                f"{self.provider_url}/_control/faults", json={"seed": derive_seed(seed, "provider")}
            ).raise_for_status()

    def start_service(
        self,
        scenario_name: str,
        settings: Mapping[str, Any],
        seed: int,
        crash_at: str | None = None,
    ) -> ServiceSupervisor | None:
        """The service for one scenario run seeded `seed` (each start derives its own seed)."""
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
        env.update(settings_env({"allow_crash_arming": True, **settings}))
        if self.options.api_key:
            env.setdefault("REHEARSAL_API_KEYS", f"{self.options.api_key}:rehearsal")
        supervisor = ServiceSupervisor(self.group, argv, env, scenario_dir, seed)
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
