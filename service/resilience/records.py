"""Fast constructors for the frozen dataclasses built on every request: `record_maker(cls)`.

A frozen dataclass's generated `__init__` sets each field through `object.__setattr__`, one C
call per field; the records the flows build per request (plan steps and results, key records,
event specs, outcomes) made that a visible share of both the service's CPU and the twin's. A
maker fills the instance's `__dict__` directly and returns exactly the object `cls(*values)`
would (equal, same type, still frozen afterwards), for a class it can build that way; it refuses
any other. Pure: stdlib only.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def record_maker(cls: type[T]) -> Callable[..., T]:
    """A function `make(*values)` equal to `cls(*values)` for a plain dataclass `cls`, given
    every field, in declaration order, positionally. Refuses a class it cannot build exactly:
    one with `__slots__`, a `__post_init__`, a field kept out of `__init__` or an `InitVar`.

    >>> from service.resilience.deadline import Deadline
    >>> record_maker(Deadline)(10.0, 0.3) == Deadline(10.0, 0.3)
    True
    """
    if not dataclasses.is_dataclass(cls) or "__slots__" in cls.__dict__:
        raise TypeError(f"{cls.__name__}: only a dataclass without __slots__ can be made directly")
    names = [f.name for f in dataclasses.fields(cls)]
    parameters = list(inspect.signature(cls.__init__).parameters)[1:]
    if hasattr(cls, "__post_init__") or parameters != names:
        raise TypeError(
            f"{cls.__name__}: its __init__ does more than set its fields; use the class itself"
        )
    # Generated like dataclasses generates __init__: one assignment per field, no loop.
    lines = [f"def make({', '.join(names)}):", "    obj = new(cls)", "    fields = obj.__dict__"]
    lines += [f"    fields[{name!r}] = {name}" for name in names]
    lines.append("    return obj")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    exec("\n".join(lines), namespace)  # noqa: S102 - source built above from field names only
    make: Callable[..., T] = namespace["make"]
    make.__qualname__ = f"record_maker({cls.__name__})"
    return make
