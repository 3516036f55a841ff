"""The base of every scenario-file model: unknown fields refused, values strictly typed.

Owns the two conventions the loader relies on to point at the right YAML line: a field nobody
declared is reported at that field's own path, and a cross-field rule reports the path of the field
it blames (`rule_error(..., at=("until_s",))`). Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

#: The error type the loader recognises as "a rule of ours"; its ctx carries `message` and `at`.
RULE_ERROR = "scenario_rule"

NonNegativeFloat = Annotated[float, Field(ge=0)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
Ratio = Annotated[float, Field(ge=0, le=1)]
#: A scenario or phase name: lowercase letters, digits, '_' and '-'.
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]


def rule_error(message: str, at: tuple[str | int, ...] = ()) -> PydanticCustomError:
    """An error for a rule pydantic cannot express, blamed on the field path `at` (relative).

    message is read after the field path, e.g. "must be > at_s (5) (got 3)".
    """
    return PydanticCustomError(RULE_ERROR, "{message}", {"message": message, "at": at})


def number_text(value: float) -> str:
    """A number as a scenario author wrote it: 5 rather than 5.0."""
    return str(int(value)) if float(value).is_integer() else repr(value)


class SpecModel(BaseModel):
    """A frozen, strict model that names an unknown field and suggests the one meant."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and cls.model_config.get("extra") == "forbid":
            known = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    close = difflib.get_close_matches(str(key), known, n=1)
                    hint = f"did you mean '{close[0]}'? " if close else ""
                    raise rule_error(
                        f"is not a known field ({hint}known: {', '.join(known)})", at=(str(key),)
                    )
        return data
