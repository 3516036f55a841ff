"""The run contract: what real mode and the SimPy twin share, and what judges them both.

Owns the scenario spec (`contract.spec`), the load's request streams and pacing (`workload`,
`pacing`), the pure fault schedule (`fault_schedule`), one seed derivation for every component
(`seeds`), a scenario's settings as the service is handed them (`scenario_settings`), the
evidence a run gathers and its file format (`evidence`, `event_log`), the judges (`invariants`
with the retry bound, `assertions`), the per-step notes (`step_notes`), results_post.json with
its schema (`schemas/results_post.schema.json`) and JUnit rendering (`results`, `junit`), a
run's own facts (`run_facts`), and the knee of a capacity sweep (`knees`).

Must not import the service, the runner, the twin, capacity planning or the reports: both modes
depend on this package and it on neither (DESIGN §2; import-linter holds it to `fakes` models).
What it cannot know without the service — whether a scenario's settings suit it — is injected
(`contract.spec.loader.SettingsCheck`). Pure apart from reading scenario files, writing the
result files it is handed and `run_facts`' clock, host name and git revision.
"""
