"""A scenario's `settings:` as the service is handed them: `REHEARSAL_*` environment variables.

Owns the one encoding both modes use: real mode puts these variables in the service's
environment (`scenarios.stack`), the twin hands the same text to the service's own parser
(`sim.service_settings`), so one scenario file configures both with the same names, values and
defaults. Which names exist and what they mean is the service's (`service.settings`); the contract
does not import the service, so checking a scenario's settings against it is injected by a layer
that may (`contract.spec.loader.SettingsCheck`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The prefix of every variable the service reads its settings from.
SETTING_PREFIX = "REHEARSAL_"


def setting_variable(name: str) -> str:
    """The environment variable a setting travels in: `deadline_ms` → `REHEARSAL_DEADLINE_MS`."""
    return f"{SETTING_PREFIX}{name.upper()}"


def setting_text(value: Any) -> str:
    """A setting's value as variable text: booleans 1/0, lists comma-joined, a mapping as
    comma-joined `key:value` pairs, the rest `str`."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    return str(value)


def settings_env(settings: Mapping[str, Any]) -> dict[str, str]:
    """A scenario's `settings:` as the service's `REHEARSAL_*` variables.

    >>> settings_env({"protect_outbox": False, "outbox_schedule_s": [0.5, 1]})
    {'REHEARSAL_PROTECT_OUTBOX': '0', 'REHEARSAL_OUTBOX_SCHEDULE_S': '0.5,1'}
    """
    return {setting_variable(name): setting_text(value) for name, value in settings.items()}
