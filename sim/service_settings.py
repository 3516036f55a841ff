"""A scenario's `settings:` as the service reads them: the names it may use, and their values.

Owns the one place outside the service that knows its setting names (`KNOWN_SETTINGS`: the
fields of `service.settings.Settings` and a `protect_<name>` switch per protection), reading a
scenario's settings into the service's `Settings` exactly as the service reads its environment
on start (`service_settings`: the contract's `REHEARSAL_*` encoding through the service's own
parser, so one file configures both modes alike), and checking them (`settings_problems`): the
command line hands that check to the scenario loader (`contract.spec.loader`, which may not
import the service) for both modes, so an unknown or mistyped setting, a value of the wrong type
or one the service refuses stops the run with exit 2 naming file, line and setting; the sweep
checks its `settings.*` axes with it too. Pure: no I/O, no clock, no randomness.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from contract.scenario_settings import SETTING_PREFIX, settings_env
from contract.spec import SettingProblem
from service.settings import Protections, Settings, SettingsError

#: Names a scenario's `settings:` may use: the service's fields, its profile and its switches.
KNOWN_SETTINGS = frozenset(
    {f.name for f in dataclasses.fields(Settings) if f.name != "protections"}
    | {f"protect_{f.name}" for f in dataclasses.fields(Protections)}
)


def service_settings(raw: Mapping[str, Any]) -> Settings:
    """The service's `Settings` for a scenario's `settings:` mapping, parsed as real mode does.

    Raises `service.settings.SettingsError` naming the variable when a value is unusable.
    """
    return Settings.from_env(settings_env(raw))


def unknown_settings(raw: Mapping[str, Any]) -> list[str]:
    """Setting names the service does not know (it ignores them, in both modes)."""
    return sorted(name for name in raw if name not in KNOWN_SETTINGS)


#: Settings the runner sets itself, per run and per process; a scenario that set them would be
#: overridden (or would break the run), so it may not. Each says where its value comes from.
RUNNER_SETTINGS = {
    "seed": "the run's seed is the scenario's `seed:` (or --seed); each service start gets its "
    "own from it (contract/seeds.py)",
    "host": "the runner binds the service on loopback",
    "port": "the runner picks a free port",
    "db_url": "the runner gives each scenario its database (--db-url for PostgreSQL)",
    "calendar_url": "the runner points the service at the provider through the proxy",
    "crash_at": "arm a crash point with a `target: service` fault in `faults:`",
}

_HINTS = typing.get_type_hints(Settings)


def settings_problems(raw: Mapping[str, Any]) -> list[SettingProblem]:
    """What is wrong with a scenario's `settings:` for the service, one problem per setting
    (none: the service takes them as they are). The loader puts file and line to each.

    >>> [p.message for p in settings_problems({"relay_pol_s": 1})]
    ["is not a setting of the service (did you mean 'relay_poll_s'?); the names are the fields of service.settings.Settings and a protect_<name> switch per protection"]
    """
    problems = []
    for name, value in raw.items():
        problem = _name_problem(str(name)) or _type_problem(str(name), value)
        if problem:
            problems.append(SettingProblem(str(name), problem))
    if problems:
        return problems
    try:
        service_settings(raw)
    except SettingsError as exc:  # a value the service refuses: its message names the variable
        name, message = _blamed(str(exc), raw)
        return [SettingProblem(name, message)]
    return []


def _name_problem(name: str) -> str | None:
    if name in RUNNER_SETTINGS:
        return f"is set by the runner, not by a scenario: {RUNNER_SETTINGS[name]}"
    if name in KNOWN_SETTINGS:
        return None
    close = difflib.get_close_matches(name, sorted(KNOWN_SETTINGS - RUNNER_SETTINGS.keys()), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (
        f"is not a setting of the service{hint}; the names are the fields of "
        "service.settings.Settings and a protect_<name> switch per protection"
    )


def _type_problem(name: str, value: Any) -> str | None:
    hint = bool if name.startswith("protect_") else _HINTS[name]
    expected, ok = _expected(hint, value)
    return None if ok else f"must be {expected} (got {_shown(value)})"


def _expected(hint: Any, value: Any) -> tuple[str, bool]:
    """What a setting of type `hint` looks like in YAML, and whether `value` is one."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        kinds = [h for h in typing.get_args(hint) if h is not type(None)]
        return _expected(kinds[0], value)
    if hint is bool:
        return "true or false", isinstance(value, bool)
    if hint is int:
        return "a whole number", isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return "a number", isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return "a string", isinstance(value, str)
    if typing.get_origin(hint) is tuple:
        ok = isinstance(value, list) and all(_expected(float, v)[1] for v in value)
        return "a list of numbers, e.g. [1, 2, 4]", ok
    if typing.get_origin(hint) is Mapping:
        ok = isinstance(value, str | Mapping)
        return "key:tenant pairs (a mapping, or text such as 'k1:t1,k2:t2')", ok
    raise TypeError(f"no YAML type known for a setting of type {hint!r}")  # pragma: no cover


def _blamed(message: str, raw: Mapping[str, Any]) -> tuple[str, str]:
    """The setting a `SettingsError` names (`REHEARSAL_DEADLINE_MS must be > 0 ...`) and the
    message without the variable."""
    found = re.match(rf"{SETTING_PREFIX}(\w+) (.*)", message, flags=re.S)
    if found is None:
        return next(iter(raw), "settings"), message
    name, rest = found.group(1).lower(), found.group(2)
    # The service speaks of variables; a scenario author reads setting names.
    rest = re.sub(rf"{SETTING_PREFIX}(\w+)", lambda m: m.group(1).lower(), rest)
    return name, rest


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return f"a list {value!r}" if len(repr(value)) < 40 else "a list"
    return repr(value)
