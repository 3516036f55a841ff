"""The service's database in memory: the store port (`service.ports.store`) for the twin.

Owns the tables — appointments and reschedule holds, idempotency keys, outbox rows, saga steps —
and their rules, the same ones SQL enforces: the overlap rule over booked, guarded rows of a
resource, whatever their tenant (`SlotTaken` on insert and on save), unique keys per tenant, versioned saves
(`StaleWrite`), outbox leases claimed oldest-due first. `tests/stores/` runs one contract suite
on this store, SQLite and PostgreSQL alike. Must not decide outcomes (the flows in
`service/booking` and `service/relay` do) and must not wait: the twin charges a transaction's
time before it begins (`sim.timed_store`), then runs it whole.

Transactions: one at a time and never interleaved (nothing in a transaction awaits anything that
suspends), so each is serializable by construction. A write transaction keeps an undo log; an
exception rolls it back whole, as SQL does. Records handed out are immutable snapshots.

Indexes keep the hot operations proportional to what they touch, not to the table: booked slots
per resource sorted by start (an overlap probe looks at the slots that could reach the
new one: starts within the longest slot seen before its end), appointment ids per (tenant,
resource) in id order (pages), and the outbox as two heaps — due times of unclaimed rows, lease
ends of claimed ones — whose entries are checked against the row when popped.
Pure: time arrives as `now`; no randomness.
"""

from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import operator
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

from service.booking.answers import Answer
from service.booking.model import Appointment
from service.ports.store import (
    KIND_APPOINTMENT,
    KIND_HOLD,
    KeyTaken,
    OutboxRow,
    SlotTaken,
    StaleWrite,
    StoredKey,
)
from service.resilience.idempotency import KeyRecord, KeyState, complete
from service.resilience.lifecycle import AppointmentStatus

BOOKED = AppointmentStatus.BOOKED
_new_object = object.__new__


class _Stored:
    """An appointments row: the appointment and the columns the model does not carry, with its
    slot as epoch seconds (what the overlap index compares)."""

    __slots__ = ("appointment", "kind", "hold_for", "guarded", "start_ts", "end_ts")

    def __init__(
        self,
        appointment: Appointment,
        kind: str,
        hold_for: str | None,
        guarded: bool,
        start_ts: float,
        end_ts: float,
    ) -> None:
        self.appointment = appointment
        self.kind = kind
        self.hold_for = hold_for
        self.guarded = guarded
        self.start_ts = start_ts
        self.end_ts = end_ts


class _Slots:
    """The booked rows of one resource (of every tenant), by start time."""

    __slots__ = ("starts", "rows", "longest_s")

    def __init__(self) -> None:
        self.starts: list[tuple[float, str]] = []  # (start, appointment id), sorted
        self.rows: dict[str, _Stored] = {}
        self.longest_s = 0.0

    def add(self, row: _Stored) -> None:
        appointment_id = row.appointment.id
        bisect.insort(self.starts, (row.start_ts, appointment_id))
        self.rows[appointment_id] = row
        length = row.end_ts - row.start_ts
        if length > self.longest_s:
            self.longest_s = length

    def discard(self, row: _Stored) -> None:
        appointment_id = row.appointment.id
        if self.rows.pop(appointment_id, None) is None:
            return
        entry = (row.start_ts, appointment_id)
        index = bisect.bisect_left(self.starts, entry)
        if index < len(self.starts) and self.starts[index] == entry:
            del self.starts[index]

    def overlapping(self, start_ts: float, end_ts: float, guarded_only: bool) -> Iterator[_Stored]:
        """Rows whose [start, end) overlaps [start_ts, end_ts)."""
        starts = self.starts
        index = bisect.bisect_right(starts, (start_ts - self.longest_s, ""))
        rows = self.rows
        while index < len(starts):
            other_start, other_id = starts[index]
            if other_start >= end_ts:
                return
            row = rows[other_id]
            if row.end_ts > start_ts and (row.guarded or not guarded_only):
                yield row
            index += 1


class _Row:
    """An outbox row as stored (mutable); `snapshot` is what a transaction hands out."""

    __slots__ = (
        "id",
        "tenant_id",
        "appointment_id",
        "event_type",
        "payload",
        "attempts",
        "next_attempt_at",
        "claimed_until",
        "last_error",
        "dead_lettered",
        "ambiguous_seen",
        "completed_at",
    )

    def snapshot(self) -> OutboxRow:
        row = _new_object(OutboxRow)
        row.__dict__.update(zip(_ROW_FIELDS, _row_values(self), strict=True))
        return row

    def values(self) -> tuple[Any, ...]:
        return _row_values(self)  # type: ignore[no-any-return]

    def restore(self, values: tuple[Any, ...]) -> None:
        for name, value in zip(_Row.__slots__, values, strict=True):
            setattr(self, name, value)

    @property
    def is_open(self) -> bool:
        return self.completed_at is None and not self.dead_lettered


_ROW_FIELDS = _Row.__slots__
_row_values = operator.attrgetter(*_ROW_FIELDS)


class _KeyEntry:
    __slots__ = ("record", "appointment_id", "response")

    def __init__(
        self, record: KeyRecord, appointment_id: str | None, response: Answer | None = None
    ) -> None:
        self.record = record
        self.appointment_id = appointment_id
        self.response = response


class MemoryStore:
    """`service.ports.store.Store` in memory. `write()`/`read()` run transactions with no wait
    (asyncio tests, the contract suite); the twin calls `begin` through its timed store."""

    def __init__(self) -> None:
        self.rows: dict[str, _Stored] = {}  # appointments and holds by id
        self._slots: dict[str, _Slots] = {}  # booked rows per resource, of every tenant
        self._ids: dict[tuple[str, str], list[str]] = {}  # appointment ids per tenant, resource
        self.keys: dict[tuple[str, str], _KeyEntry] = {}
        self.outbox: dict[int, _Row] = {}
        self.open_rows: dict[int, _Row] = {}  # not done, not dead-lettered
        self.dead_lettered = 0
        self._rows_of: dict[str, list[_Row]] = {}  # appointment id → its outbox rows
        self._due: list[tuple[float, int]] = []  # (next_attempt_at, id) of unclaimed rows
        self._leased: list[tuple[float, int]] = []  # (claimed_until, id) of claimed rows
        self._next_row_id = itertools.count(1)
        self.saga_log: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def write(self) -> MemoryTransaction:
        """`async with store.write() as tx`: a transaction with no wait, committed at the end."""
        return MemoryTransaction(self, True)

    def read(self) -> MemoryTransaction:
        return MemoryTransaction(self, False)

    # -- appointments as the twin's evidence reads them ---------------------------------------
    def appointments(self) -> list[Appointment]:
        """Every appointment (holds excluded), by id."""
        listed = [r.appointment for r in self.rows.values() if r.kind == KIND_APPOINTMENT]
        listed.sort(key=_by_id)
        return listed

    # -- index upkeep (used by transactions) -------------------------------------------------
    def _index(self, row: _Stored) -> None:
        appointment = row.appointment
        if appointment.status is BOOKED:
            key = appointment.resource_id
            slots = self._slots.get(key)
            if slots is None:
                slots = self._slots[key] = _Slots()
            slots.add(row)

    def _unindex(self, row: _Stored) -> None:
        slots = self._slots.get(row.appointment.resource_id)
        if slots is not None:
            slots.discard(row)

    def _check_slot(self, row: _Stored, ignore_id: str | None) -> None:
        """SlotTaken when a guarded booked row other than `ignore_id` overlaps `row`."""
        appointment = row.appointment
        if not row.guarded or appointment.status is not BOOKED:
            return
        slots = self._slots.get(appointment.resource_id)
        if slots is None:
            return
        start_ts, end_ts = row.start_ts, row.end_ts
        starts = slots.starts
        rows = slots.rows
        index = bisect.bisect_right(starts, (start_ts - slots.longest_s, ""))
        count = len(starts)
        while index < count:
            other_start, other_id = starts[index]
            if other_start >= end_ts:
                return
            other = rows[other_id]
            if other.end_ts > start_ts and other.guarded and other_id != ignore_id:
                raise SlotTaken(appointment.resource_id)
            index += 1

    def _push_row(self, row: _Row) -> None:
        if row.claimed_until is None:
            heapq.heappush(self._due, (row.next_attempt_at, row.id))
        else:
            heapq.heappush(self._leased, (row.claimed_until, row.id))


def _by_id(appointment: Appointment) -> str:
    return appointment.id


class ReadOnly(Exception):
    """A read transaction tried to write."""


class _Done:
    """An awaitable already done (None): `__aexit__` has nothing to wait for."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, Any, None]:
        return iter(())  # type: ignore[return-value]


_DONE = _Done()


class MemoryTransaction:
    """One transaction (`service.ports.store.Transaction`), and its own async context manager:
    it commits when the block ends and rolls back on an exception, undoing its writes in
    reverse order (the undo log holds `(function, *arguments)` entries)."""

    __slots__ = ("store", "writable", "_undo")

    def __init__(self, store: MemoryStore, writable: bool) -> None:
        self.store = store
        self.writable = writable
        self._undo: list[tuple[Any, ...]] = []

    async def __aenter__(self) -> MemoryTransaction:
        return self

    def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> _Done:
        self.end(exc_type is None)
        return _DONE

    def end(self, commit: bool) -> None:
        undo = self._undo
        if undo and not commit:
            while undo:
                entry = undo.pop()
                entry[0](*entry[1:])

    def _writing(self) -> list[tuple[Any, ...]]:
        if not self.writable:
            raise ReadOnly("a read transaction cannot write; use store.write()")
        return self._undo

    # -- appointments ------------------------------------------------------------------------
    async def get_appointment(
        self, tenant_id: str, appointment_id: str, *, for_update: bool = False
    ) -> Appointment | None:
        row = self.store.rows.get(appointment_id)
        if row is None or row.kind != KIND_APPOINTMENT:
            return None
        appointment = row.appointment
        return appointment if appointment.tenant_id == tenant_id else None

    async def insert_appointment(
        self,
        appointment: Appointment,
        *,
        guarded: bool = True,
        kind: str = KIND_APPOINTMENT,
        hold_for: str | None = None,
    ) -> None:
        undo = self._writing()
        store = self.store
        if appointment.id in store.rows:
            raise ValueError(f"appointment id {appointment.id} already exists")
        row = _Stored(
            appointment,
            kind,
            hold_for,
            guarded,
            appointment.start_time.timestamp(),
            appointment.end_time.timestamp(),
        )
        store._check_slot(row, None)
        store.rows[appointment.id] = row
        store._index(row)
        ids: list[str] | None = None
        if kind == KIND_APPOINTMENT:
            key = (appointment.tenant_id, appointment.resource_id)
            ids = store._ids.get(key)
            if ids is None:
                ids = store._ids[key] = []
            bisect.insort(ids, appointment.id)
        undo.append((_undo_insert, store, row, ids))

    async def save_appointment(self, before: Appointment, after: Appointment) -> Appointment:
        undo = self._writing()
        store = self.store
        old = store.rows.get(before.id)
        if old is None or old.appointment.version != before.version:
            raise StaleWrite(f"appointment {before.id} changed since version {before.version}")
        saved = after.evolve(version=before.version + 1)
        previous = old.appointment
        same_slot = saved.start_time == previous.start_time and saved.end_time == previous.end_time
        row = _Stored(
            saved,
            old.kind,
            old.hold_for,
            old.guarded,
            old.start_ts if same_slot else saved.start_time.timestamp(),
            old.end_ts if same_slot else saved.end_time.timestamp(),
        )
        moved = not same_slot or saved.status is not previous.status
        if moved:
            store._check_slot(row, before.id)
            store._unindex(old)
            store._index(row)
        store.rows[before.id] = row
        undo.append((_undo_save, store, before.id, old, row, moved))
        return saved

    async def overlaps(self, resource_id: str, start: dt.datetime, end: dt.datetime) -> bool:
        slots = self.store._slots.get(resource_id)
        if slots is None:
            return False
        found = slots.overlapping(start.timestamp(), end.timestamp(), guarded_only=False)
        return next(found, None) is not None

    async def delete_hold(self, hold_id: str) -> None:
        undo = self._writing()
        store = self.store
        row = store.rows.get(hold_id)
        if row is None or row.kind != KIND_HOLD:
            return
        del store.rows[hold_id]
        store._unindex(row)
        undo.append((_undo_delete_hold, store, row))

    async def list_appointments(
        self,
        tenant_id: str,
        *,
        resource_id: str | None,
        window_from: dt.datetime | None,
        window_to: dt.datetime | None,
        after: str | None,
        limit: int,
    ) -> Sequence[Appointment]:
        store = self.store
        if resource_id is not None:
            lists = [store._ids.get((tenant_id, resource_id), [])]
        else:
            lists = [ids for (tenant, _), ids in store._ids.items() if tenant == tenant_id]
        rows = store.rows
        if len(lists) == 1 and window_from is None and window_to is None:
            ids = lists[0]
            start = bisect.bisect_right(ids, after) if after is not None else 0
            return [rows[i].appointment for i in ids[start : start + limit]]
        from_ts = window_from.timestamp() if window_from is not None else None
        to_ts = window_to.timestamp() if window_to is not None else None
        page: list[Appointment] = []
        ordered = (
            heapq.merge(*(_from(ids, after) for ids in lists))
            if len(lists) > 1
            else (_from(lists[0], after) if lists else iter(()))
        )
        for appointment_id in ordered:
            row = store.rows[appointment_id]
            if from_ts is not None and row.end_ts <= from_ts:
                continue
            if to_ts is not None and row.start_ts >= to_ts:
                continue
            page.append(row.appointment)
            if len(page) >= limit:
                break
        return page

    async def all_appointments(self) -> Sequence[Appointment]:
        return [r.appointment for r in self.store.rows.values() if r.kind == KIND_APPOINTMENT]

    async def event_owners(self, identities: Iterable[str]) -> dict[str, str]:
        # A scan, as SQL's lookups are indexed: the reconciler asks once a pass, and an index
        # kept up on every create would cost the twin's hot path for a rare question.
        wanted = set(identities)
        owners: dict[str, str] = {}
        store = self.store
        for row in store.rows.values():
            if row.kind != KIND_APPOINTMENT:
                continue
            a = row.appointment
            for identity in (a.id, a.event_id, a.external_id):
                if identity in wanted:
                    owners.setdefault(identity, a.tenant_id)
        for (tenant_id, _), steps in store.saga_log.items():
            for step in steps:
                if step["saga_id"] in wanted:
                    owners.setdefault(step["saga_id"], tenant_id)
        for outbox_row in store.outbox.values():
            payload = outbox_row.payload
            event_id = payload.get("event_id") or payload.get("spec", {}).get("event_id")
            if event_id is not None and str(event_id) in wanted:
                owners.setdefault(str(event_id), outbox_row.tenant_id)
        return owners

    # -- idempotency keys --------------------------------------------------------------------
    async def load_key(
        self, tenant_id: str, key: str, *, for_update: bool = False
    ) -> StoredKey | None:
        entry = self.store.keys.get((tenant_id, key))
        if entry is None:
            return None
        return StoredKey(entry.record, entry.appointment_id, entry.response)

    async def insert_key(
        self,
        tenant_id: str,
        record: KeyRecord,
        appointment_id: str | None,
        *,
        replace_expired: bool = False,
    ) -> None:
        undo = self._writing()
        keys = self.store.keys
        name = (tenant_id, record.key)
        old = keys.get(name)
        if old is not None and not replace_expired:
            raise KeyTaken(record.key)
        keys[name] = _KeyEntry(record, appointment_id)
        undo.append((_undo_key, keys, name, old))

    async def complete_key(self, tenant_id: str, key: str, answer: Answer) -> None:
        undo = self._writing()
        entry = self.store.keys.get((tenant_id, key))
        if entry is None or entry.record.state is not KeyState.IN_FLIGHT:
            return
        before = (entry.record, entry.response)
        # The answer itself is kept, not its JSON: nothing in the twin renders a body.
        entry.record = complete(entry.record, answer.status, None)
        entry.response = answer
        undo.append((_undo_complete_key, entry, before))

    # -- outbox ------------------------------------------------------------------------------
    async def enqueue(
        self,
        *,
        tenant_id: str,
        appointment_id: str,
        event_type: str,
        payload: dict[str, Any],
        due_at: float,
        now: float,
        claimed_until: float | None = None,
    ) -> int:
        undo = self._writing()
        store = self.store
        row = _new_object(_Row)
        row.id = next(store._next_row_id)
        row.tenant_id = tenant_id
        row.appointment_id = appointment_id
        row.event_type = event_type
        row.payload = payload
        row.attempts = 0
        row.next_attempt_at = due_at
        row.claimed_until = claimed_until
        row.last_error = None
        row.dead_lettered = False
        row.ambiguous_seen = False
        row.completed_at = None
        store.outbox[row.id] = row
        store.open_rows[row.id] = row
        rows_of = store._rows_of.get(appointment_id)
        if rows_of is None:
            rows_of = store._rows_of[appointment_id] = []
        rows_of.append(row)
        store._push_row(row)
        undo.append((_undo_enqueue, store, row, rows_of))
        return row.id

    def _change(self, row: _Row) -> None:
        """Register the undo of the changes about to be made to `row`."""
        self._writing().append((_undo_row_change, self.store, row, row.values(), row.is_open))

    async def claim_due(self, now: float, lease_s: float, limit: int) -> Sequence[OutboxRow]:
        self._writing()
        store = self.store
        open_rows = store.open_rows
        leased = store._leased
        due = store._due
        while leased and leased[0][0] <= now:  # leases that ran out: the rows are free again
            until, row_id = heapq.heappop(leased)
            row = open_rows.get(row_id)
            if row is not None and row.claimed_until == until:
                heapq.heappush(due, (row.next_attempt_at, row_id))
        claimed: list[OutboxRow] = []
        while due and due[0][0] <= now and len(claimed) < limit:
            due_at, row_id = heapq.heappop(due)
            row = open_rows.get(row_id)
            if (
                row is None
                or row.next_attempt_at != due_at
                or (row.claimed_until is not None and row.claimed_until > now)
            ):
                continue  # done, rescheduled or claimed since: its current entry stands
            claimed.append(row.snapshot())  # as read, before the lease (as SQL returns it)
            self._change(row)
            row.claimed_until = now + lease_s
            heapq.heappush(leased, (row.claimed_until, row_id))
        return claimed

    async def get_row(self, row_id: int, *, for_update: bool = False) -> OutboxRow | None:
        row = self.store.outbox.get(row_id)
        return row.snapshot() if row is not None else None

    async def complete_row(self, row_id: int, now: float) -> bool:
        store = self.store
        row = store.open_rows.get(row_id)
        if row is None:
            return False
        self._change(row)
        row.completed_at = now
        row.claimed_until = None
        del store.open_rows[row_id]
        return True

    async def record_failure(
        self,
        row_id: int,
        *,
        attempts: int,
        next_attempt_at: float | None,
        error: str,
        ambiguous: bool,
    ) -> None:
        store = self.store
        row = store.open_rows.get(row_id)
        if row is None:
            self._writing()
            return
        self._change(row)
        row.attempts = attempts
        row.last_error = error[:2000]
        row.claimed_until = None
        row.ambiguous_seen = ambiguous
        if next_attempt_at is None:
            row.dead_lettered = True
            store.dead_lettered += 1
            del store.open_rows[row_id]
        else:
            row.next_attempt_at = next_attempt_at
            store._push_row(row)

    async def release_row(self, row_id: int, *, ambiguous: bool) -> None:
        store = self.store
        row = store.open_rows.get(row_id)
        if row is None:
            self._writing()
            return
        self._change(row)
        row.claimed_until = None
        if ambiguous:
            row.ambiguous_seen = True
        store._push_row(row)

    async def supersede(
        self, appointment_id: str, event_types: Iterable[str], now: float
    ) -> list[OutboxRow]:
        self._writing()
        store = self.store
        types = tuple(event_types)
        moot: list[OutboxRow] = []
        for row in store._rows_of.get(appointment_id, ()):
            if row.is_open and row.event_type in types:
                moot.append(row.snapshot())
                self._change(row)
                row.completed_at = now
                row.claimed_until = None
                row.last_error = "superseded"
                del store.open_rows[row.id]
        return moot

    async def open_rows(self, appointment_id: str) -> Sequence[OutboxRow]:
        return [r.snapshot() for r in self.store._rows_of.get(appointment_id, ()) if r.is_open]

    async def all_open_rows(self) -> Sequence[OutboxRow]:
        return [r.snapshot() for r in sorted(self.store.open_rows.values(), key=_row_id)]

    async def outbox_counts(self, tenant_id: str | None = None) -> tuple[int, int]:
        store = self.store
        if tenant_id is None:
            return len(store.open_rows), store.dead_lettered
        open_count = sum(1 for r in store.open_rows.values() if r.tenant_id == tenant_id)
        dead = sum(1 for r in store.outbox.values() if r.dead_lettered and r.tenant_id == tenant_id)
        return open_count, dead

    async def dead_letters(self, tenant_id: str | None = None) -> Sequence[OutboxRow]:
        return [
            r.snapshot()
            for r in self.store.outbox.values()
            if r.dead_lettered and (tenant_id is None or r.tenant_id == tenant_id)
        ]

    # -- sagas -------------------------------------------------------------------------------
    async def record_saga_step(
        self,
        *,
        tenant_id: str,
        saga_id: str,
        appointment_id: str,
        step: str,
        state: str,
        now: float,
        detail: dict[str, Any] | None = None,
    ) -> None:
        undo = self._writing()
        steps = self.store.saga_log.setdefault((tenant_id, appointment_id), [])
        steps.append(
            {"saga_id": saga_id, "step": step, "state": state, "detail": detail, "at": now}
        )
        undo.append(steps.pop)

    async def saga_steps(self, tenant_id: str, appointment_id: str) -> Sequence[dict[str, Any]]:
        return [dict(s) for s in self.store.saga_log.get((tenant_id, appointment_id), ())]


# -- undo log entries: (function, *arguments), run in reverse order on a rollback ------------
def _undo_insert(store: MemoryStore, row: _Stored, ids: list[str] | None) -> None:
    del store.rows[row.appointment.id]
    store._unindex(row)
    if ids is not None:
        ids.remove(row.appointment.id)


def _undo_save(
    store: MemoryStore, appointment_id: str, old: _Stored, new: _Stored, moved: bool
) -> None:
    store.rows[appointment_id] = old
    if moved:
        store._unindex(new)
        store._index(old)


def _undo_delete_hold(store: MemoryStore, row: _Stored) -> None:
    store.rows[row.appointment.id] = row
    store._index(row)


def _undo_key(keys: dict[Any, _KeyEntry], name: Any, old: _KeyEntry | None) -> None:
    if old is None:
        del keys[name]
    else:
        keys[name] = old


def _undo_complete_key(entry: _KeyEntry, before: tuple[KeyRecord, Answer | None]) -> None:
    entry.record, entry.response = before


def _undo_enqueue(store: MemoryStore, row: _Row, rows_of: list[_Row]) -> None:
    del store.outbox[row.id]
    store.open_rows.pop(row.id, None)
    rows_of.remove(row)  # its heap entry finds no row and is skipped


def _undo_row_change(
    store: MemoryStore, row: _Row, values: tuple[Any, ...], was_open: bool
) -> None:
    was_dead = row.dead_lettered
    row.restore(values)
    if row.dead_lettered != was_dead:
        store.dead_lettered += 1 if row.dead_lettered else -1
    if was_open:
        store.open_rows[row.id] = row
    else:
        store.open_rows.pop(row.id, None)
    store._push_row(row)


def _row_id(row: _Row) -> int:
    return row.id


def _from(ids: list[str], after: str | None) -> Iterator[str]:
    start = bisect.bisect_right(ids, after) if after is not None else 0
    return itertools.islice(ids, start, None)
