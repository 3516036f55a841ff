"""A run's own facts: its id, the host it ran on, the git revision — the stamps of `run` in
results_post.json that differ between two runs of one seed (DESIGN §7-8).

Owns how they are made, so the catalog run, sweeps and calibrations name and stamp their runs
alike. Not pure on purpose: the wall clock (`new_run_id`), the host name and `git` are read here
and nowhere else in the contract; nothing a run is judged by comes from them.
"""

from __future__ import annotations

import os
import platform
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def new_run_id() -> str:
    """A fresh run id, sortable by start time: `20300107T080000Z-1a2b3c`."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def timestamp() -> str:
    """Now, as results_post.json's `run.started_at` has it (ISO 8601, UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def host_name() -> str:
    """This machine's name."""
    return platform.node() or os.uname().nodename


def git_revision() -> str | None:
    """The project's short git revision, or None outside a git checkout (or without git)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
