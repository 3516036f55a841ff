"""The SimPy twin of the booking path (DESIGN §1, §8; issue 5).

`simulate(scenario, seed, overrides) -> RunEvidence` runs one scenario in virtual time and gathers
what real mode gathers, judged by the same invariants and SLOs (`cli.sim_mode` writes the
run folder). The model runs the service's own flows — create, cancel, the reschedule saga,
reads, the relay pass, the reconciler pass, all of `service.booking` and `service.relay`, with
the policy core under them — as coroutines stepped by SimPy (`flow_driver`) on the twin's ports,
against the fake provider's own fault rules and latency models (`fakes.calendar`) and the load's
own request streams (`contract.workload`). It adds timing and capacity, never decisions.
Modules, one job each:

- `service_settings`: a scenario's settings as the service reads them (the one list of their
  names); `config`: the twin's service-time parameters;
- `components`: one seeded RNG per component; `queueing`: FIFO c-server queues, computed;
- `network`, `provider`, `calendar_link`, `calendar_client`: the provider behind the toxics,
  one attempt at a time, and the service's calendar client over that path;
- `flow_driver`, `sim_ports`: the service's flows stepped in SimPy, and the ports they run on
  (clock, crash points, ids, wake-up, tasks, counters);
- `memory_store`, `timed_store`: the service's database in memory (the store contract's third
  backend) and what each transaction costs; `timing`: CPU and database time;
- `request_front`, `host`: the service's HTTP layer around the flows, and the process with its
  incarnations, crashes and restarts;
- `clients`, `timeline`, `sampler`, `twin`: the load, the faults, the metrics, one run;
  `release`: a finished run freed at once, not left to the cyclic garbage collector;
- `fast_paths`: byte-identical faster versions of shared per-request helpers.

Capacity planning (`capacity/`: sweeps, calibration, search and shrinking) calls `simulate` with
plain data (a scenario, a seed, dotted `overrides` such as `load.rate_rps`,
`settings.breaker_cooldown_s`, `faults`, `twin.cpu_create_ms`) and judges the evidence with the
run contract (`contract.evidence.compute_metrics`, `contract.invariants`). This package imports
the service, `fakes` models and the run contract; never the runner, capacity planning or reports.
"""

from sim.config import TwinParams, apply_overrides
from sim.twin import SimRun, simulate, simulate_run

__all__ = ["SimRun", "TwinParams", "apply_overrides", "simulate", "simulate_run"]
