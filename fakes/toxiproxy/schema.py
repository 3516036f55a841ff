"""The JSON shapes of Toxiproxy's HTTP API: request bodies in, validated specs out, and back.

Owns what a proxy and a toxic look like on the wire (field names, defaults, units), the toxic
catalogue (each type and its integer attributes) and upstream's error catalogue
(`{"error": "...", "status": N}`: 400 bad input, 404 missing, 409 exists). It must not touch
sockets or the event loop: the registry and the API apply what is parsed here.

Pure: bodies arrive already decoded from JSON; nothing here does I/O or reads a clock.

Where upstream is lax this is stricter, on purpose, with a message that says what to fix:
unknown attribute names, negative or fractional attribute values, a toxicity outside 0..1 and a
slicer with `average_size < 1` or `size_variation > average_size` (upstream slices forever or
panics on those) are 400s instead of being accepted.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

__all__ = [
    "DEFAULT_LISTEN",
    "TOXIC_ATTRIBUTES",
    "ApiError",
    "ProxySpec",
    "Stream",
    "ToxicSpec",
    "ToxicType",
    "format_address",
    "parse_address",
    "parse_populate",
    "parse_proxy_create",
    "parse_proxy_update",
    "parse_toxic_create",
    "parse_toxic_update",
    "proxy_to_json",
    "toxic_to_json",
]

# Upstream would bind every interface when `listen` is empty; a test harness should not.
DEFAULT_LISTEN = "127.0.0.1:0"


class ApiError(Exception):
    """An API failure with upstream's message and HTTP status; renders as its JSON body."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}

    @classmethod
    def bad_request_body(cls, detail: str) -> ApiError:
        return cls(f"bad request body: {detail}", 400)

    @classmethod
    def missing_field(cls, what: str) -> ApiError:
        return cls(f"missing required field: {what}", 400)

    @classmethod
    def proxy_not_found(cls) -> ApiError:
        return cls("proxy not found", 404)

    @classmethod
    def proxy_already_exists(cls) -> ApiError:
        return cls("proxy already exists", 409)

    @classmethod
    def invalid_stream(cls) -> ApiError:
        return cls("stream was invalid, can be either upstream or downstream", 400)

    @classmethod
    def invalid_toxic_type(cls) -> ApiError:
        return cls("invalid toxic type", 400)

    @classmethod
    def toxic_already_exists(cls) -> ApiError:
        return cls("toxic already exists", 409)

    @classmethod
    def toxic_not_found(cls) -> ApiError:
        return cls("toxic not found", 404)


class Stream(StrEnum):
    """Which direction a toxic acts on: `upstream` is client -> server, `downstream` the reverse."""

    UPSTREAM = "upstream"
    DOWNSTREAM = "downstream"


class ToxicType(StrEnum):
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    SLOW_CLOSE = "slow_close"
    TIMEOUT = "timeout"
    RESET_PEER = "reset_peer"
    SLICER = "slicer"
    LIMIT_DATA = "limit_data"
    NOOP = "noop"


# Attribute names per type, with upstream's units; every attribute is an integer >= 0, default 0.
TOXIC_ATTRIBUTES: Mapping[ToxicType, tuple[str, ...]] = {
    ToxicType.LATENCY: ("latency", "jitter"),  # ms, ms
    ToxicType.BANDWIDTH: ("rate",),  # KB/s (1 KB = 1000 bytes, as upstream computes it)
    ToxicType.SLOW_CLOSE: ("delay",),  # ms
    ToxicType.TIMEOUT: ("timeout",),  # ms; 0 = never close
    ToxicType.RESET_PEER: ("timeout",),  # ms
    ToxicType.SLICER: ("average_size", "size_variation", "delay"),  # bytes, bytes, µs
    ToxicType.LIMIT_DATA: ("bytes",),  # bytes
    ToxicType.NOOP: (),  # passes data through unchanged
}


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as the API knows it. `attributes` holds every attribute of its type.

    `stream_as_sent` is the `stream` text of the request (`"UpStream"`): upstream matches the
    direction case-insensitively but keeps and renders the text, so it is echoed back as sent.
    Empty means `stream.value`.
    """

    name: str
    type: ToxicType
    stream: Stream
    toxicity: float
    attributes: Mapping[str, int] = field(default_factory=dict)
    stream_as_sent: str = ""

    def __post_init__(self) -> None:
        if not self.stream_as_sent:
            object.__setattr__(self, "stream_as_sent", self.stream.value)


@dataclass(frozen=True)
class ProxySpec:
    """One proxy's configuration as the API knows it (the listener's state lives elsewhere)."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


def toxic_to_json(spec: ToxicSpec) -> dict[str, Any]:
    """The toxic as upstream renders it."""
    return {
        "attributes": dict(spec.attributes),
        "name": spec.name,
        "type": spec.type.value,
        "stream": spec.stream_as_sent,
        "toxicity": spec.toxicity,
    }


def proxy_to_json(spec: ProxySpec, toxics: list[ToxicSpec]) -> dict[str, Any]:
    """The proxy as upstream renders it, with its toxics (upstream stream first)."""
    return {
        "name": spec.name,
        "listen": spec.listen,
        "upstream": spec.upstream,
        "enabled": spec.enabled,
        "toxics": [toxic_to_json(toxic) for toxic in toxics],
    }


def parse_toxic_create(body: object) -> ToxicSpec:
    """Validate a `POST /proxies/{proxy}/toxics` body; fill upstream's defaults.

    Defaults: stream `downstream`, toxicity 1.0, name `<type>_<stream>`, attributes 0.
    `stream` is matched ignoring case, as upstream (`"UpStream"` is upstream), and the default
    name uses the text as sent (`latency_UpStream`), as upstream's `Sprintf("%s_%s", ...)` does.
    Raises `ApiError` (400) naming the field to fix.

    >>> parse_toxic_create({"type": "latency", "stream": "UpStream"}).name
    'latency_UpStream'
    """
    obj = _object(body)
    stream_text = _string(obj, "stream", default="downstream")
    try:
        stream = Stream(stream_text.lower())
    except ValueError:
        raise ApiError.invalid_stream() from None
    type_text = _string(obj, "type", default="")
    name = _string(obj, "name", default="") or f"{type_text}_{stream_text}"
    try:
        toxic_type = ToxicType(type_text)
    except ValueError:
        raise ApiError.invalid_toxic_type() from None
    toxicity = _toxicity(obj.get("toxicity", 1.0))
    attributes = _attributes(toxic_type, obj.get("attributes", {}), base=None)
    return ToxicSpec(name, toxic_type, stream, toxicity, attributes, stream_as_sent=stream_text)


def parse_toxic_update(current: ToxicSpec, body: object) -> ToxicSpec:
    """Apply a `POST`/`PATCH /proxies/{proxy}/toxics/{toxic}` body to a toxic.

    Only `attributes` (merged over the current ones) and `toxicity` change, as upstream.
    """
    obj = _object(body)
    toxicity = _toxicity(obj.get("toxicity", current.toxicity))
    attributes = _attributes(current.type, obj.get("attributes", {}), base=current.attributes)
    return replace(current, toxicity=toxicity, attributes=attributes)


def parse_proxy_create(body: object) -> ProxySpec:
    """Validate a `POST /proxies` body: `name` and `upstream` required, `enabled` default true."""
    return _proxy_fields(_object(body), where="")


def parse_proxy_update(current: ProxySpec, body: object) -> ProxySpec:
    """Apply a `POST`/`PATCH /proxies/{proxy}` body; absent fields keep their value.

    The name cannot change (upstream ignores it); delete and recreate instead.
    """
    obj = _object(body)
    listen = _string(obj, "listen", default=current.listen)
    upstream = _string(obj, "upstream", default=current.upstream)
    enabled = _boolean(obj, "enabled", default=current.enabled)
    parse_address(listen, field_name="listen")
    parse_address(upstream, field_name="upstream")
    return replace(current, listen=listen, upstream=upstream, enabled=enabled)


def parse_populate(body: object) -> list[ProxySpec]:
    """Validate a `POST /populate` body: a list of proxies, all checked before any is applied."""
    if not isinstance(body, list):
        raise ApiError.bad_request_body("expected a JSON array of proxies")
    specs: list[ProxySpec] = []
    seen: set[str] = set()
    for index, item in enumerate(body, start=1):
        spec = _proxy_fields(_object(item), where=f" at proxy {index}")
        if spec.name in seen:
            raise ApiError.bad_request_body(f"duplicate proxy name {spec.name!r}")
        seen.add(spec.name)
        specs.append(spec)
    return specs


def parse_address(text: str, *, field_name: str) -> tuple[str, int]:
    """Split `host:port` (`[v6]:port`, `:port` for every interface) into host and port.

    >>> parse_address("127.0.0.1:8474", field_name="listen")
    ('127.0.0.1', 8474)
    >>> parse_address("[::1]:0", field_name="listen")
    ('::1', 0)
    """
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise ApiError.bad_request_body(
            f"{field_name} address {text!r} must look like host:port, e.g. 127.0.0.1:8080"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def format_address(host: str, port: int) -> str:
    """`host:port` the way Go prints a listener address (IPv6 in brackets)."""
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = False
    return f"[{host}]:{port}" if is_v6 else f"{host}:{port}"


def _proxy_fields(obj: dict[str, Any], *, where: str) -> ProxySpec:
    name = _string(obj, "name", default="")
    if not name:
        raise ApiError.missing_field(f"name{where}")
    upstream = _string(obj, "upstream", default="")
    if not upstream:
        raise ApiError.missing_field(f"upstream{where}")
    listen = _string(obj, "listen", default="") or DEFAULT_LISTEN
    enabled = _boolean(obj, "enabled", default=True)
    parse_address(listen, field_name="listen")
    parse_address(upstream, field_name="upstream")
    return ProxySpec(name=name, listen=listen, upstream=upstream, enabled=enabled)


def _object(body: object) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError.bad_request_body("expected a JSON object")
    return body


def _string(obj: Mapping[str, Any], key: str, *, default: str) -> str:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ApiError.bad_request_body(f"field {key!r} must be a string (got {value!r})")
    return value


def _boolean(obj: Mapping[str, Any], key: str, *, default: bool) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ApiError.bad_request_body(f"field {key!r} must be true or false (got {value!r})")
    return value


def _toxicity(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError.bad_request_body(f"toxicity must be a number from 0 to 1 (got {value!r})")
    if not 0.0 <= float(value) <= 1.0:
        raise ApiError.bad_request_body(f"toxicity must be from 0 to 1 (got {value!r})")
    return float(value)


def _attributes(
    toxic_type: ToxicType, raw: object, *, base: Mapping[str, int] | None
) -> dict[str, int]:
    names = TOXIC_ATTRIBUTES[toxic_type]
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ApiError.bad_request_body(f"attributes must be a JSON object (got {raw!r})")
    values = {name: 0 for name in names} if base is None else dict(base)
    for key, value in raw.items():
        if key not in names:
            raise ApiError.bad_request_body(
                f"unknown attribute {key!r} for toxic type {toxic_type.value} "
                f"(known: {', '.join(names)})"
            )
        values[key] = _attribute_value(key, value)
    if toxic_type is ToxicType.SLICER:
        average, variation = values["average_size"], values["size_variation"]
        # Upstream accepts variation == average (it slices fine); below 1 it never stops
        # slicing and above average it cuts backwards (a Go slice panic).
        if average < 1 or variation > average:
            raise ApiError.bad_request_body(
                "slicer needs average_size >= 1 and size_variation <= average_size "
                f"(got average_size={average}, size_variation={variation})"
            )
    return values


def _attribute_value(key: str, value: object) -> int:
    whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not isinstance(value, int | float) or not whole:
        raise ApiError.bad_request_body(f"attribute {key!r} must be a whole number (got {value!r})")
    if value < 0:
        raise ApiError.bad_request_body(f"attribute {key!r} must be >= 0 (got {value!r})")
    return int(value)
