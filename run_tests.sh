#!/usr/bin/env bash
# The tests. Sets up .venv from pyproject.toml when missing (reuses it when present), then pytest.
# Usage: ./run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")"
source scripts/ensure_venv.sh
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "run_tests.sh: pytest collected no tests — failing on purpose (a suite that runs nothing proves nothing)" >&2
  exit 1
fi
exit "$rc"
