"""`python -m fakes.calendar` as an operator meets it: ready line, bad arguments, taken port, signals."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

import httpx
import pytest

from fakes.calendar.__main__ import main

if TYPE_CHECKING:
    from tests.fakes.calendar.conftest import ProviderProcess

pytestmark = pytest.mark.integration


EVENT = {"calendar_id": "room-1", "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_shuts_it_down_cleanly_even_with_a_call_hanging(
    signum: int, start_fake_calendar: Callable[..., AbstractContextManager[ProviderProcess]]
) -> None:
    with (
        start_fake_calendar("--seed", "4") as provider,
        httpx.Client(base_url=provider.url, timeout=20) as http,
    ):
        assert provider.url.startswith("http://127.0.0.1:")
        assert (
            http.put("/_control/faults", json={"hang_rate": 1.0, "hang_s": 60}).json()["seed"] == 4
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            hung = pool.submit(http.post, "/v1/events", json=EVENT)
            deadline = time.monotonic() + 10
            while http.get("/_control/calls").json()["in_flight"] == 0:
                assert time.monotonic() < deadline, "the hanging call never arrived"
                time.sleep(0.02)
            # stop() waits 10 s, then SIGKILLs (returncode -9): far less than the 60 s hang.
            assert provider.stop(signum) == 0
            assert hung.result(timeout=10).status_code == 503
        assert "fake calendar stopped" in provider.output_after_ready()


def test_a_taken_port_is_a_clear_error_and_a_nonzero_exit(
    run_fake_calendar_cli: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = run_fake_calendar_cli("--port", str(port))
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
    assert "listening" not in done.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "70000"], "must be an integer 0-65535"),
        (["--port", "http"], "must be an integer 0-65535"),
        ([], "--port"),
        (["--port", "0", "--seed", "one"], "--seed"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_an_unknown_host_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "no-such-host.invalid", "--port", "0"]) == 1
    assert "cannot resolve --host 'no-such-host.invalid'" in capsys.readouterr().err
