"""DESIGN §2's package table holds: import-linter's contracts in pyproject.toml are kept.

`lint-imports` reads the contracts from pyproject.toml and the imports from the source; a broken
contract (an import the table forbids) fails this test, and with it ./run_tests.sh. A copy of
the project with one forbidden import added shows that the check can fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("service", "fakes", "contract", "sim", "capacity", "scenarios", "reports", "cli")


def _lint(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}  # the packages of `cwd`, not of the install
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-logo", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_contract_of_the_package_table_is_kept() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Contracts: (\d+) kept, 0 broken", done.stdout), done.stdout


def test_an_import_the_table_forbids_breaks_the_check(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # The run contract reaching into the twin: both modes would then depend on one of them.
    workload = tmp_path / "contract" / "workload.py"
    workload.write_text(workload.read_text() + "\nimport sim.twin  # noqa: E402, F401\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "contract/ is shared by both modes: it imports fakes' models only BROKEN" in " ".join(
        done.stdout.split()
    )
    assert "contract.workload -> sim.twin" in done.stdout


def test_the_pure_core_is_kept_from_every_dependency_the_project_declares() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contract = next(
        c for c in project["tool"]["importlinter"]["contracts"] if c["id"] == "resilience"
    )
    forbidden = set(contract["forbidden_modules"])
    declared = {
        re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in project["project"]["dependencies"]
    }
    modules_of: dict[str, set[str]] = {}
    for module, distributions in packages_distributions().items():
        for distribution in distributions:
            modules_of.setdefault(distribution.lower().replace("_", "-"), set()).add(module)
    missing = {
        f"{dist}: {sorted(modules_of.get(dist, {'?'}) - forbidden)}"
        for dist in declared
        if not modules_of.get(dist) or not modules_of[dist] & forbidden
    }
    assert not missing, f"add these import names to the 'resilience' contract: {missing}"
