"""The schema as SQLAlchemy Core tables (the migrations in `migrations/` create it).

Owns table and column definitions only. Every row carries `tenant_id`. Times the service reasons
about (due, lease and expiry times, created/updated stamps) are float seconds on the app's clock;
slot bounds are UTC datetimes, so PostgreSQL can range-check them with `tstzrange`.

`appointments.kind` is `appointment` or `hold`: a hold is a row that reserves a reschedule's new
slot until the saga switches to it, so the one overlap rule (PostgreSQL exclusion constraint,
SQLite triggers) guards holds and appointments alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in and out; SQLite stores them naive (its text format sorts right)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if not isinstance(value, dt.datetime):
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


metadata = MetaData()

appointments = Table(
    "appointments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("hold_for", String(36)),
    Column("resource_id", String(255), nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("start_time", UtcDateTime(), nullable=False),
    Column("end_time", UtcDateTime(), nullable=False),
    Column("service_type", String(32), nullable=False),
    Column("title", String(256)),
    Column("location", String(255)),
    Column("owner_name", String(255)),
    Column("owner_email", String(320)),
    Column("metadata_json", Text),
    Column("status", String(16), nullable=False),
    Column("external_state", String(16), nullable=False),
    Column("external_id", String(255)),
    Column("event_id", String(255)),
    Column("overlap_guarded", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("response_status", Integer),
    Column("response_body", Text),
    Column("appointment_id", String(36)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("appointment_id", String(36), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("claimed_until", Float),
    Column("last_error", Text),
    Column("dead_lettered", Boolean, nullable=False),
    Column("ambiguous_seen", Boolean, nullable=False),
    Column("completed_at", Float),
    Column("created_at", Float, nullable=False),
    # The provider event the row's call names (from the payload; migration 0002), so the
    # reconciler can tell the service's events from other clients'.
    Column("event_id", String(255)),
)

saga_steps = Table(
    "saga_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("saga_id", String(36), nullable=False),
    Column("appointment_id", String(36), nullable=False),
    Column("step", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("detail", Text),
    Column("at", Float, nullable=False),
)
