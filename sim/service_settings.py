"""A scenario's `settings:` as the service reads them: the names it may use, and their values.

Owns the one place outside the service that knows its setting names (`KNOWN_SETTINGS`: the
fields of `service.settings.Settings` and a `protect_<name>` switch per protection), reading a
scenario's settings into the service's `Settings` exactly as the service reads its environment
on start (`service_settings`: the contract's `REHEARSAL_*` encoding through the service's own
parser, so one file configures both modes alike), and naming those it does not know
(`unknown_settings`; the sweep refuses a `settings.*` axis of one). Pure: no I/O, no clock, no
randomness.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from contract.scenario_settings import settings_env
from service.settings import Protections, Settings

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
