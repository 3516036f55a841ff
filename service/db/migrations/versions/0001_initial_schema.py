"""Initial schema: appointments (with the overlap rule), idempotency keys, outbox, saga steps.

The overlap rule is the database's: on PostgreSQL an exclusion constraint over (tenant, resource,
time range) for booked rows (btree_gist); on SQLite triggers that abort an insert or update that
would overlap, run inside the service's `BEGIN IMMEDIATE` write transactions so concurrent writers
serialize. Rows written with `overlap_guarded = false` (the legacy profile's switch) are outside
the rule on purpose.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_SQLITE_OVERLAP = """
CREATE TRIGGER appointments_no_overlap_{when}
BEFORE {event} ON appointments
WHEN NEW.status = 'booked' AND NEW.overlap_guarded
BEGIN
    SELECT RAISE(ABORT, 'appointment_overlap')
    WHERE EXISTS (
        SELECT 1 FROM appointments AS other
        WHERE other.tenant_id = NEW.tenant_id
          AND other.resource_id = NEW.resource_id
          AND other.status = 'booked'
          AND other.overlap_guarded
          AND other.id != NEW.id
          AND other.start_time < NEW.end_time
          AND NEW.start_time < other.end_time
    );
END
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("hold_for", sa.String(36)),
        sa.Column("resource_id", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(36), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_type", sa.String(32), nullable=False),
        sa.Column("title", sa.String(256)),
        sa.Column("location", sa.String(255)),
        sa.Column("owner_name", sa.String(255)),
        sa.Column("owner_email", sa.String(320)),
        sa.Column("metadata_json", sa.Text),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("external_state", sa.String(16), nullable=False),
        sa.Column("external_id", sa.String(255)),
        sa.Column("event_id", sa.String(255)),
        sa.Column("overlap_guarded", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_appointments_tenant_resource_start",
        "appointments",
        ["tenant_id", "resource_id", "start_time"],
    )
    op.create_index("ix_appointments_tenant_created", "appointments", ["tenant_id", "created_at"])
    if dialect == "postgresql":
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap "
            "EXCLUDE USING gist (tenant_id WITH =, resource_id WITH =, "
            "tstzrange(start_time, end_time) WITH &&) "
            "WHERE (status = 'booked' AND overlap_guarded)"
        )
    else:
        op.execute(_SQLITE_OVERLAP.format(when="insert", event="INSERT"))
        op.execute(
            _SQLITE_OVERLAP.format(
                when="update", event="UPDATE OF start_time, end_time, status, resource_id"
            )
        )
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_body", sa.Text),
        sa.Column("appointment_id", sa.String(36)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("appointment_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("claimed_until", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("dead_lettered", sa.Boolean, nullable=False),
        sa.Column("ambiguous_seen", sa.Boolean, nullable=False),
        sa.Column("completed_at", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_outbox_due", "outbox", ["completed_at", "dead_lettered", "next_attempt_at"])
    op.create_index("ix_outbox_appointment", "outbox", ["appointment_id"])
    op.create_table(
        "saga_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("saga_id", sa.String(36), nullable=False),
        sa.Column("appointment_id", sa.String(36), nullable=False),
        sa.Column("step", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_saga_steps_saga", "saga_steps", ["saga_id"])


def downgrade() -> None:
    op.drop_table("saga_steps")
    op.drop_table("outbox")
    op.drop_table("idempotency_keys")
    op.drop_table("appointments")
