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
plan (by process, supervision item, unit and department, and due bucket), assigned to rows in Python; never a query
per row. Target progress is a query per target (per row on the item page and in the ledger only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, or_, select
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
from workflows.plans.metrics import TargetProgress, target_progress
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

    def add_tasks(self, bucket: str, count: int) -> None:
        self.open_tasks += count
        if bucket == Light.RED.value:
            self.overdue += count
        elif bucket == Light.YELLOW.value:
            self.due_soon += count

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


def _linked(keys: Collection[str], item_ids: Collection[int], process_key: Any) -> ColumnElement[bool]:
    """The case is the item's: a process an item links to, or a supervision case of one of the items."""
    return or_(
        process_key.in_(list(keys)),
        and_(process_key == SUPERVISION, SupervisionItem.plan_item_id.in_(list(item_ids))),
    )


def _open_task_groups(
    session: Session, plan: Plan, keys: Collection[str], item_ids: Collection[int], now: datetime, near: datetime
) -> list[tuple[str, int | None, int, str, str | None, str, int]]:
    """Open tasks of the plan's cases inside its unit, counted by process, supervised item, unit, department and
    due bucket (red / yellow / green, as due_light; no due date counts as green)."""
    bucket = case(
        (TaskIndexEntry.due_at < now, literal(Light.RED.value)),
        (TaskIndexEntry.due_at <= near, literal(Light.YELLOW.value)),
        else_=literal(Light.GREEN.value),
    )
    inner = (
        select(
            TaskIndexEntry.process_key.label("process_key"),
            SupervisionItem.plan_item_id.label("plan_item_id"),
            TaskIndexEntry.org_unit_id.label("org_unit_id"),
            OrgUnit.path.label("path"),
            TaskIndexEntry.department_code.label("department_code"),
            bucket.label("bucket"),
        )
        .join(OrgUnit, OrgUnit.id == TaskIndexEntry.org_unit_id)
        .outerjoin(SupervisionItem, SupervisionItem.instance_id == TaskIndexEntry.instance_id)
        .where(
            TaskIndexEntry.status == TaskStatus.READY.value,
            OrgUnit.path.startswith(plan.issuing_unit.path),
            _linked(keys, item_ids, TaskIndexEntry.process_key),
        )
        .subquery()
    )
    # Grouping over a subquery: PostgreSQL does not match a CASE with bound parameters in SELECT and GROUP BY.
    columns = (inner.c.process_key, inner.c.plan_item_id, inner.c.org_unit_id, inner.c.path,
               inner.c.department_code, inner.c.bucket)  # fmt: skip
    rows = session.execute(select(*columns, func.count()).group_by(*columns)).all()
    return [tuple(row) for row in rows]


def _completed_touches(
    session: Session, plan: Plan, keys: Collection[str], item_ids: Collection[int], period: Period
) -> set[tuple[int, str, int | None, int, str, str | None]]:
    """(case, process, supervised item, unit, unit path, department) for every unit a case completed in the period
    touched: its tasks' units and departments, and its home unit."""
    start, end = period_bounds(period)
    conditions = (
        ProcessInstance.status == InstanceStatus.COMPLETED.value,
        ProcessInstance.completed_at >= start,
        ProcessInstance.completed_at < end,
        OrgUnit.path.startswith(plan.issuing_unit.path),
        _linked(keys, item_ids, ProcessInstance.process_key),
    )
    by_task = (
        select(ProcessInstance.id, ProcessInstance.process_key, SupervisionItem.plan_item_id,
               TaskIndexEntry.org_unit_id, OrgUnit.path, TaskIndexEntry.department_code)
        .distinct()
        .join(TaskIndexEntry, TaskIndexEntry.instance_id == ProcessInstance.id)
        .join(OrgUnit, OrgUnit.id == TaskIndexEntry.org_unit_id)
        .outerjoin(SupervisionItem, SupervisionItem.instance_id == ProcessInstance.id)
        .where(*conditions)
    )  # fmt: skip
    by_home = (
        select(ProcessInstance.id, ProcessInstance.process_key, SupervisionItem.plan_item_id,
               ProcessInstance.home_unit_id, OrgUnit.path)
        .join(OrgUnit, OrgUnit.id == ProcessInstance.home_unit_id)
        .outerjoin(SupervisionItem, SupervisionItem.instance_id == ProcessInstance.id)
        .where(*conditions)
    )  # fmt: skip
    touches = {tuple(row) for row in session.execute(by_task)}
    touches |= {(*row, None) for row in session.execute(by_home)}
    return touches  # type: ignore[return-value]


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
    for process_key, plan_item_id, unit_id, path, department, bucket, count in _open_task_groups(
        session, plan, items_by_process, ids, now, near_limit
    ):
        for item_id in items_of(process_key, plan_item_id):
            matched = assigners[item_id].rows_of(unit_id, path, department)
            for row in matched:
                row.figures.add_tasks(bucket, count)
            if whole_plan:
                figures[item_id].totals.add_tasks(bucket, count)
                if not matched:
                    figures[item_id].other.add_tasks(bucket, count)

    # A case touching a row through several units (a district and a grassroots union below it) counts once.
    row_cases: dict[int, set[int]] = defaultdict(set)  # id(RowFigures) → cases; the dataclass is not hashable
    rows_by_id: dict[int, RowFigures] = {}
    item_cases: dict[int, set[int]] = defaultdict(set)
    item_matched: dict[int, set[int]] = defaultdict(set)
    for instance_id, process_key, plan_item_id, unit_id, path, department in _completed_touches(
        session, plan, items_by_process, ids, period
    ):
        for item_id in items_of(process_key, plan_item_id):
            item_cases[item_id].add(instance_id)
            for row in assigners[item_id].rows_of(unit_id, path, department):
                row_cases[id(row)].add(instance_id)
                rows_by_id[id(row)] = row
                item_matched[item_id].add(instance_id)
    for key, cases in row_cases.items():
        rows_by_id[key].figures.completed_cases = len(cases)
    if whole_plan:
        for item_id, cases in item_cases.items():
            figures[item_id].totals.completed_cases = len(cases)
            figures[item_id].other.completed_cases = len(cases - item_matched[item_id])

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


def row_progress(
    session: Session, plan: Plan, item: PlanItem, row: ResponsibleRow, period: Period
) -> list[TargetProgress]:
    """A unit's own progress on the item's targets that have live data, within its subtree; none for a department
    (the item's progress is the plan unit's)."""
    if not row.covers_subtree:
        return []
    return [
        target_progress(session, target, period, row.org_unit, plan.issuing_unit_id)
        for target in item.targets
        if target.metric
    ]
