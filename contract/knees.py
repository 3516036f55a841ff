"""The knee of a capacity sweep: where a configuration stops holding as the offered rate rises.

Shared by capacity planning (which writes `knees.json`) and the report (which marks the knees on
its sweep plot), so the two can never disagree. Pure: rows in, knees out.
"""

from __future__ import annotations

#: A point whose users started fewer than this share of the offered requests within the load
#: window did not hold, whatever its SLOs say: past saturation the users wait for the service, so
#: p95 levels off and would read as holding.
DELIVERED_SHARE = 0.9
