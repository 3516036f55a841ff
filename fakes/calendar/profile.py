"""The fault profile: what faults the fake injects, at what rates, and how it answers.

Pure data and validation (pydantic), no I/O. `parse_profile` turns a JSON object into a
`FaultProfile` or raises `ProfileError` with a message that names every offending field; the
control API answers that message as a 422 and keeps the previous profile.

The four fault rates share one draw per request (see `fault_rules`), so they are exclusive and
must add up to at most 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from fakes.calendar.latency import (
    ConstantLatency,
    LatencySpec,
    LognormalLatency,
    QueueLatency,
    UniformLatency,
)

Rate = Annotated[float, Field(ge=0, le=1, strict=True)]
RATE_FIELDS = ("error_rate", "permanent_error_rate", "hang_rate", "commit_then_fail_rate")
LATENCY_MODELS: dict[str, type[BaseModel]] = {
    "constant": ConstantLatency,
    "uniform": UniformLatency,
    "lognormal": LognormalLatency,
    "queue": QueueLatency,
}


class FaultProfile(BaseModel):
    """Every field is optional; an omitted field takes its default (`seed`: the fake's --seed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: Annotated[int, Field(strict=True)] = 1
    latency_ms: LatencySpec = ConstantLatency()
    error_rate: Rate = 0.0
    error_status: Annotated[int, Field(strict=True)] = 503
    retry_after_s: Annotated[float, Field(ge=0, le=3600, strict=True)] | None = None
    permanent_error_rate: Rate = 0.0
    permanent_error_status: Annotated[int, Field(ge=400, le=499, strict=True)] = 400
    hang_rate: Rate = 0.0
    hang_s: Annotated[float, Field(gt=0, le=600, strict=True)] = 30.0
    commit_then_fail_rate: Rate = 0.0
    commit_then_fail_mode: Literal["error", "drop"] = "error"
    outage: Annotated[bool, Field(strict=True)] = False
    honour_idempotency: Annotated[bool, Field(strict=True)] = True

    @field_validator("error_status")
    @classmethod
    def _check_transient_status(cls, status: int) -> int:
        if not (status == 429 or 500 <= status <= 599):
            raise ValueError(
                f"must be 429 or a 5xx status (got {status}); use permanent_error_status for 4xx"
            )
        return status

    @model_validator(mode="after")
    def _check_rates(self) -> FaultProfile:
        total = sum(getattr(self, name) for name in RATE_FIELDS)
        if total > 1.0 + 1e-9:
            raise PydanticCustomError(
                "rates_exceed_one",
                "{names} must add up to <= 1 (got {total}): a request meets at most one of them",
                {"names": " + ".join(RATE_FIELDS), "total": round(total, 6)},
            )
        return self


class ProfileError(ValueError):
    """A profile was rejected; `fields` names the offending fields, `str()` says what to fix."""

    def __init__(self, message: str, fields: list[str]) -> None:
        super().__init__(message)
        self.fields = fields


def parse_profile(payload: object, *, default_seed: int) -> FaultProfile:
    """Validate a JSON-decoded profile; an omitted `seed` becomes `default_seed`.

    Raises `ProfileError` naming each unknown field and each bad value.

    >>> parse_profile({"error_rate": 0.2}, default_seed=7).seed
    7
    """
    if not isinstance(payload, Mapping):
        raise ProfileError(
            f"fault profile must be a JSON object (got {type(payload).__name__})", fields=[]
        )
    try:
        profile = FaultProfile.model_validate(payload)
    except ValidationError as exc:
        problems = [_describe(error) for error in exc.errors()]
        fields = [name for names, _ in problems for name in names]
        message = "fault profile rejected: " + "; ".join(text for _, text in problems)
        raise ProfileError(message, fields) from None
    if "seed" not in payload:
        profile = profile.model_copy(update={"seed": default_seed})
    return profile


def _describe(error: Mapping[str, Any]) -> tuple[list[str], str]:
    """(the dotted names of the fields at fault, a readable message) for one pydantic error."""
    # Union tags ("uniform", ...) appear in pydantic's locations; a user never wrote them.
    field = ".".join(str(part) for part in error["loc"] if part not in LATENCY_MODELS)
    kind = error["type"]
    if kind == "rates_exceed_one":
        return list(RATE_FIELDS), str(error["msg"])
    if kind == "extra_forbidden":
        tags = [part for part in error["loc"] if part in LATENCY_MODELS]
        model = LATENCY_MODELS[tags[-1]] if tags else FaultProfile
        return [field], f"unknown field '{field}' (known here: {', '.join(model.model_fields)})"
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        got = error["input"].get("dist") if isinstance(error["input"], Mapping) else None
        return [field], f"{field}.dist must be one of {', '.join(LATENCY_MODELS)} (got {got!r})"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "value_error":
        return [field], f"{field}: {message}"
    return [field], f"{field}: {message} (got {error['input']!r})"
