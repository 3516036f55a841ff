"""`python -m fakes.toxiproxy`: ready line, clean shutdown on signals, clear failures."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import pytest
import requests

from fakes.toxiproxy.process import ToxiproxyProcess

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_until_a_signal_then_exits_zero(sig, echo_upstream):
    child = ToxiproxyProcess(seed=4).start()
    try:
        assert requests.get(child.url + "/version", timeout=5).status_code == 200
        created = requests.post(
            child.url + "/proxies",
            json={"name": "p", "upstream": echo_upstream.address},
            timeout=5,
        ).json()
        host, port = created["listen"].rsplit(":", 1)
        client = socket.create_connection((host, int(port)), timeout=5)
        assert child.popen is not None
        child.popen.send_signal(sig)
        assert child.popen.wait(10) == 0
        assert client.recv(10) == b""  # its proxies went down with it
        client.close()
        with pytest.raises(requests.ConnectionError):
            requests.get(child.url + "/version", timeout=2)
    finally:
        child.stop()
    assert "toxiproxy: shutting down" in child.stderr_text
    assert "Traceback" not in child.stderr_text


def test_a_taken_port_fails_with_the_reason():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "fakes.toxiproxy", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "another --port" in result.stderr
    assert result.stdout == ""  # no ready line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "http"], "must be a whole number"),
        (["--port", "70000"], "must be 0..65535"),
        (["--seed", "x"], "invalid int value"),
        (["--frobnicate"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_non_zero_with_usage(args, message):
    result = subprocess.run(
        [sys.executable, "-m", "fakes.toxiproxy", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "usage:" in result.stderr
