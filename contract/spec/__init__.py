"""Scenario files: the validated data a run is made from (DESIGN §6, issue 4 §1).

`load_scenario(path)` and `load_catalog(dir)` return `Scenario` models or raise one
`ScenarioError` naming the file, line, field, what was expected and what was got. The models are
data only; the runner and the SimPy twin both read them. Pure apart from reading the files.
"""

from contract.spec.faults import (
    CRASH_POINTS,
    CrashFault,
    CrashParams,
    DownFault,
    Fault,
    NetworkFault,
    ProviderFault,
    ToxicParams,
)
from contract.spec.loader import (
    Problem,
    ScenarioError,
    SettingProblem,
    SettingsCheck,
    load_catalog,
    load_scenario,
    parse_scenario,
    scenario_to_yaml,
)
from contract.spec.models import ConcurrentSameKey, Load, OperationMix, RateStep, Scenario

__all__ = [
    "CRASH_POINTS",
    "ConcurrentSameKey",
    "CrashFault",
    "CrashParams",
    "DownFault",
    "Fault",
    "Load",
    "NetworkFault",
    "OperationMix",
    "Problem",
    "ProviderFault",
    "RateStep",
    "Scenario",
    "ScenarioError",
    "SettingProblem",
    "SettingsCheck",
    "ToxicParams",
    "load_catalog",
    "load_scenario",
    "parse_scenario",
    "scenario_to_yaml",
]
