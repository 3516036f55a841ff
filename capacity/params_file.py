"""Saved twin parameters: a `TwinParams` fitted on one machine, as a JSON file.

Owns the file format, its default place (`twin_params/<host>.json` in the project) and choosing
which parameters a planning command runs with. The format:

    {"host": "ci-runner-3", "fitted_at": "2030-01-01T00:00:00+00:00",
     "source": "runs/<run-id>", "params": {"cpu_create_ms": 9.1, ...}, "fit": {...}}

`params` may name any subset of `TwinParams`' fields (the rest keep their defaults); an unknown
field or a bad value is an error naming the file. `host`, `fitted_at`, `source` and `fit` are for
people. Sweeps and calibration load the host's file when it exists and say so; the catalog's sim
mode does not, so its results stay identical on every machine (DESIGN §8).
I/O: the file only; the host name and clock arrive as arguments.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.event_log import write_atomic
from sim.config import TwinParams

ROOT = Path(__file__).resolve().parents[1]
PARAMS_DIR = ROOT / "twin_params"
#: `--twin-params` values that mean "the built-in defaults, whatever is saved".
DEFAULTS_WORDS = ("none", "default", "defaults")


class ParamsFileError(ValueError):
    """A twin parameters file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class ChosenParams:
    """The parameters a command runs with, and where they came from (None: the defaults)."""

    params: TwinParams
    path: Path | None

    @property
    def source(self) -> str:
        """Where the parameters came from, as printed."""
        if self.path is None:
            return "the built-in defaults (sim/config.py TwinParams)"
        return _shown(self.path)

    def describe(self) -> str:
        return f"twin params: {self.source}"


def host_params_path(host: str, directory: Path = PARAMS_DIR) -> Path:
    """Where a host's fitted parameters live: `<directory>/<host>.json` (host name made safe)."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", host).strip("._") or "host"
    return directory / f"{safe}.json"


def params_document(
    params: TwinParams, *, host: str, fitted_at: str, source: str, fit: Mapping[str, Any]
) -> dict[str, Any]:
    """The JSON document saved for `params` (every field written, defaults included)."""
    return {
        "host": host,
        "fitted_at": fitted_at,
        "source": source,
        "params": dataclasses.asdict(params),
        "fit": dict(fit),
    }


def save_params(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(document, indent=1) + "\n").encode())


def load_params(path: Path) -> TwinParams:
    """The `TwinParams` a file holds, or ParamsFileError saying what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ParamsFileError(f"{path}: no such twin parameters file") from exc
    except (OSError, ValueError) as exc:
        raise ParamsFileError(f"{path}: not valid JSON ({exc})") from exc
    values = data.get("params") if isinstance(data, dict) else None
    if not isinstance(values, dict):
        raise ParamsFileError(f'{path}: must be an object with a "params" object')
    known = {f.name: f for f in dataclasses.fields(TwinParams)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ParamsFileError(
            f"{path}: unknown twin parameter(s) {', '.join(unknown)} (known: {', '.join(known)})"
        )
    for name, value in values.items():
        if known[name].type in ("int", "bool") and isinstance(value, float):
            raise ParamsFileError(f"{path}: params.{name} must be a whole number (got {value})")
    try:
        return TwinParams(**values)
    except (TypeError, ValueError) as exc:
        raise ParamsFileError(f"{path}: {exc}") from exc


def choose_params(given: str | None, host: str, directory: Path = PARAMS_DIR) -> ChosenParams:
    """The parameters for a planning command.

    `given` is `--twin-params`: a file (must exist), a word of `DEFAULTS_WORDS`, or None for the
    host's saved file when there is one, else the defaults.
    """
    if given is not None and given.lower() in DEFAULTS_WORDS:
        return ChosenParams(TwinParams(), None)
    path = Path(given) if given is not None else host_params_path(host, directory)
    if given is None and not path.exists():
        return ChosenParams(TwinParams(), None)
    return ChosenParams(load_params(path), path)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
