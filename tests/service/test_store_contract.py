"""One contract for every store behind `service.ports.store`: SQLite, PostgreSQL and the twin's
in-memory store (`sim.memory_store`) pass the same tests, so the flows meet the same rules
whichever driver runs them (STYLE §4: the same tests on every backend)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import pytest

from service.booking.answers import Answer
from service.booking.model import Appointment
from service.db.database import Database
from service.db.migrate import upgrade_to_head
from service.db.sql_store import SqlStore
from service.ports.store import (
    CREATE_EVENT,
    DELETE_EVENT,
    KIND_HOLD,
    RESCHEDULE_EVENT,
    KeyTaken,
    SlotTaken,
    StaleWrite,
    Store,
)
from service.resilience.idempotency import KeyState, new_record
from service.resilience.lifecycle import AppointmentStatus, ExternalState, LifecycleEvent
from sim.memory_store import MemoryStore

T0 = dt.datetime(2031, 5, 5, 9, 0, tzinfo=dt.UTC)


def appointment(
    start_min: int = 0,
    end_min: int = 30,
    tenant: str = "t1",
    resource: str = "r1",
    appointment_id: str | None = None,
) -> Appointment:
    return Appointment(
        id=appointment_id or str(uuid.uuid4()),
        tenant_id=tenant,
        resource_id=resource,
        customer_id=str(uuid.uuid4()),
        start_time=T0 + dt.timedelta(minutes=start_min),
        end_time=T0 + dt.timedelta(minutes=end_min),
        service_type="pickup",
        title="t",
        location=None,
        owner_name=None,
        owner_email=None,
        metadata={"k": [1, 2]},
        status=AppointmentStatus.BOOKED,
        external_state=ExternalState.PENDING,
        external_id=None,
        event_id=None,
        version=1,
        created_at=1.5,
        updated_at=1.5,
    )


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{request.getfixturevalue('tmp_path')}/store.db"
    else:
        url = request.getfixturevalue("postgres_url")
    db = Database(url, pool_size=2)
    try:
        await upgrade_to_head(db)
        yield SqlStore(db)
    finally:
        await db.dispose()


async def insert(store: Store, a: Appointment, **kwargs: object) -> None:
    async with store.write() as tx:
        await tx.insert_appointment(a, **kwargs)  # type: ignore[arg-type]


async def enqueue(store: Store, appointment_id: str, due_at: float, **kwargs: object) -> int:
    async with store.write() as tx:
        return await tx.enqueue(
            tenant_id="t1",
            appointment_id=appointment_id,
            event_type=kwargs.pop("event_type", CREATE_EVENT),  # type: ignore[arg-type]
            payload={"event_id": appointment_id, "n": [1]},
            due_at=due_at,
            now=0.0,
            **kwargs,  # type: ignore[arg-type]
        )


# -- appointments ----------------------------------------------------------------------------
async def test_overlaps_are_refused_adjacent_slots_and_other_resources_are_not(
    store: Store,
) -> None:
    await insert(store, appointment(0, 30))
    with pytest.raises(SlotTaken):
        await insert(store, appointment(15, 45))
    with pytest.raises(SlotTaken):
        await insert(store, appointment(-60, 120))  # covers it
    await insert(store, appointment(30, 60))  # starts where the first ends
    await insert(store, appointment(-30, 0))  # ends where it starts
    await insert(store, appointment(0, 30, resource="r2"))


async def test_the_overlap_rule_spans_tenants_a_resource_is_one_calendar(store: Store) -> None:
    """Issue 16 item 6: every tenant's booking of a resource becomes an event on the one
    provider calendar named by the resource id, so the second tenant's overlapping booking is
    refused — on insert and on a move; its own listing still shows only its own."""
    await insert(store, appointment(0, 30, tenant="t1"))
    with pytest.raises(SlotTaken):
        await insert(store, appointment(10, 20, tenant="t2"))
    theirs = appointment(30, 60, tenant="t2")
    await insert(store, theirs)
    async with store.write() as tx:
        current = await tx.get_appointment("t2", theirs.id, for_update=True)
        assert current is not None
        with pytest.raises(SlotTaken):
            await tx.save_appointment(
                current, current.evolve(start_time=T0, end_time=T0 + dt.timedelta(minutes=30))
            )
    async with store.read() as tx:
        assert await tx.overlaps("r1", T0 + dt.timedelta(minutes=40), T0 + dt.timedelta(hours=2))
        page = await tx.list_appointments(
            "t2", resource_id="r1", window_from=None, window_to=None, after=None, limit=10
        )
        assert [a.id for a in page] == [theirs.id]


async def test_unguarded_rows_neither_refuse_nor_are_refused(store: Store) -> None:
    await insert(store, appointment(0, 30), guarded=False)
    await insert(store, appointment(0, 30))  # guarded, over an unguarded one
    await insert(store, appointment(0, 30), guarded=False)  # legacy: two on one slot
    async with store.read() as tx:
        assert await tx.overlaps("r1", T0, T0 + dt.timedelta(minutes=1))
        assert not await tx.overlaps("r1", T0 - dt.timedelta(hours=1), T0)


async def test_holds_guard_their_slot_and_are_not_appointments(store: Store) -> None:
    owner = appointment(0, 30)
    await insert(store, owner)
    hold = appointment(60, 90)
    await insert(store, hold, kind=KIND_HOLD, hold_for=owner.id)
    with pytest.raises(SlotTaken):
        await insert(store, appointment(70, 80))
    async with store.read() as tx:
        assert await tx.get_appointment("t1", hold.id) is None
        assert await tx.get_appointment("t1", owner.id) == owner
        page = await tx.list_appointments(
            "t1", resource_id=None, window_from=None, window_to=None, after=None, limit=10
        )
        assert [a.id for a in page] == [owner.id]
    async with store.write() as tx:
        await tx.delete_hold(hold.id)
        await tx.delete_hold(owner.id)  # not a hold: left alone
    await insert(store, appointment(70, 80))
    async with store.read() as tx:
        assert await tx.get_appointment("t1", owner.id) == owner


async def test_get_sees_only_the_callers_tenant(store: Store) -> None:
    a = appointment()
    await insert(store, a)
    async with store.read() as tx:
        assert await tx.get_appointment("t2", a.id) is None
        assert await tx.get_appointment("t1", "no-such-id") is None


async def test_save_bumps_the_version_frees_the_slot_and_refuses_stale_or_taken(
    store: Store,
) -> None:
    a = appointment(0, 30)
    await insert(store, a)
    async with store.write() as tx:
        current = await tx.get_appointment("t1", a.id, for_update=True)
        assert current is not None
        saved = await tx.save_appointment(
            current, current.advance(LifecycleEvent.CANCEL_REQUESTED, updated_at=2.0)
        )
    assert saved.version == 2 and saved.status is AppointmentStatus.CANCELLED
    async with store.read() as tx:
        assert await tx.get_appointment("t1", a.id) == saved
    with pytest.raises(StaleWrite):
        async with store.write() as tx:
            await tx.save_appointment(current, current.evolve(title="late"))
    await insert(store, appointment(0, 30))  # the cancelled one freed its slot
    b = appointment(60, 90)
    await insert(store, b)
    with pytest.raises(SlotTaken):  # moving b onto the booked slot
        async with store.write() as tx:
            await tx.save_appointment(b, b.evolve(start_time=T0, end_time=T0 + dt.timedelta(30)))
    async with store.read() as tx:
        assert await tx.get_appointment("t1", b.id) == b


async def test_a_failed_write_transaction_leaves_nothing(store: Store) -> None:
    taken = appointment(0, 30)
    await insert(store, taken)
    loser = appointment(10, 20)
    record = new_record("k-1", "fp", 1.0, _policy())
    with pytest.raises(SlotTaken):
        async with store.write() as tx:
            await tx.insert_key("t1", record, loser.id)
            await tx.enqueue(
                tenant_id="t1",
                appointment_id=loser.id,
                event_type=CREATE_EVENT,
                payload={},
                due_at=0.0,
                now=0.0,
            )
            await tx.insert_appointment(loser)
    async with store.read() as tx:
        assert await tx.load_key("t1", "k-1") is None
        assert await tx.open_rows(loser.id) == []
        assert await tx.outbox_counts() == (0, 0)
    with pytest.raises(RuntimeError):
        async with store.write() as tx:
            current = await tx.get_appointment("t1", taken.id)
            assert current is not None
            await tx.save_appointment(
                current, current.advance(LifecycleEvent.CANCEL_REQUESTED, updated_at=3.0)
            )
            raise RuntimeError("the flow failed after the save")
    async with store.read() as tx:
        assert await tx.get_appointment("t1", taken.id) == taken
    with pytest.raises(SlotTaken):
        await insert(store, appointment(5, 10))  # still booked: the save was rolled back


async def test_pages_are_ordered_by_id_filtered_and_resumable(store: Store) -> None:
    ids = [f"{n:08d}-0000-4000-8000-000000000000" for n in range(7)]
    for n, appointment_id in enumerate(reversed(ids)):
        resource = "r1" if n % 2 else "r2"
        await insert(store, appointment(60 * n, 60 * n + 30, resource=resource,
                                        appointment_id=appointment_id))  # fmt: skip
    await insert(store, appointment(0, 30, tenant="t2"))
    async with store.read() as tx:

        async def page(**kwargs: object) -> list[str]:
            query: dict[str, object] = {
                "resource_id": None,
                "window_from": None,
                "window_to": None,
                "after": None,
                "limit": 100,
            }
            query.update(kwargs)
            found = await tx.list_appointments("t1", **query)  # type: ignore[arg-type]
            return [a.id for a in found]

        assert await page() == ids
        assert await page(limit=3) == ids[:3]
        assert await page(after=ids[2], limit=3) == ids[3:6]
        by_resource = await page(resource_id="r1")
        assert by_resource == sorted(by_resource) and len(by_resource) == 3
        # windows: overlapping [from, to)
        window = await page(
            window_from=T0 + dt.timedelta(minutes=60), window_to=T0 + dt.timedelta(minutes=150)
        )
        assert len(window) == 2
        assert len(await tx.all_appointments()) == 8


# -- idempotency keys ------------------------------------------------------------------------
def _policy():  # type: ignore[no-untyped-def]
    from service.resilience.idempotency import IdempotencyPolicy

    return IdempotencyPolicy(ttl_s=100.0, in_flight_lease_s=5.0)


async def test_keys_are_unique_per_tenant_complete_once_and_replay_the_answer(
    store: Store,
) -> None:
    a = appointment()
    await insert(store, a)
    record = new_record("key-1", "fp-1", 1.0, _policy())
    async with store.write() as tx:
        await tx.insert_key("t1", record, a.id)
        await tx.insert_key("t2", record, None)  # another tenant's key of the same name
    with pytest.raises(KeyTaken):
        async with store.write() as tx:
            await tx.insert_key("t1", record, a.id)
    async with store.write() as tx:
        stored = await tx.load_key("t1", "key-1", for_update=True)
        assert stored is not None and stored.record.state is KeyState.IN_FLIGHT
        assert stored.appointment_id == a.id and stored.response is None
        await tx.complete_key("t1", "key-1", Answer(202, appointment=a))
        await tx.complete_key("t1", "key-1", Answer(500, {"id": "other"}))  # no longer in flight
    async with store.read() as tx:
        stored = await tx.load_key("t1", "key-1")
    assert stored is not None and stored.record.state is KeyState.COMPLETED
    assert stored.record.response_status == 202 and stored.record.fingerprint == "fp-1"
    assert stored.response is not None
    assert (stored.response.status, stored.response.appointment_id) == (202, a.id)
    assert stored.response.external_state == "PENDING"
    assert stored.response.body == Answer(202, appointment=a).body
    fresh = new_record("key-1", "fp-2", 500.0, _policy())
    async with store.write() as tx:
        await tx.insert_key("t1", fresh, None, replace_expired=True)
    async with store.read() as tx:
        again = await tx.load_key("t1", "key-1")
    assert again is not None and again.record.fingerprint == "fp-2" and again.response is None


# -- outbox ----------------------------------------------------------------------------------
async def test_claims_take_due_unleased_rows_oldest_first_with_a_lease(store: Store) -> None:
    later = await enqueue(store, "a1", due_at=5.0)
    first = await enqueue(store, "a2", due_at=1.0)
    same_due = await enqueue(store, "a3", due_at=1.0)
    held = await enqueue(store, "a4", due_at=0.0, claimed_until=8.0)  # the request holds it
    assert len({later, first, same_due, held}) == 4
    async with store.write() as tx:
        assert await tx.claim_due(0.5, 10.0, 10) == []
        claimed = await tx.claim_due(2.0, 10.0, 1)
    assert [r.id for r in claimed] == [first]
    assert claimed[0].claimed_until is None  # as read, before the lease
    async with store.write() as tx:
        claimed = await tx.claim_due(6.0, 10.0, 10)
    assert [r.id for r in claimed] == [same_due, later]
    async with store.write() as tx:
        late = await tx.claim_due(9.0, 10.0, 10)  # the request's hold ran out
        assert [(r.id, r.claimed_until) for r in late] == [(held, 8.0)]
        assert [r.id for r in await tx.claim_due(12.5, 10.0, 10)] == [first]  # its lease ended
        row = await tx.get_row(first)
    assert row is not None and row.claimed_until == 22.5 and row.is_open


async def test_a_rows_fate_complete_retry_dead_letter_release(store: Store) -> None:
    done = await enqueue(store, "a1", due_at=0.0)
    retried = await enqueue(store, "a2", due_at=0.0)
    dead = await enqueue(store, "a3", due_at=0.0)
    released = await enqueue(store, "a4", due_at=0.0, claimed_until=50.0)
    async with store.write() as tx:
        await tx.claim_due(1.0, 10.0, 10)
        assert await tx.complete_row(done, 2.0) is True
        assert await tx.complete_row(done, 3.0) is False
        await tx.record_failure(retried, attempts=1, next_attempt_at=4.0, error="x" * 3000,
                                ambiguous=True)  # fmt: skip
        await tx.record_failure(dead, attempts=5, next_attempt_at=None, error="gone",
                                ambiguous=False)  # fmt: skip
        await tx.record_failure(dead, attempts=6, next_attempt_at=9.0, error="late",
                                ambiguous=False)  # fmt: skip  # not open: ignored
        await tx.release_row(released, ambiguous=True)
    async with store.read() as tx:
        row = await tx.get_row(retried)
        assert row is not None
        assert (row.attempts, row.next_attempt_at, row.claimed_until) == (1, 4.0, None)
        assert row.ambiguous_seen and len(row.last_error or "") == 2000
        gone = await tx.get_row(dead)
        assert gone is not None and gone.dead_lettered and not gone.is_open
        assert (gone.attempts, gone.last_error) == (5, "gone")
        back = await tx.get_row(released)
        assert back is not None and back.claimed_until is None and back.ambiguous_seen
        finished = await tx.get_row(done)
        assert finished is not None and finished.completed_at == 2.0
        assert await tx.outbox_counts() == (2, 1)
        assert await tx.outbox_counts("t2") == (0, 0)
        assert [r.id for r in await tx.dead_letters("t1")] == [dead]
        assert [r.id for r in await tx.all_open_rows()] == [retried, released]
    async with store.write() as tx:
        # oldest due first: the released row was due at 0, the retried one at 4
        assert [r.id for r in await tx.claim_due(4.0, 10.0, 10)] == [released, retried]


async def test_supersede_closes_an_appointments_open_rows_of_those_types(store: Store) -> None:
    create = await enqueue(store, "a1", due_at=0.0)
    reschedule = await enqueue(store, "a1", due_at=0.0, event_type=RESCHEDULE_EVENT)
    delete = await enqueue(store, "a1", due_at=0.0, event_type=DELETE_EVENT)
    other = await enqueue(store, "a2", due_at=0.0)
    async with store.write() as tx:
        moot = await tx.supersede("a1", (CREATE_EVENT, RESCHEDULE_EVENT), 7.0)
    assert sorted(r.id for r in moot) == [create, reschedule]
    assert all(r.is_open for r in moot)  # as they were
    async with store.read() as tx:
        assert [r.id for r in await tx.open_rows("a1")] == [delete]
        assert [r.id for r in await tx.open_rows("a2")] == [other]
        row = await tx.get_row(create)
        assert row is not None and row.completed_at == 7.0 and row.last_error == "superseded"


async def test_snapshots_do_not_change_when_the_store_does(store: Store) -> None:
    row_id = await enqueue(store, "a1", due_at=0.0)
    async with store.read() as tx:
        before = await tx.get_row(row_id)
    async with store.write() as tx:
        await tx.complete_row(row_id, 1.0)
    assert before is not None and before.is_open and before.payload == {"event_id": "a1", "n": [1]}


async def test_saga_steps_are_kept_in_order(store: Store) -> None:
    async with store.write() as tx:
        for step in ("reserve_new_slot", "switch"):
            await tx.record_saga_step(tenant_id="t1", saga_id="s1", appointment_id="a1",
                                      step=step, state="done", now=1.0, detail={"x": 1})  # fmt: skip
    async with store.read() as tx:
        steps = await tx.saga_steps("t1", "a1")
        assert [s["step"] for s in steps] == ["reserve_new_slot", "switch"]
        assert steps[0]["detail"] == {"x": 1} and steps[0]["saga_id"] == "s1"
        assert await tx.saga_steps("t2", "a1") == []


async def test_event_owners_names_the_ids_the_service_issued_and_their_tenant(
    store: Store,
) -> None:
    """What the reconciler may treat as its own: an appointment's id, the event id it asked the
    provider for, the provider's id it recorded, a saga's id, an outbox row's event id (a
    create's, a delete's, a reschedule's new event) — of any status; nothing else."""
    first = appointment(0, 30, tenant="t1")
    moved = dataclasses.replace(
        appointment(60, 90, tenant="t2"),
        event_id="asked-of-provider",
        external_id="provider-picked",
        status=AppointmentStatus.CANCELLED,
    )
    hold = appointment(120, 150, tenant="t1")
    for made in (first, moved):
        await insert(store, made)
    await insert(store, hold, kind=KIND_HOLD, hold_for=first.id)
    async with store.write() as tx:
        await tx.record_saga_step(tenant_id="t2", saga_id="saga-1", appointment_id=moved.id,
                                  step="reserve_new_slot", state="done", now=1.0)  # fmt: skip
        for event_type, payload in (
            (CREATE_EVENT, {"event_id": "recreated", "key": "recreated"}),
            (DELETE_EVENT, {"event_id": "to-delete", "key": "delete-to-delete"}),
            (RESCHEDULE_EVENT, {"saga_id": "saga-2", "spec": {"event_id": "saga-2"}}),
            (CREATE_EVENT, {"event_id": None, "key": None}),  # legacy: the provider picks
        ):
            await tx.enqueue(tenant_id="t1", appointment_id=first.id, event_type=event_type,
                             payload=payload, due_at=0.0, now=0.0)  # fmt: skip
    asked = [first.id, "asked-of-provider", "provider-picked", moved.id, "saga-1", "recreated",
             "to-delete", "saga-2", hold.id, "someone-elses", "delete-to-delete"]  # fmt: skip
    async with store.read() as tx:
        owners = await tx.event_owners(asked)
        assert await tx.event_owners([]) == {}
        # More than one statement's worth of parameters: asked in bounded lists.
        many = [f"foreign-{n}" for n in range(1200)] + asked
        assert await tx.event_owners(many) == owners
    assert owners == {
        first.id: "t1",
        "asked-of-provider": "t2",
        "provider-picked": "t2",
        moved.id: "t2",
        "saga-1": "t2",
        "recreated": "t1",
        "to-delete": "t1",
        "saga-2": "t1",
    }
