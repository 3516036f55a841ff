"""JSON log lines: one object per line, request and appointment ids, owner data masked."""

from __future__ import annotations

import json
import logging

from service.json_logging import JsonFormatter, bound_appointment, mask, request_id_var


def _format(message: str, *args: object, **extra: object) -> dict[str, object]:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(record, key, value)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def test_owner_fields_and_email_shapes_are_masked() -> None:
    entry = _format(
        "booked for %s",
        "ada@example.org",
        owner={"name": "Ada Lovelace", "email": "ada@example.org"},
        note="contact ada@example.org",
    )
    text = json.dumps(entry)
    assert "Ada Lovelace" not in text and "ada@example.org" not in text
    assert entry["owner"] == "***"


def test_lines_carry_request_and_appointment_ids() -> None:
    token = request_id_var.set("req-1")
    try:
        with bound_appointment("appt-9"):
            entry = _format("hello")
    finally:
        request_id_var.reset(token)
    assert entry["request_id"] == "req-1"
    assert entry["appointment_id"] == "appt-9"


def test_mask_leaves_other_values_alone() -> None:
    assert mask({"status": 201, "ids": ["a", "b"]}) == {"status": 201, "ids": ["a", "b"]}
