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

    A crash keeps the service down for the crash fault's `restart_s`, in both modes: the twin
    waits that long, and here a standby process — booted before the load starts — waits behind
    a gate file (`REHEARSAL_LISTEN_GATE`) until the crash, then opens the
    port `restart_s` after it. Booting at the moment of the crash instead took 1.3-5 s on this
    2-core machine depending on what else ran, and the requests refused meanwhile, and so the
    run's counts, varied with it. When the standby is not ready by then (it died, or could not
    boot in time), the run says so (`late_restarts`)."""

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
        self._standby: tuple[ManagedProcess, Path] | None = None
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
        self.process = self._launch(crash_at)

    def wait_ready(self) -> None:
        assert self.process is not None
        self.process.wait_ready(timeout_s=30)
        self._watch = threading.Thread(target=self._watch_loop, name="service-watch", daemon=True)
        self._watch.start()

    def prepare_standby(self) -> None:
        """The scenario will crash the service: boot the process that takes over, behind its
        gate (before the load starts, so its boot competes with nothing that is measured)."""
        if self._standby is None:
            gate = self.log_dir / f"listen-gate-{self._generation + 1}"
            gate.unlink(missing_ok=True)
            self._standby = (self._launch(None, gate=gate), gate)

    def _launch(self, crash_at: str | None, gate: Path | None = None) -> ManagedProcess:
        self._generation += 1
        env = service_env(self.env, self.seed, self._generation, crash_at)
        env.pop("REHEARSAL_LISTEN_GATE", None)
        if gate is not None:
            env["REHEARSAL_LISTEN_GATE"] = str(gate)
        process = ManagedProcess(
            f"service (start {self._generation})",
            self.argv,
            self.log_dir / "service.log",
            ready_url=f"{self.url}/readyz",
            env=env,
            cwd=ROOT,
        )
        return self.group.add(process.start())

    def _restart(self) -> None:
        """The service crashed a moment ago: open the standby's gate, or start a new process."""
        listen_at = time.time() + self.restart_s
        standby, self._standby = self._standby, None
        if standby is not None and standby[0].returncode is None:
            process, gate = standby
            partial = gate.with_suffix(".part")
            partial.write_text(f"{listen_at:.3f}\n")
            os.replace(partial, gate)  # the standby reads a whole file or none
        else:
            process = self._launch(None)
            self.late_restarts.append(
                "no booted standby was there to take over; a fresh process booted instead, so "
                "the downtime was this machine's boot time, not the fault's restart_s"
            )
        self.process = process
        process.wait_ready(timeout_s=30)
        late_s = time.time() - listen_at  # ready this long after it should have been
        if late_s > 1.0:
            self.late_restarts.append(
                f"the restarted service was ready {late_s:.2f} s after the crash fault's "
                f"restart_s {self.restart_s:g} s (it could not start serving in time here): "
                "requests refused meanwhile will exceed the twin's"
            )

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
                self._restart()
            except HarnessError as exc:
                self.unexpected_exit = f"the service did not come back after a crash: {exc}"
                return

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.join(timeout=5)
        if self._standby is not None:
            self._standby[0].stop()
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
