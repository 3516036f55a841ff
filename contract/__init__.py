"""The run contract: what real mode and the SimPy twin share, and what judges them both.

Owns the scenario spec (`contract.spec`), the load's request streams and pacing (`workload`,
`pacing`), the pure fault schedule (`fault_schedule`), the evidence a run gathers and its file
format (`evidence`, `event_log`), the judges (`invariants`, `assertions`), the per-step notes
(`step_notes`), and results_post.json with its schema and JUnit rendering (`results`, `junit`).

Must not import the service, the runner, the twin, capacity planning or the reports: both modes
depend on this package and it on neither (DESIGN §2; import-linter holds it to `fakes` models).
Pure apart from reading scenario files and writing the run's result files it is handed.
"""
