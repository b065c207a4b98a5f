"""The department heads' dashboard of a responsibility plan (issue #8 "Dashboard for department heads").

For each work item and each responsible unit of it: open tasks, overdue tasks, tasks due within the yellow window,
cases completed in the period, the light (红黄灯), how often the unit was urged on the item (催办), and target
progress from live data (workflows.plans.metrics).

- Responsible rows: workflows.plans.responsibility (a department, a unit, or each unit of a group the plan names).
- A task belongs to a row when its case is the item's (a process the item links to, or a supervision case of the
  item) and its unit is the row's (a department row: that unit and department) or below it (a row of a unit that
  works as a whole: its subtree, so a grassroots union's task counts for its district).
- A case counts as completed for a row when it was completed in the period and touched the row: one of its tasks was
  the row's, or its home unit lies in the row's subtree.
- Open tasks are counted as of `now`, whatever the period (the period bounds completions and urges); their light is
  workflows.inbox.due_light's: red when overdue, yellow when due before the near-due limit, else green.

Issue #9 measures this page at a million task-index rows, so the counts come from tallies kept on the write path
(workflows.models.tally: open tasks by process, supervised item, seat and due day; closed cases by month and the set
of seats they touched), read with two grouped queries over the whole plan (workflows.plans.tally_reads) and
assigned to rows in Python, summed per item and seat first; never a query per row. Target progress reads each
metric once, grouped by unit, and sums it per row (workflows.plans.metrics.ProgressReader).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.inbox import Light
from workflows.models import (
    Plan,
    PlanItem,
    ResponsibilityRole,
)
from workflows.plans.metrics import ProgressReader, TargetProgress
from workflows.plans.periods import Period
from workflows.plans.responsibility import LinkedProcess, ResponsibleRow
from workflows.plans.structure import PlanStructure, Seat, SeatKeys, plan_structure
from workflows.plans.tally_reads import closed_case_groups, open_task_groups, supervised_counts, urge_groups

SUPERVISION = "supervision"
LIGHT_LABELS: dict[str, str] = {Light.RED.value: "红灯", Light.YELLOW.value: "黄灯", Light.GREEN.value: "绿灯"}


# --- Figures -------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    open_tasks: int = 0
    overdue: int = 0
    due_soon: int = 0
    completed_cases: int = 0
    urges: int = 0
    last_urge_at: datetime | None = None

    @property
    def light(self) -> Light:
        """红: anything overdue; 黄: anything due within the near-due window; 绿 otherwise."""
        if self.overdue:
            return Light.RED
        if self.due_soon:
            return Light.YELLOW
        return Light.GREEN

    @property
    def light_label(self) -> str:
        return LIGHT_LABELS[self.light.value]

    def add_open(self, total: int, overdue: int, due_soon: int) -> None:
        self.open_tasks += total
        self.overdue += overdue
        self.due_soon += due_soon

    def add_urges(self, count: int, last: datetime | None) -> None:
        self.urges += count
        if last is not None and (self.last_urge_at is None or last > self.last_urge_at):
            self.last_urge_at = last


@dataclass
class RowFigures:
    row: ResponsibleRow
    figures: Figures = field(default_factory=Figures)
    targets: list[TargetProgress] = field(default_factory=list)


@dataclass
class ItemFigures:
    item: PlanItem
    rows: list[RowFigures]
    totals: Figures  # the item inside the plan's unit (each task and case once), or the district's own row
    other: Figures  # tasks and cases of the item at units that are not responsible for it (e.g. 财务部 paying)
    targets: list[TargetProgress]
    processes: list[LinkedProcess]
    supervised: int  # supervised matters (督办事项) linked to the item

    @property
    def lead_label(self) -> str:
        leads = [row.row.responsibility_label for row in self.rows if row.row.role == ResponsibilityRole.LEAD]
        return "、".join(dict.fromkeys(leads))

    def row(self, org_unit_id: int, department_code: str | None) -> RowFigures | None:
        return next((r for r in self.rows if r.row.key == (org_unit_id, department_code or None)), None)


@dataclass
class PlanDashboard:
    plan: Plan
    period: Period
    now: datetime
    near_limit: datetime
    items: list[ItemFigures]

    def item(self, item_id: int) -> ItemFigures | None:
        return next((figures for figures in self.items if figures.item.id == item_id), None)


class _Assigner:
    """One item's rows by key: a seat belongs to the rows whose key is among the seat's keys
    (workflows.plans.structure.SeatKeys)."""

    def __init__(self, rows: Sequence[RowFigures]) -> None:
        self.by_key = {row.row.key: row for row in rows}  # responsible_rows gives each key once per item
        self.keys = frozenset(self.by_key)

    def rows_of_keys(self, keys: frozenset[Seat]) -> list[RowFigures]:
        """The item's rows among `keys`, each once (a case touching a row through a district and a grassroots union
        below it counts once)."""
        return [self.by_key[key] for key in keys & self.keys]

    def row_keys(self, keys: frozenset[Seat]) -> frozenset[Seat]:
        """The keys of the item's rows among `keys` (as rows_of_keys)."""
        return keys & self.keys


@dataclass
class ClosedCounts:
    """An item's closed cases: in all, at no responsible row (`other`), and per row key (a case once per row)."""

    total: int = 0
    other: int = 0
    rows: dict[Seat, int] = field(default_factory=dict)


def _closed_counts(
    by_seats: Mapping[tuple[int, frozenset[Seat]], int], assigners: Mapping[int, _Assigner], seat_keys: SeatKeys
) -> dict[int, ClosedCounts]:
    counts: dict[int, ClosedCounts] = defaultdict(ClosedCounts)
    for (item_id, seats), count in by_seats.items():
        item_counts = counts[item_id]
        touched = assigners[item_id].row_keys(seat_keys.seats(seats))
        rows = item_counts.rows
        for key in touched:
            rows[key] = rows.get(key, 0) + count
        item_counts.total += count
        if not touched:
            item_counts.other += count
    return dict(counts)


def split_settled(period: Period, now: datetime) -> tuple[Period | None, Period | None]:
    """The period's months that ended more than a day before `now` (Beijing), whose closed cases can no longer
    change (a step completing a case just before midnight may commit just after it), and the rest."""
    settled_before = (now.astimezone(SHANGHAI) - timedelta(days=1)).date().replace(day=1)
    if period.end < settled_before:
        return period, None
    if period.start >= settled_before:
        return None, period
    settled_end = settled_before - timedelta(days=1)
    return replace(period, end=settled_end), replace(period, start=settled_before)


def plan_dashboard(
    session: Session,
    plan: Plan,
    period: Period,
    *,
    now: datetime,
    near_limit: datetime,
    item_ids: Collection[int] | None = None,
    own_unit_id: int | None = None,
    row_targets: bool = False,
    structure: PlanStructure | None = None,
) -> PlanDashboard:
    """The figures of the plan's items (all, or `item_ids`) for the period, as of `now`.

    `structure`: the plan's items, rows and units (workflows.plans.structure) when the caller has them already.
    `own_unit_id`: a district union's view: its own row only, and the item's totals and targets are that row's.
    `row_targets`: also each unit row's target progress within its subtree (the item page, the ledger).
    `near_limit`: workflows.inbox.near_due_limit(now, NEAR_DUE_WORKING_DAYS, calendar_overrides(session)).
    """
    structure = structure if structure is not None else plan_structure(session, plan)
    items = [item for item in structure.items if item_ids is None or item.id in item_ids]
    all_rows, processes = structure.rows, structure.processes
    figures: dict[int, ItemFigures] = {}
    supervised = supervised_counts(session, [item.id for item in items]) if items else {}
    for item in items:
        rows = all_rows[item.id]
        if own_unit_id is not None:
            rows = [row for row in rows if row.org_unit.id == own_unit_id]
        figures[item.id] = ItemFigures(item, [RowFigures(row) for row in rows], Figures(), Figures(), [],
                                       processes[item.id], supervised.get(item.id, 0))  # fmt: skip
    if not items:
        return PlanDashboard(plan, period, now, near_limit, [])

    items_by_process: dict[str, list[int]] = defaultdict(list)
    for item in items:
        for link in item.processes:
            if link.process_key != SUPERVISION:
                items_by_process[link.process_key].append(item.id)
    ids = list(figures)

    def items_of(process_key: str, plan_item_id: int | None) -> list[int]:
        if process_key == SUPERVISION:
            return [plan_item_id] if plan_item_id in figures else []
        return items_by_process.get(process_key, [])

    whole_plan = own_unit_id is None  # a district's view has no totals beyond its own row
    # A district's view reads only its subtree's groups (issue #9: the busiest view, a district official's, skips the
    # rest of the plan's).
    seat_keys = structure.seat_keys(own_unit_id)
    units = seat_keys.units
    assigners = {item_id: _Assigner(item_figures.rows) for item_id, item_figures in figures.items()}
    # Groups are summed per item and seat (several processes share an item and a seat) before rows are looked up.
    open_by_seat: dict[tuple[int, int, str | None], tuple[int, int, int]] = {}
    for process_key, plan_item_id, unit_id, department, total, overdue, due_soon in open_task_groups(
        session, items_by_process, ids, now, near_limit, None if whole_plan else units
    ):
        if unit_id not in units:
            continue  # outside the plan's unit
        for item_id in items_of(process_key, plan_item_id):
            had = open_by_seat.get((item_id, unit_id, department), (0, 0, 0))
            open_by_seat[(item_id, unit_id, department)] = (had[0] + total, had[1] + overdue, had[2] + due_soon)
    for (item_id, unit_id, department), (total, overdue, due_soon) in open_by_seat.items():
        matched = assigners[item_id].rows_of_keys(seat_keys.seat(unit_id, department))
        for row in matched:
            row.figures.add_open(total, overdue, due_soon)
        if whole_plan:
            figures[item_id].totals.add_open(total, overdue, due_soon)
            if not matched:
                figures[item_id].other.add_open(total, overdue, due_soon)

    def closed_in(months: Period) -> dict[int, ClosedCounts]:
        by_seats: dict[tuple[int, frozenset[Seat]], int] = defaultdict(int)
        for (process_key, plan_item_id, seats), count in closed_case_groups(
            session, items_by_process, ids, months, units, touched_by=seat_keys.touched_by
        ).items():
            for item_id in items_of(process_key, plan_item_id):
                by_seats[(item_id, seats)] += count
        return _closed_counts(by_seats, assigners, seat_keys)

    # Completions are final and counted in their own month: a month that ended is read once per structure and view
    # (issue #9: the year's closed cases were the whole-plan view's costliest read), the current one every time.
    settled, live = split_settled(period, now)
    parts = [] if live is None else [closed_in(live)]
    if settled is not None:
        key = (own_unit_id, tuple(ids), settled.start, settled.end)
        parts.append(structure.settled(key, lambda: closed_in(settled)))
    for part in parts:
        for item_id, counts in part.items():
            by_key = assigners[item_id].by_key
            for row_key, count in counts.rows.items():
                by_key[row_key].figures.completed_cases += count
            if whole_plan:
                figures[item_id].totals.completed_cases += counts.total
                figures[item_id].other.completed_cases += counts.other

    for item_id, unit_id, department, count, last in urge_groups(session, ids, period):
        row_figures = figures[item_id].row(unit_id, department)
        if row_figures is not None:
            row_figures.figures.add_urges(count, last)
        if whole_plan:
            figures[item_id].totals.add_urges(count, last)

    shown_targets = [target for item in items for target in item.targets]
    progress = ProgressReader(session, plan.issuing_unit_id, units, shown_targets)
    for item in items:
        item_figures = figures[item.id]
        if not whole_plan:
            # A district sees its own row's figures as the item's, and its own progress.
            own = item_figures.rows[0] if item_figures.rows else None
            if own is not None:
                item_figures.totals = own.figures
                item_figures.targets = progress.row_progress(item, own.row, period)
        else:
            item_figures.targets = [progress.progress(target, period, plan.issuing_unit) for target in item.targets]
        if row_targets:
            for row_figures in item_figures.rows:
                row_figures.targets = progress.row_progress(item, row_figures.row, period)
    return PlanDashboard(plan, period, now, near_limit, [figures[item.id] for item in items])
