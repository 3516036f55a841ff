"""Reading scenario files: YAML in, a validated `Scenario` or one `ScenarioError` out.

The error names the file, the YAML line, the field path, what was expected and what was got:
"scenario 'outage.yaml' line 14: faults[2].at_s must be >= 0 (got -5)". Line numbers come from
the composed YAML node tree, walked along pydantic's error location.

`settings:` holds the service's own settings, which the contract does not know (it may not
import the service): a caller that may passes a `SettingsCheck` (the command line passes
`sim.service_settings.settings_problems`), and each `SettingProblem` it reports is given its
file and line like any other ("line 9: settings.relay_pol_s is not a setting of the service
..."). I/O: reads the files it is given, nothing else.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contract.spec.base import RULE_ERROR
from contract.spec.models import Scenario


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    line: int | None
    path: str
    message: str

    def describe(self) -> str:
        """'line 14: faults[2].at_s must be >= 0 (got -5)'."""
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path} {self.message}" if self.path else f"{where}{self.message}"


@dataclass(frozen=True)
class SettingProblem:
    """One entry of a scenario's `settings:` the service cannot take: its name, what is wrong."""

    name: str
    message: str  # read after "settings.<name> ", e.g. "must be a number (got 'soon')"


#: Checks a scenario's `settings:` against the service; injected, as the contract cannot know it.
SettingsCheck = Callable[[Mapping[str, Any]], Sequence[SettingProblem]]


class ScenarioError(Exception):
    """A scenario file (or catalog) that cannot be used; the message says what to fix."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self._message())

    def _message(self) -> str:
        if len(self.problems) == 1:
            problem = self.problems[0]
            line = f" line {problem.line}" if problem.line is not None else ""
            text = f"{problem.path} {problem.message}" if problem.path else problem.message
            return f"scenario '{self.source}'{line}: {text}"
        lines = [f"scenario '{self.source}' has {len(self.problems)} problems:"]
        lines += [f"  {problem.describe()}" for problem in self.problems]
        return "\n".join(lines)


def load_scenario(
    path: str | os.PathLike[str], check_settings: SettingsCheck | None = None
) -> Scenario:
    """Read and validate one scenario file (its `settings:` with `check_settings`, if given).

    Raises ScenarioError naming the file, line and field when it cannot be used.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(source, [Problem(None, "", f"cannot be read ({exc})")]) from exc
    return parse_scenario(text, source, check_settings)


def load_catalog(
    directory: str | os.PathLike[str], check_settings: SettingsCheck | None = None
) -> list[Scenario]:
    """Every scenario in directory (*.yaml, *.yml), sorted by file name.

    Raises ScenarioError listing every bad file, or when names repeat or there is no file.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ScenarioError(str(folder), [Problem(None, "", "is not a directory")])
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        raise ScenarioError(str(folder), [Problem(None, "", "holds no *.yaml scenario file")])
    scenarios: list[Scenario] = []
    errors: list[str] = []
    seen: dict[str, Path] = {}
    for file in files:
        try:
            scenario = load_scenario(file, check_settings)
        except ScenarioError as exc:
            errors.append(str(exc))
            continue
        if scenario.name in seen:
            errors.append(
                f"scenario '{file}': name '{scenario.name}' is already used by "
                f"'{seen[scenario.name]}'; names must be unique in a catalog"
            )
            continue
        seen[scenario.name] = file
        scenarios.append(scenario)
    if errors:
        raise ScenarioError(str(folder), [Problem(None, "", error) for error in errors])
    return scenarios


def parse_scenario(
    text: str, source: str = "<string>", check_settings: SettingsCheck | None = None
) -> Scenario:
    """Validate scenario YAML text; source names it in errors. With `check_settings`, the
    scenario's `settings:` are checked too, each problem at its own line."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError(source, [Problem(None, "", "is empty")])
        duplicate = _duplicate_key(root)
        if duplicate is not None:
            raise ScenarioError(source, [duplicate])
        data = loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(source, [Problem(line, "", f"is not valid YAML: {reason}")]) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        got = type(data).__name__
        raise ScenarioError(source, [Problem(1, "", f"must be a mapping of fields (got {got})")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(error, root) for error in exc.errors()]
        raise ScenarioError(source, problems) from None
    if check_settings is not None:
        found = check_settings(scenario.settings)
        if found:
            raise ScenarioError(source, [_setting_problem(problem, root) for problem in found])
    return scenario


def scenario_to_yaml(scenario: Scenario) -> str:
    """The scenario as YAML that `parse_scenario` reads back to an equal Scenario.

    For writing scenarios out, e.g. a fault timeline shrunk by Hypothesis (DESIGN §8).
    """
    data = scenario.model_dump(mode="json", exclude_none=True)
    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100))


# --- errors → problems ---------------------------------------------------------------------------


def _duplicate_key(node: yaml.Node) -> Problem | None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                return Problem(key.start_mark.line + 1, str(key.value), "appears twice")
            seen.add(key.value)
            found = _duplicate_key(value)
            if found is not None:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found is not None:
                return found
    return None


def _problem(error: Any, root: yaml.Node) -> Problem:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    loc = list(error["loc"])
    if kind == RULE_ERROR:
        loc += list(ctx.get("at", ()))
    elif kind in ("union_tag_invalid", "union_tag_not_found"):
        loc.append(str(ctx.get("discriminator", "")).strip("'"))
    path, node = _resolve(loc, root)
    return Problem(node.start_mark.line + 1, _path_text(path), _message(error))


def _setting_problem(problem: SettingProblem, root: yaml.Node) -> Problem:
    path, node = _resolve(["settings", problem.name], root)
    if len(path) == 2:  # blame the setting's name, where a typo is, not its value
        node = _key_node(root, "settings", problem.name) or node
    return Problem(node.start_mark.line + 1, _path_text(path), problem.message)


def _key_node(root: yaml.Node, section: str, name: str) -> yaml.Node | None:
    settings = _child(root, section)
    if isinstance(settings, yaml.MappingNode):
        for key, _value in settings.value:
            if key.value == name:
                return key
    return None


def _resolve(loc: list[Any], root: yaml.Node) -> tuple[list[Any], yaml.Node]:
    """Walk the YAML nodes along an error location; skip the union tags pydantic inserts.

    Returns the path of real fields and the deepest node found (for its line). A last element
    that is not in the file (a missing field) stays in the path, blamed on its parent's line.
    """
    path: list[Any] = []
    node = root
    for index, part in enumerate(loc):
        child = _child(node, part)
        if child is not None:
            path.append(part)
            node = child
        elif index == len(loc) - 1:
            path.append(part)
    return path, node


def _child(node: yaml.Node, part: Any) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(part, str):
        for key, value in node.value:
            if key.value == part:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        if 0 <= part < len(node.value):
            return node.value[part]
    return None


def _path_text(path: list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_TEMPLATES = {
    "missing": "is required",
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "literal_error": "must be one of {expected}",
    "union_tag_invalid": "must be one of {expected_tags}",
    "union_tag_not_found": "is required",
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "string_pattern_mismatch": "must be lowercase letters, digits, '_' or '-' (pattern {pattern})",
    "string_too_long": "must be at most {max_length} characters",
    "list_type": "must be a list",
    "too_short": "must have at least {min_length} item(s)",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "extra_forbidden": "is not a known field",
}


def _message(error: Any) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == RULE_ERROR:
        return str(ctx["message"])
    template = _TEMPLATES.get(kind)
    if template is None:
        # Another model's own message (the fake's FaultProfile): keep it, it names its values.
        text = str(error["msg"]).removeprefix("Value error, ")
        return text[:1].lower() + text[1:]
    message = template.format(**{k: _ctx_text(v) for k, v in ctx.items()})
    if kind == "union_tag_invalid":
        return f"{message} (got {_shown(ctx.get('tag'))})"
    if kind in ("missing", "union_tag_not_found", "extra_forbidden"):
        return message
    return f"{message} (got {_shown(error.get('input'))})"


def _shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, int | float):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _ctx_text(value: Any) -> str:
    # pydantic's ctx holds numbers (ge=0) and pre-quoted lists ("'real' or 'sim'").
    return _shown(value) if isinstance(value, int | float) else str(value)
