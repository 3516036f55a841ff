"""The outbox relay and the reconciler: background work that finishes what requests started.

Run in-process by the app, or alone with `python -m service.relay`.
"""
