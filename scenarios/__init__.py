"""The scenario catalog (`catalog/`, `negative/`, `found/`: data) and the real-mode runner.

The runner plays a scenario against a live stack: the fake provider, Toxiproxy and the service as
processes (`stack`, `processes`, `pg_databases`), the load through Locust and scripted bursts
(`locustfile`, `scripted`, `records`), the fault timeline in wall-clock time (`timeline`,
`actuators`), the collectors (`collect`), one scenario from load to verdict (`real_mode`).
`real_runner` is its public entry, the only module the command line and capacity planning use.
It imports the run contract, fakes and, of the service, its settings (import-linter holds it).
"""
