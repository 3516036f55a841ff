# Sourced by run_tests.sh; run_scenarios.py does the same in Python.
# Creates .venv from pyproject.toml when missing or when pyproject.toml changed since the last install.
py=${PYTHON:-python3}
stamp=.venv/.rehearsal-installed
want=$("$py" -c 'import hashlib,sys;print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest())')
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setting up .venv from pyproject.toml (first run takes a minute)..." >&2
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip >&2
  .venv/bin/python -m pip install --quiet -e '.[test]' >&2
  echo "$want" > "$stamp"
fi
