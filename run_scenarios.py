#!/usr/bin/env python3
"""The main job: run the scenario catalog against the stack and write results_post.json.

This file only bootstraps: on a fresh machine it creates `.venv` from pyproject.toml (the same
set-up as run_tests.sh), re-executes itself inside it, then hands over to `cli.main`.
Exit codes (DESIGN §7): 0 all passed, 1 an assertion or invariant failed, 2 the harness could not run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV_PY = ROOT / ".venv" / "bin" / "python"


def _ensure_venv() -> None:
    """Re-exec inside .venv, creating or refreshing it from pyproject.toml first."""
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        return
    setup = subprocess.run(
        ["bash", "-c", "set -euo pipefail; source scripts/ensure_venv.sh"], cwd=ROOT
    )
    if setup.returncode != 0:
        print("run_scenarios.py: could not set up .venv from pyproject.toml", file=sys.stderr)
        sys.exit(2)
    os.execv(str(VENV_PY), [str(VENV_PY), str(Path(__file__).resolve()), *sys.argv[1:]])


def main() -> int:
    _ensure_venv()
    sys.path.insert(0, str(ROOT))
    try:
        from cli.main import main as cli_main
    except ImportError as exc:
        if getattr(exc, "name", "") != "cli.main":
            raise
        print(
            "run_scenarios.py: the scenario runner is not built yet (issue: run_scenarios.py); "
            "nothing was run.",
            file=sys.stderr,
        )
        return 2
    return int(cli_main(sys.argv[1:]))


if __name__ == "__main__":
    sys.exit(main())
