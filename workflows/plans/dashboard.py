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

Issue #9 measures this page at a million task-index rows, so the counts are a few grouped queries over the whole
plan (open tasks by process, supervision item, unit and department; closed cases by the set of units they touched),
assigned to rows in Python; never a query per row. Target progress is a query per target (per row on the item page
and in the ledger only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import String, and_, case, cast, func, or_, select
from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.inbox import Light
from workflows.models import (
    InstanceStatus,
    OrgUnit,
    Plan,
    PlanItem,
    PlanUrge,
    ProcessInstance,
    ResponsibilityRole,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
)
from workflows.plans.metrics import TargetProgress, row_progress, target_progress
from workflows.plans.periods import Period
from workflows.plans.responsibility import LinkedProcess, ResponsibleRow, linked_processes, plan_items, responsible_rows

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


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """The period as [start, end) instants: Beijing midnight of its first day to that after its last."""
    start = datetime.combine(period.start, time.min, tzinfo=SHANGHAI)
    end = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    return start, end


def _ancestors(path: str) -> list[int]:
    """The unit's own id and its ancestors' (the materialised path includes the unit)."""
    return [int(part) for part in path.strip("/").split("/") if part]


class _Assigner:
    """Maps a (unit, department) to the rows of one item it belongs to, by the unit's ancestors."""

    def __init__(self, rows: Sequence[RowFigures]) -> None:
        self.exact: dict[tuple[int, str | None], list[RowFigures]] = defaultdict(list)
        self.subtree: dict[int, list[RowFigures]] = defaultdict(list)
        for row in rows:
            if row.row.covers_subtree:
                self.subtree[row.row.org_unit.id].append(row)
            else:
                self.exact[row.row.key].append(row)

    def rows_of(self, unit_id: int, path: str, department_code: str | None) -> list[RowFigures]:
        found = list(self.exact.get((unit_id, department_code), ()))
        for ancestor in _ancestors(path):
            found += self.subtree.get(ancestor, ())
        return found


def _plan_units(session: Session, plan: Plan) -> dict[int, str]:
    """The plan unit's subtree: unit id → materialised path (rows are matched by the path's ancestors)."""
    rows = session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.path.startswith(plan.issuing_unit.path)))
    return {unit_id: path for unit_id, path in rows}


# (process, supervised item, unit, department, open, overdue, due soon)
OpenGroup = tuple[str, int | None, int, str | None, int, int, int]


def _open_task_groups(
    session: Session, keys: Collection[str], item_ids: Collection[int], now: datetime, near: datetime
) -> list[OpenGroup]:
    """Open tasks of the plan's cases, counted by process (supervision cases: by supervised item), unit and department,
    with how many are overdue and how many due within the yellow window (as due_light; no due date counts as neither).
    Groups of units outside the plan's unit are left for the caller to drop.

    Issue #9: one pass over the partial index of open tasks (ix_task_index_open), grouped in its own order, so neither
    database sorts or reads the table; the supervision join is made only for supervision tasks.
    """
    overdue = func.sum(case((TaskIndexEntry.due_at < now, 1), else_=0))
    due_soon = func.sum(case((and_(TaskIndexEntry.due_at >= now, TaskIndexEntry.due_at <= near), 1), else_=0))
    is_open = TaskIndexEntry.status == TaskStatus.READY.value
    seat = (TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
    groups: list[OpenGroup] = []
    if keys:
        by_process = (
            select(TaskIndexEntry.process_key, *seat, func.count(), overdue, due_soon)
            .where(is_open, TaskIndexEntry.process_key.in_(list(keys)))
            .group_by(TaskIndexEntry.process_key, *seat)
        )
        groups += [(key, None, unit, department, total, late or 0, soon or 0)
                   for key, unit, department, total, late, soon in session.execute(by_process)]  # fmt: skip
    if item_ids:
        by_matter = (
            select(SupervisionItem.plan_item_id, *seat, func.count(), overdue, due_soon)
            .join(SupervisionItem, SupervisionItem.instance_id == TaskIndexEntry.instance_id)
            .where(is_open, TaskIndexEntry.process_key == SUPERVISION, SupervisionItem.plan_item_id.in_(list(item_ids)))
            .group_by(SupervisionItem.plan_item_id, *seat)
        )
        groups += [(SUPERVISION, item_id, unit, department, total, late or 0, soon or 0)
                   for item_id, unit, department, total, late, soon in session.execute(by_matter)]  # fmt: skip
    return groups


Seat = tuple[int, str | None]  # a unit, and the department of it that held a task (None: the unit as a whole)
SEAT_SEPARATOR, LIST_SEPARATOR = ":", ","  # neither occurs in a department code


def _seats(text: str | None) -> set[Seat]:
    return {
        (int(unit), department or None)
        for unit, _, department in (part.partition(SEAT_SEPARATOR) for part in (text or "").split(LIST_SEPARATOR))
        if unit
    }


def _closed_case_groups(
    session: Session, keys: Collection[str], item_ids: Collection[int], period: Period, units: Collection[int]
) -> dict[tuple[str, int | None, frozenset[Seat]], int]:
    """Cases of the plan's processes (and supervision cases of its items) completed in the period, counted by process,
    supervised item and the set of seats inside the plan's unit (`units`) they touched: their tasks' units and
    departments, and their home unit as a whole. Cases that touched none are left out.

    Issue #9: cases with the same seats count alike, so the database lists each case's distinct seats (from the task
    index's (instance, unit, department) index, never the table) as one text and counts cases per text and home unit;
    Python assigns a few hundred groups to rows instead of every case's every task.
    """
    start, end = period_bounds(period)
    matters = select(SupervisionItem.instance_id).where(SupervisionItem.plan_item_id.in_(list(item_ids)))
    closed = (
        ProcessInstance.status == InstanceStatus.COMPLETED.value,
        ProcessInstance.completed_at >= start,
        ProcessInstance.completed_at < end,
        or_(
            ProcessInstance.process_key.in_(list(keys)),
            and_(ProcessInstance.process_key == SUPERVISION, ProcessInstance.id.in_(matters)),
        ),
    )
    seat_columns = (TaskIndexEntry.instance_id, TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
    seats = (
        select(*seat_columns).join(ProcessInstance, ProcessInstance.id == TaskIndexEntry.instance_id).where(*closed)
        .group_by(*seat_columns)  # each seat once per case
        .subquery()
    )  # fmt: skip
    seat_text = cast(seats.c.org_unit_id, String) + SEAT_SEPARATOR + func.coalesce(seats.c.department_code, "")
    per_case = (
        select(seats.c.instance_id, func.aggregate_strings(seat_text, LIST_SEPARATOR).label("seats"))
        .group_by(seats.c.instance_id)
        .subquery()
    )
    grouped = (
        ProcessInstance.process_key,
        SupervisionItem.plan_item_id,
        ProcessInstance.home_unit_id,
        per_case.c.seats,
    )
    query = (
        select(*grouped, func.count())
        .outerjoin(per_case, per_case.c.instance_id == ProcessInstance.id)
        .outerjoin(SupervisionItem, SupervisionItem.instance_id == ProcessInstance.id)
        .where(*closed)
        .group_by(*grouped)
    )
    # The order of a case's seats in its text is the database's: equal sets are merged here.
    inside = set(units)
    groups: dict[tuple[str, int | None, frozenset[Seat]], int] = defaultdict(int)
    for process_key, plan_item_id, home_unit_id, text, count in session.execute(query):
        touched = frozenset(seat for seat in _seats(text) | {(home_unit_id, None)} if seat[0] in inside)
        if touched:
            groups[(process_key, plan_item_id, touched)] += count
    return groups


def _urge_groups(
    session: Session, item_ids: Collection[int], period: Period
) -> list[tuple[int, int, str | None, int, datetime | None]]:
    start, end = period_bounds(period)
    rows = session.execute(
        select(PlanUrge.item_id, PlanUrge.org_unit_id, PlanUrge.department_code, func.count(),
               func.max(PlanUrge.created_at))
        .where(PlanUrge.item_id.in_(list(item_ids)), PlanUrge.created_at >= start, PlanUrge.created_at < end)
        .group_by(PlanUrge.item_id, PlanUrge.org_unit_id, PlanUrge.department_code)
    ).all()  # fmt: skip
    return [tuple(row) for row in rows]  # type: ignore[misc]


def _supervised_counts(session: Session, item_ids: Collection[int]) -> dict[int, int]:
    rows = session.execute(
        select(SupervisionItem.plan_item_id, func.count())
        .where(SupervisionItem.plan_item_id.in_(list(item_ids)))
        .group_by(SupervisionItem.plan_item_id)
    )
    return {item_id: count for item_id, count in rows if item_id is not None}


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
) -> PlanDashboard:
    """The figures of the plan's items (all, or `item_ids`) for the period, as of `now`.

    `own_unit_id`: a district union's view: its own row only, and the item's totals and targets are that row's.
    `row_targets`: also each unit row's target progress within its subtree (the item page, the ledger).
    `near_limit`: workflows.inbox.near_due_limit(now, NEAR_DUE_WORKING_DAYS, calendar_overrides(session)).
    """
    items = [item for item in plan_items(session, plan) if item_ids is None or item.id in item_ids]
    all_rows = responsible_rows(session, plan, items)
    figures: dict[int, ItemFigures] = {}
    processes = linked_processes(session, items)
    supervised = _supervised_counts(session, [item.id for item in items]) if items else {}
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
    assigners = {item_id: _Assigner(item_figures.rows) for item_id, item_figures in figures.items()}

    def items_of(process_key: str, plan_item_id: int | None) -> list[int]:
        if process_key == SUPERVISION:
            return [plan_item_id] if plan_item_id in figures else []
        return items_by_process.get(process_key, [])

    whole_plan = own_unit_id is None  # a district's view has no totals beyond its own row
    units = _plan_units(session, plan)
    for process_key, plan_item_id, unit_id, department, total, overdue, due_soon in _open_task_groups(
        session, items_by_process, ids, now, near_limit
    ):
        if unit_id not in units:
            continue  # outside the plan's unit
        for item_id in items_of(process_key, plan_item_id):
            matched = assigners[item_id].rows_of(unit_id, units[unit_id], department)
            for row in matched:
                row.figures.add_open(total, overdue, due_soon)
            if whole_plan:
                figures[item_id].totals.add_open(total, overdue, due_soon)
                if not matched:
                    figures[item_id].other.add_open(total, overdue, due_soon)

    # A case touching a row through several units (a district and a grassroots union below it) counts once.
    for (process_key, plan_item_id, seats), count in _closed_case_groups(
        session, items_by_process, ids, period, units
    ).items():
        for item_id in items_of(process_key, plan_item_id):
            touched: dict[int, RowFigures] = {}  # id(RowFigures) → row; the dataclass is not hashable
            for unit_id, department in seats:
                found = assigners[item_id].rows_of(unit_id, units[unit_id], department)
                touched.update((id(row), row) for row in found)
            for row in touched.values():
                row.figures.completed_cases += count
            if whole_plan:
                figures[item_id].totals.completed_cases += count
                if not touched:
                    figures[item_id].other.completed_cases += count

    for item_id, unit_id, department, count, last in _urge_groups(session, ids, period):
        row_figures = figures[item_id].row(unit_id, department)
        if row_figures is not None:
            row_figures.figures.add_urges(count, last)
        if whole_plan:
            figures[item_id].totals.add_urges(count, last)

    for item in items:
        item_figures = figures[item.id]
        if not whole_plan:
            # A district sees its own row's figures as the item's, and its own progress.
            own = item_figures.rows[0] if item_figures.rows else None
            if own is not None:
                item_figures.totals = own.figures
                item_figures.targets = row_progress(session, plan, item, own.row, period)
        else:
            item_figures.targets = [
                target_progress(session, target, period, plan.issuing_unit, plan.issuing_unit_id)
                for target in item.targets
            ]
        if row_targets:
            for row_figures in item_figures.rows:
                row_figures.targets = row_progress(session, plan, item, row_figures.row, period)
    return PlanDashboard(plan, period, now, near_limit, [figures[item.id] for item in items])
