"""The fake calendar provider: an events API with seeded faults, a latency model and ground truth.

Run it with `python -m fakes.calendar --host 127.0.0.1 --port P --seed N`; build it in-process with
`fakes.calendar.app.create_app(seed)`. The pure parts (`seeding`, `latency`, `profile`,
`fault_rules`) import no web framework, so the SimPy twin can use them to meet the same faults and
latencies in virtual time. This package file imports nothing on purpose: importing
`fakes.calendar.latency` must not pull in FastAPI.
"""
