"""Crash arming through the real entry point (issue 16, item 8): `python -m service` refuses to
start with REHEARSAL_ALLOW_CRASH_ARMING=1 on a bind address other hosts can reach unless forced,
and warns at start whenever arming is on."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import service.__main__ as service_main
from service.settings import Settings, crash_arming_refusal
from tests.service.live_stack import REPO

pytestmark = pytest.mark.integration

ARMING = {"REHEARSAL_ALLOW_CRASH_ARMING": "1", "REHEARSAL_RELAY_ENABLED": "0"}


def _environment(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REHEARSAL_")}
    return {**env, **extra}


def _service_argv(tmp_path: Path, *flags: str) -> list[str]:
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    return [sys.executable, "-m", "service", "--port", "0", "--db-url", db_url, *flags]


def _start_and_stop(argv: list[str], env: dict[str, str]) -> tuple[dict[str, str], str]:
    """Run the service until its ready line, then SIGTERM it; its ready line and its log."""
    child = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # blocks until ready, or "" when it exited
        assert line, f"no ready line; exit {child.wait(timeout=10)}"
        ready = json.loads(line)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=20)
    return ready, err


def _crash_warnings(log: str) -> list[dict[str, str]]:
    lines = [json.loads(raw) for raw in log.splitlines() if raw.startswith("{")]
    return [line for line in lines if "CRASH ARMING IS ON" in line.get("msg", "")]


def test_arming_on_every_interface_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        _service_argv(tmp_path, "--host", "0.0.0.0"),
        cwd=REPO,
        env=_environment(ARMING),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""  # never ready, never bound
    assert "--host 0.0.0.0 (not a loopback address)" in result.stderr
    assert "--force-crash-arming-off-loopback" in result.stderr


@pytest.mark.parametrize("host", ["::", "192.0.2.10", "example.org"])
def test_other_reachable_hosts_are_refused_too(
    tmp_path: Path, host: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same `main()` in process (it refuses before binding anything)."""
    monkeypatch.setenv("REHEARSAL_ALLOW_CRASH_ARMING", "1")
    db_url = f"sqlite+aiosqlite:///{tmp_path / 'service.db'}"
    assert service_main.main(["--host", host, "--port", "0", "--db-url", db_url]) == 2
    assert f"--host {host} (not a loopback address)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "flags", "refused"),
    [
        ({"REHEARSAL_HOST": "0.0.0.0"}, [], True),
        ({"REHEARSAL_HOST": "0.0.0.0"}, ["--force-crash-arming-off-loopback"], False),
        (
            {"REHEARSAL_HOST": "0.0.0.0", "REHEARSAL_FORCE_CRASH_ARMING_OFF_LOOPBACK": "1"},
            [],
            False,
        ),
        ({"REHEARSAL_HOST": "::1"}, [], False),
        ({"REHEARSAL_HOST": "127.0.0.2"}, [], False),
        ({"REHEARSAL_HOST": "localhost"}, [], False),
        ({"REHEARSAL_HOST": "0.0.0.0", "REHEARSAL_ALLOW_CRASH_ARMING": "0"}, [], False),
    ],
)
def test_which_settings_are_refused(env: dict[str, str], flags: list[str], refused: bool) -> None:
    settings = service_main.load_settings(
        service_main.parse_args(flags), {"REHEARSAL_ALLOW_CRASH_ARMING": "1", **env}
    )
    assert (crash_arming_refusal(settings) is not None) is refused


def test_a_loopback_flag_overrides_a_reachable_environment_host(tmp_path: Path) -> None:
    env = _environment({**ARMING, "REHEARSAL_HOST": "0.0.0.0"})
    ready, log = _start_and_stop(_service_argv(tmp_path, "--host", "127.0.0.1"), env)
    assert ready["url"].startswith("http://127.0.0.1:")
    (warning,) = _crash_warnings(log)
    assert warning["level"] == "warning"
    assert "any client on this machine" in warning["msg"]  # no API keys configured


def test_forced_off_loopback_starts_and_says_who_can_crash_it(tmp_path: Path) -> None:
    env = _environment({**ARMING, "REHEARSAL_API_KEYS": "k1:tenant-1"})
    argv = _service_argv(tmp_path, "--host", "0.0.0.0", "--force-crash-arming-off-loopback")
    ready, log = _start_and_stop(argv, env)
    assert ready["url"].startswith("http://0.0.0.0:")
    (warning,) = _crash_warnings(log)
    assert "any client with an API key that reaches 0.0.0.0" in warning["msg"]


def test_no_warning_when_arming_is_off(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="service"):
        service_main.warn_about_crash_arming(Settings(host="0.0.0.0"))
        assert caplog.records == []
        service_main.warn_about_crash_arming(Settings(allow_crash_arming=True))
    assert ["CRASH ARMING IS ON" in r.getMessage() for r in caplog.records] == [True]
