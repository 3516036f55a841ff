"""The ports the flows are written against: stores, clock, crash points, ids, wake-ups, tasks,
metrics. The service plugs in SQL stores and asyncio; the twin plugs in an in-memory store and
SimPy. Protocols and plain data only: no I/O here."""
