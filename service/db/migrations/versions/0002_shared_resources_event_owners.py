"""One booking per resource and slot across tenants; the outbox names each row's provider event.

Why (issue 16, items 5 and 6): a resource is one provider calendar (`calendar_id` is the bare
`resource_id`), so two tenants booking one slot of it put two events at one time on one
calendar. The overlap rule drops the tenant: on PostgreSQL the exclusion constraint is rebuilt
over (resource, time range), on SQLite the triggers are; an index on (resource, start) serves
the check now that the tenant no longer leads it. Before that, the migration refuses to run
while booked rows of different tenants already overlap, naming them (an exclusion constraint
cannot be added `NOT VALID`, and silently cancelling a booking is not the migration's call).

`outbox.event_id` keeps the event id each row's call names (a create's or a reschedule's new
event, a delete's target), filled from the payload, indexed with the appointments' event and
provider ids: the reconciler asks which provider events the service created
(`Transaction.event_owners`) and deletes no other.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
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
        WHERE other.resource_id = NEW.resource_id
          AND other.status = 'booked'
          AND other.overlap_guarded
          AND other.id != NEW.id
          AND other.start_time < NEW.end_time
          AND NEW.start_time < other.end_time
    );
END
"""

_CROSS_TENANT_OVERLAPS = sa.text(
    """
    SELECT a.resource_id, a.id AS first_id, a.tenant_id AS first_tenant,
           b.id AS second_id, b.tenant_id AS second_tenant
    FROM appointments AS a JOIN appointments AS b
      ON a.resource_id = b.resource_id
     AND a.tenant_id < b.tenant_id
     AND a.start_time < b.end_time
     AND b.start_time < a.end_time
    WHERE a.status = 'booked' AND b.status = 'booked'
      AND a.overlap_guarded AND b.overlap_guarded
    ORDER BY a.resource_id, a.id, b.id
    """
)


def upgrade() -> None:
    bind = op.get_bind()
    _refuse_cross_tenant_overlaps(bind)
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap")
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap "
            "EXCLUDE USING gist (resource_id WITH =, tstzrange(start_time, end_time) WITH &&) "
            "WHERE (status = 'booked' AND overlap_guarded)"
        )
    else:
        op.execute("DROP TRIGGER appointments_no_overlap_insert")
        op.execute("DROP TRIGGER appointments_no_overlap_update")
        op.execute(_SQLITE_OVERLAP.format(when="insert", event="INSERT"))
        op.execute(
            _SQLITE_OVERLAP.format(
                when="update", event="UPDATE OF start_time, end_time, status, resource_id"
            )
        )
    op.create_index("ix_appointments_resource_start", "appointments", ["resource_id", "start_time"])
    op.create_index("ix_appointments_event_id", "appointments", ["event_id"])
    op.create_index("ix_appointments_external_id", "appointments", ["external_id"])
    op.add_column("outbox", sa.Column("event_id", sa.String(255)))
    if bind.dialect.name == "postgresql":
        op.execute(
            "UPDATE outbox SET event_id = coalesce("
            "payload::jsonb ->> 'event_id', payload::jsonb -> 'spec' ->> 'event_id')"
        )
    else:
        op.execute(
            "UPDATE outbox SET event_id = coalesce("
            "json_extract(payload, '$.event_id'), json_extract(payload, '$.spec.event_id'))"
        )
    op.create_index("ix_outbox_event_id", "outbox", ["event_id"])


def _refuse_cross_tenant_overlaps(bind: sa.engine.Connection) -> None:
    pairs = bind.execute(_CROSS_TENANT_OVERLAPS).all()
    if not pairs:
        return
    shown = "; ".join(
        f"resource {p.resource_id!r}: appointment {p.first_id} (tenant {p.first_tenant!r}) and "
        f"{p.second_id} (tenant {p.second_tenant!r})"
        for p in pairs[:5]
    )
    raise RuntimeError(
        f"migration 0002 makes one booking per resource and slot span tenants, but "
        f"{len(pairs)} pair(s) of booked appointments of different tenants overlap: {shown}. "
        "Cancel one of each pair with the previous version (POST /v1/appointments/{id}/cancel "
        "with its tenant's key), then start again."
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_event_id", "outbox")
    op.drop_column("outbox", "event_id")
    op.drop_index("ix_appointments_external_id", "appointments")
    op.drop_index("ix_appointments_event_id", "appointments")
    op.drop_index("ix_appointments_resource_start", "appointments")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT appointments_no_overlap")
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT appointments_no_overlap "
            "EXCLUDE USING gist (tenant_id WITH =, resource_id WITH =, "
            "tstzrange(start_time, end_time) WITH &&) "
            "WHERE (status = 'booked' AND overlap_guarded)"
        )
    else:
        op.execute("DROP TRIGGER appointments_no_overlap_insert")
        op.execute("DROP TRIGGER appointments_no_overlap_update")
        tenant_rule = "WHERE other.tenant_id = NEW.tenant_id\n          AND other.resource_id"
        for when, event in (
            ("insert", "INSERT"),
            ("update", "UPDATE OF start_time, end_time, status, resource_id"),
        ):
            op.execute(
                _SQLITE_OVERLAP.format(when=when, event=event).replace(
                    "WHERE other.resource_id", tenant_rule
                )
            )
