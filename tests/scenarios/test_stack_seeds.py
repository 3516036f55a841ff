"""The live stack seeds each scenario's processes from its run seed, as the twin does.

Starts the fake provider, the embedded Toxiproxy and a service on loopback.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from contract.seeds import derive_seed
from contract.workload import ClientStream, WorkloadConfig
from scenarios.stack import PROXY_NAME, LiveStack, StackOptions

pytestmark = pytest.mark.integration


def _argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _environ(pid: int) -> dict[str, str]:
    pairs = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace").split("\0")
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


def test_provider_proxy_and_service_get_the_scenarios_derived_seeds(tmp_path: Path) -> None:
    stack = LiveStack(StackOptions(run_dir=tmp_path))
    try:
        stack.start()
        listen = stack.proxy_listen
        first_proxy = stack._embedded_proxy
        assert first_proxy is not None and first_proxy.pid is not None

        # No toxics in the timeline: the proxy does not draw, and is left as it is.
        stack.reset_faults(7, toxics=False)
        assert stack._embedded_proxy is first_proxy
        profile = httpx.get(f"{stack.provider_url}/_control/faults", timeout=5).json()
        assert profile["seed"] == derive_seed(7, "provider")

        # Toxics: the embedded proxy restarts with the scenario's proxy seed, same listen address.
        stack.reset_faults(7, toxics=True)
        proxy = stack._embedded_proxy
        assert proxy is not None and proxy is not first_proxy and first_proxy.returncode is not None
        argv = _argv(proxy.pid)
        assert argv[argv.index("--seed") + 1] == str(derive_seed(7, "proxy"))
        assert stack.toxiproxy is not None
        assert stack.toxiproxy.get_proxy(PROXY_NAME).listen == listen == stack.proxy_listen
        stack.reset_faults(7, toxics=True)  # the same seed again: no restart
        assert stack._embedded_proxy is proxy

        supervisor = stack.start_service("seeded", {"relay_poll_s": 0.5}, 7)
        assert supervisor is not None and supervisor.process is not None
        supervisor.wait_ready()
        environ = _environ(supervisor.process.pid)
        assert environ["REHEARSAL_SEED"] == str(derive_seed(7, "service-jitter", 1))
        assert environ["REHEARSAL_RELAY_POLL_S"] == "0.5"
        # A booking reaches the provider through the re-created proxy and is confirmed.
        planned = ClientStream(WorkloadConfig("seeded", 7), 0).next_request()
        answer = httpx.post(
            f"{supervisor.url}{planned.path}",
            json=planned.body,
            headers={"Idempotency-Key": planned.idempotency_key or ""},
            timeout=10,
        )
        assert answer.status_code == 201 and answer.json()["external_state"] == "CONFIRMED"
        supervisor.stop()
    finally:
        stack.stop()
