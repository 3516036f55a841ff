"""The service's settings: one frozen dataclass, read from `REHEARSAL_*` environment variables.

Owns parsing and validation of every knob, and the `legacy` profile: `Protections` switches each
v2 protection off on its own, so the runner's negative controls can reproduce the seeds' v1
failures on purpose. Must not hold a module-level instance: `create_app` receives one.

Precedence: a field's default < `REHEARSAL_PROFILE` (for the protections) < its own environment
variable < a command-line flag (`Settings.replace`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and what to do."""


@dataclass(frozen=True)
class Protections:
    """The v2 protections, each switchable off on its own (all off = the `legacy` profile)."""

    idempotency_store: bool = True  # keys stored with the appointment; replays answered from it
    provider_key: bool = True  # the idempotency key (and event id) passed to the provider
    deadline: bool = True  # a request budget; without it one attempt may take `unbounded_timeout_s`
    breaker: bool = True  # the circuit breaker in front of the provider
    outbox: bool = True  # unconfirmed creates finished by the relay (off: left PENDING for good)
    overlap_guard: bool = True  # overlap enforced by the database (off: a racy check in code)

    @classmethod
    def legacy(cls) -> Protections:
        return cls(False, False, False, False, False, False)


PROFILES = {"v2": Protections(), "legacy": Protections.legacy()}

# The HTTP libraries the calendar client can run on (`service.runtime` maps them to classes).
CALENDAR_CLIENTS = ("aiohttp", "httpx")


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    db_url: str = "sqlite+aiosqlite:///./rehearsal.db"
    calendar_url: str = "http://127.0.0.1:8081"
    api_keys: Mapping[str, str] = field(default_factory=dict)  # API key -> tenant id
    default_tenant: str = "default"
    profile: str = "v2"
    protections: Protections = field(default_factory=Protections)
    require_idempotency_key: bool = True
    # The request budget and the calendar calls made within it.
    deadline_ms: float = 300.0
    attempt_timeout_ms: float = 250.0
    connect_timeout_ms: float = 100.0
    unbounded_timeout_s: float = 30.0
    retry_max_attempts: int = 3
    backoff_base_ms: float = 50.0
    backoff_cap_ms: float = 2000.0
    calendar_max_connections: int = 32
    # "aiohttp" or "httpx" (CALENDAR_CLIENTS): same outcomes; httpx's pool costs more CPU.
    calendar_client: str = "aiohttp"
    # Circuit breaker (seed 003: 50% over 10 calls).
    breaker_consecutive_failures: int = 5
    breaker_window: int = 10
    breaker_failure_rate: float = 0.5
    breaker_min_calls: int = 10
    breaker_cooldown_s: float = 5.0
    breaker_half_open_probes: int = 1
    # Outbox and relay (seed 003: 1-2-4-8-16 s, 5 attempts, then dead letter).
    outbox_schedule_s: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    outbox_max_attempts: int = 5
    relay_enabled: bool = True
    relay_poll_s: float = 0.5
    # Rows a pass claims and handles at once. Each handler's steps queue on the event loop ahead
    # of the requests' own: with 20 the drain after an outage held PostgreSQL requests' p95 at
    # 144-207 ms (3 of 5 outage runs failed p95 < 50), with 4 at 21-41 ms (6 of 6 passed), and a
    # pass still takes only a few ms. Raise it to drain a large backlog faster.
    relay_batch: int = 4
    relay_budget_s: float = 2.0
    relay_attempt_timeout_s: float = 1.0
    relay_lease_s: float = 10.0
    reconcile_interval_s: float = 30.0  # 0: no periodic pass (POST /v1/admin/reconcile still works)
    reconcile_grace_s: float = 5.0
    # Idempotency keys (DESIGN §3: 24 h).
    idempotency_ttl_s: float = 24 * 3600.0
    idempotency_lease_s: float = 30.0
    db_pool_size: int = 10
    seed: int | None = None
    log_level: str = "INFO"
    crash_at: str | None = None
    # POST /v1/admin/crash arms a crash point at run time (the runner's fault timeline uses it).
    # Off by default: nobody should be able to kill a service over HTTP unless it was asked for.
    allow_crash_arming: bool = False
    # Arming on a non-loopback bind lets anyone who reaches the port end the process; the entry
    # point refuses that combination unless this says it was meant (`crash_arming_refusal`).
    force_crash_arming_off_loopback: bool = False
    # A file to wait for before opening the port (None: at once); it holds the epoch second to
    # open at. The scenario runner boots a standby this way before a crash, so the downtime is
    # the crash fault's `restart_s`, not this machine's boot time (scenarios.stack).
    listen_gate: str | None = None

    def __post_init__(self) -> None:
        _check(
            0 <= self.port <= 65535,
            "REHEARSAL_PORT",
            "must be 0..65535 (0: pick a free one)",
            self.port,
        )
        _check(
            self.db_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")),
            "REHEARSAL_DB_URL",
            "must start with sqlite+aiosqlite:// or postgresql+asyncpg://",
            self.db_url,
        )
        _check(
            self.calendar_url.startswith(("http://", "https://")),
            "REHEARSAL_CALENDAR_URL",
            "must be an http(s) URL",
            self.calendar_url,
        )
        _check(self.profile in PROFILES, "REHEARSAL_PROFILE", "must be v2 or legacy", self.profile)
        for name in ("deadline_ms", "attempt_timeout_ms", "connect_timeout_ms", "relay_poll_s"):
            _check(getattr(self, name) > 0, _env_name(name), "must be > 0", getattr(self, name))
        _check(
            self.relay_lease_s > self.relay_budget_s,
            "REHEARSAL_RELAY_LEASE_S",
            f"must exceed REHEARSAL_RELAY_BUDGET_S ({self.relay_budget_s}) so a live relay "
            "never loses its claim mid-call",
            self.relay_lease_s,
        )
        _check(
            self.calendar_max_connections >= 1,
            "REHEARSAL_CALENDAR_MAX_CONNECTIONS",
            "must be >= 1",
            self.calendar_max_connections,
        )
        _check(
            self.calendar_client in CALENDAR_CLIENTS,
            "REHEARSAL_CALENDAR_CLIENT",
            f"must be one of {', '.join(CALENDAR_CLIENTS)} (aiohttp is the default and cheaper; "
            "httpx is kept for comparison)",
            self.calendar_client,
        )
        for tenant in self.api_keys.values():
            _check(bool(tenant), "REHEARSAL_API_KEYS", "needs key:tenant pairs", "")

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    def replace(self, **changes: Any) -> Settings:
        """A copy with `changes` applied (None values are ignored: an absent CLI flag)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Settings from `REHEARSAL_*` variables; SettingsError names the first bad one."""
        values: dict[str, Any] = {}
        for fld in dataclasses.fields(cls):
            if fld.name == "protections":
                continue
            raw = environ.get(_env_name(fld.name))
            if raw is None or raw == "":
                continue
            values[fld.name] = _parse(fld.name, raw)
        profile = values.get("profile", "v2")
        if profile not in PROFILES:
            raise SettingsError(f"REHEARSAL_PROFILE must be v2 or legacy (got {profile!r})")
        switches: dict[str, bool] = {}
        for name in (f.name for f in dataclasses.fields(Protections)):
            raw = environ.get(f"REHEARSAL_PROTECT_{name.upper()}")
            if raw:
                switches[name] = _parse_bool(f"REHEARSAL_PROTECT_{name.upper()}", raw)
        values["protections"] = dataclasses.replace(PROFILES[profile], **switches)
        if profile == "legacy" and "require_idempotency_key" not in values:
            values["require_idempotency_key"] = False
        return cls(**values)


def is_loopback(host: str) -> bool:
    """Does binding `host` keep the port on this machine? (0.0.0.0 and :: are every interface.)"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def crash_arming_refusal(settings: Settings) -> str | None:
    """Why these settings must not start a server, or None: crash arming on a bind address
    other hosts can reach, not explicitly forced."""
    if (
        not settings.allow_crash_arming
        or settings.force_crash_arming_off_loopback
        or is_loopback(settings.host)
    ):
        return None
    return (
        f"REHEARSAL_ALLOW_CRASH_ARMING=1 with --host {settings.host} (not a loopback address) "
        "would let anyone who reaches the port end the process with POST /v1/admin/crash; bind "
        "127.0.0.1, or turn arming off, or, on a network you trust, say so with "
        "--force-crash-arming-off-loopback (REHEARSAL_FORCE_CRASH_ARMING_OFF_LOOPBACK=1)"
    )


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """`REHEARSAL_*` variables no setting reads (a typo would otherwise be silently ignored).
    Variables of other Rehearsal tools (`REHEARSAL_LOAD`, ...) show up here too, so callers
    warn rather than refuse."""
    known = {_env_name(f.name) for f in dataclasses.fields(Settings) if f.name != "protections"}
    known |= {f"REHEARSAL_PROTECT_{f.name.upper()}" for f in dataclasses.fields(Protections)}
    return sorted(name for name in environ if name.startswith("REHEARSAL_") and name not in known)


def _env_name(field_name: str) -> str:
    return f"REHEARSAL_{field_name.upper()}"


def _check(ok: bool, variable: str, rule: str, got: object) -> None:
    if not ok:
        raise SettingsError(f"{variable} {rule} (got {got!r})")


def _parse_bool(variable: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{variable} must be 1/0, true/false, yes/no or on/off (got {raw!r})")


def _parse_api_keys(raw: str) -> dict[str, str]:
    keys: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, sep, tenant = pair.partition(":")
        if not sep or not key or not tenant:
            raise SettingsError(
                f"REHEARSAL_API_KEYS must be comma-separated key:tenant pairs (got {pair!r})"
            )
        keys[key] = tenant
    return keys


def _parse_schedule(raw: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise SettingsError(
            f"REHEARSAL_OUTBOX_SCHEDULE_S must be comma-separated seconds, e.g. 1,2,4 (got {raw!r})"
        ) from None


_TYPES: dict[str, Callable[[str], Any]] = {
    "api_keys": _parse_api_keys,
    "outbox_schedule_s": _parse_schedule,
}


def _parse(name: str, raw: str) -> Any:
    variable = _env_name(name)
    if name in _TYPES:
        return _TYPES[name](raw)
    default = next(f for f in dataclasses.fields(Settings) if f.name == name).default
    try:
        if isinstance(default, bool):
            return _parse_bool(variable, raw)
        if isinstance(default, int) or name == "seed":
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        kind = "an integer" if isinstance(default, int) or name == "seed" else "a number"
        raise SettingsError(f"{variable} must be {kind} (got {raw!r})") from None
    return raw
