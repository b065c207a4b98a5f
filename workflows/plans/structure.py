"""A plan's structure, read once per process and reference revision (issue #9 §2, "责任分工 under 30 ms").

The structure is what the dashboard, the ledger's filters and the item pages read of a plan that only an
administrator changes: its items in order (with their measures, responsibilities, linked processes and targets),
each item's responsible rows (groups expanded to the units of the organisation), the linked processes' names, and
the plan unit's subtree (unit id → materialised path). Reading it cost ~11 ms per view on SQLite and ~15 ms on
PostgreSQL at the bench's scale, more than the dashboard's counts.

It is cached per process under (database, plan, reference token): workflows.models.reference replaces the token
whenever an ORM flush writes a unit, a department, a plan or a process version, so an entry is never used after
such a change commits. The cached objects are loaded in a session of their own and detached when it closes, every
attribute the pages read loaded: they are shared read-only between requests and threads, and never modified.
A session whose transaction sees another token than a fresh one (its own uncommitted change, or a change committed
meanwhile), or that is joined to an outer connection (the tests' rolled-back sessions), reads the structure itself.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from workflows.models import OrgUnit, Plan, PlanItem
from workflows.models.reference import current_token
from workflows.plans.responsibility import LinkedProcess, ResponsibleRow, linked_processes, plan_items, responsible_rows

CACHED_PLANS = 16  # entries kept per process (a federation has a few plans; old tokens fall out)
SETTLED_ENTRIES = 256  # settled figures kept per structure (scopes × periods viewed)
T = TypeVar("T")
_MISSING = object()


Seat = tuple[int, str | None]  # a unit, and the department of it that held a task (None: the unit as a whole)


def _ancestors(path: str) -> list[int]:
    """The unit's own id and its ancestors' (the materialised path includes the unit)."""
    return [int(part) for part in path.strip("/").split("/") if part]


class SeatKeys:
    """The row keys a seat (unit, department) belongs to within `units`: its own (a department row), and each
    ancestor's, itself included, as a unit working as a whole (a row covering its subtree; such rows have no
    department). Thousands of tally groups ask about the same few hundred seats and seat sets on every view, so the
    answers are kept with the structure they derive from (issue #9) and shared by its views; `touched_by` keeps
    workflows.plans.tally_reads.closed_case_groups' seat sets the same way. Entries are only ever added, each a
    function of its key, so threads sharing one need no lock."""

    def __init__(self, units: dict[int, str]) -> None:
        self.units = units
        self.ancestry = {unit_id: _ancestors(path) for unit_id, path in units.items()}
        self.of_seat: dict[Seat, frozenset[Seat]] = {}
        self.of_seats: dict[frozenset[Seat], frozenset[Seat]] = {}
        self.touched_by: dict[tuple[str, int], frozenset[Seat]] = {}

    def seat(self, unit_id: int, department_code: str | None) -> frozenset[Seat]:
        key = (unit_id, department_code)
        found = self.of_seat.get(key)
        if found is None:
            found = self.of_seat[key] = frozenset([key, *((ancestor, None) for ancestor in self.ancestry[unit_id])])
        return found

    def seats(self, seats: frozenset[Seat]) -> frozenset[Seat]:
        found = self.of_seats.get(seats)
        if found is None:
            found = self.of_seats[seats] = frozenset().union(*(self.seat(unit, dept) for unit, dept in seats))
        return found


@dataclass(frozen=True)
class PlanStructure:
    items: list[PlanItem]
    rows: dict[int, list[ResponsibleRow]]
    processes: dict[int, list[LinkedProcess]]
    units: dict[int, str]  # the plan unit's subtree: unit id → materialised path
    _seat_keys: dict[int | None, SeatKeys] = field(default_factory=dict, compare=False, repr=False)
    _settled: OrderedDict[Hashable, Any] = field(default_factory=OrderedDict, compare=False, repr=False)
    _settled_lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def settled(self, key: Hashable, compute: Callable[[], T]) -> T:
        """What `compute` gives for `key`, computed once per structure: figures of the past that no step changes any
        more (the closed cases of months that ended, workflows.plans.dashboard). A recount of the tallies replaces
        the reference token, and with it this structure. The SETTLED_ENTRIES used last are kept (the scopes, items
        and periods viewed); two threads missing the same key both compute it, and either answer is the same."""
        with self._settled_lock:
            found = self._settled.get(key, _MISSING)
            if found is not _MISSING:
                self._settled.move_to_end(key)
                return cast(T, found)
        computed = compute()
        with self._settled_lock:
            self._settled[key] = computed
            while len(self._settled) > SETTLED_ENTRIES:
                self._settled.popitem(last=False)
        return computed

    def seat_keys(self, own_unit_id: int | None = None) -> SeatKeys:
        """The seat keys of the whole plan unit, or of a district's view (`own_unit_id`: its subtree only, as
        tallies of units outside it cannot reach its row)."""
        found = self._seat_keys.get(own_unit_id)
        if found is None:
            units = self.units
            if own_unit_id is not None and own_unit_id in units:
                own_path = units[own_unit_id]
                units = {unit_id: path for unit_id, path in units.items() if path.startswith(own_path)}
            found = self._seat_keys[own_unit_id] = SeatKeys(units)
        return found


def plan_units(session: Session, plan: Plan) -> dict[int, str]:
    rows = session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.path.startswith(plan.issuing_unit.path)))
    return {unit_id: path for unit_id, path in rows}


def read_plan_structure(session: Session, plan: Plan) -> PlanStructure:
    """The plan's structure as `session` sees it (no cache)."""
    items = plan_items(session, plan)
    return PlanStructure(items, responsible_rows(session, plan, items), linked_processes(session, items),
                         plan_units(session, plan))  # fmt: skip


_cache: OrderedDict[tuple[str, int, str], PlanStructure] = OrderedDict()
_lock = threading.Lock()


def _remember(key: tuple[str, int, str], structure: PlanStructure) -> None:
    with _lock:
        _cache[key] = structure
        _cache.move_to_end(key)
        while len(_cache) > CACHED_PLANS:
            _cache.popitem(last=False)


def plan_structure(session: Session, plan: Plan) -> PlanStructure:
    """The plan's structure: from the process's cache when the session sees the committed reference revision."""
    bind = session.get_bind()
    if not isinstance(bind, Engine):
        return read_plan_structure(session, plan)
    token = current_token(session)
    if token is None:  # the row was deleted by hand: nothing to key a cached entry by
        return read_plan_structure(session, plan)
    database = bind.url.render_as_string(hide_password=True)
    with _lock:
        found = _cache.get((database, plan.id, token))
    if found is not None:
        return found
    with Session(bind, expire_on_commit=False) as loader:
        loaded_plan = loader.get(Plan, plan.id)
        if current_token(loader) != token or loaded_plan is None:
            return read_plan_structure(session, plan)
        structure = read_plan_structure(loader, loaded_plan)
        loader.commit()  # a read: COMMIT, unlike ROLLBACK, keeps the connection's prepared statements (psycopg)
    _remember((database, plan.id, token), structure)
    return structure


def forget_plan_structures() -> None:
    """Empty the cache (tests that compare a cold read with a warm one)."""
    with _lock:
        _cache.clear()
