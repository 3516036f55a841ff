"""An embedded, Toxiproxy-compatible TCP proxy with Toxiproxy's HTTP API.

No Toxiproxy binary is needed: `python -m fakes.toxiproxy` (or `EmbeddedToxiproxy` in-process)
serves upstream's HTTP API, so the `toxiproxy-python` client works against it unchanged, and
implements its toxics (latency, bandwidth, slow_close, timeout, reset_peer, slicer, limit_data,
noop; upstream/downstream; toxicity) with every random draw seeded, so runs repeat.

Modules, one job each: `schema` (API shapes and errors), `rng` (seeded draws), `toxics` (what a
toxic does to a byte stream, pure), `link` (one direction of a connection), `connection` (one
proxied connection's sockets and lifecycle), `proxy` (one listener and its toxics), `registry`
(the named proxies), `api` (HTTP routes), `server` (run it in-process), `process` (run it as a
child process), `client` (our wrapper over toxiproxy-python, with timeouts).
"""

from fakes.toxiproxy.server import EmbeddedToxiproxy, ToxiproxyServer

__all__ = ["EmbeddedToxiproxy", "ToxiproxyServer"]
