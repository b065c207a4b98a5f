"""Drilling down from a plan item (issue #8 "Drill down from an item to units, from a unit to its cases and tasks"):
a responsible row's open tasks (holder, due date, light, how often urged) and cases, the item's urges (催办 history)
and the plan's supervised matters (督办事项) with their units, deadline, status, reports and escalation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workflows.calendar import SHANGHAI
from workflows.inbox import Light, due_light
from workflows.models import (
    InstanceStatus,
    OrgUnit,
    Plan,
    PlanItem,
    PlanUrge,
    ProcessInstance,
    ResponsibilityRole,
    SupervisionFeedback,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.notifications import unit_label
from workflows.plans.dashboard import SUPERVISION
from workflows.plans.periods import Period, period_bounds
from workflows.plans.responsibility import ResponsibleRow
from workflows.reminders import holder_of, urge_counts
from workflows.supervision.records import FINISHED, REPORT_KINDS, STATUS_LABELS

# A supervised matter's units are 主办 / 协办 (bpm-anchors §3), a plan's 牵头 / 配合.
MATTER_ROLE_LABELS: dict[str, str] = {ResponsibilityRole.LEAD.value: "主办", ResponsibilityRole.CO.value: "协办"}


# --- Drill-down: a row's tasks and cases --------------------------------------------------------------------------


def _item_cases(item: PlanItem) -> ColumnElement[bool]:
    """Cases of the item: its processes, or supervision cases linked to it."""
    keys = [link.process_key for link in item.processes if link.process_key != SUPERVISION]
    return or_(
        ProcessInstance.process_key.in_(keys),
        ProcessInstance.id.in_(select(SupervisionItem.instance_id).where(SupervisionItem.plan_item_id == item.id)),
    )


def _row_tasks_condition(row: ResponsibleRow) -> ColumnElement[bool]:
    if row.covers_subtree:
        return TaskIndexEntry.org_unit_id.in_(select(OrgUnit.id).where(OrgUnit.path.startswith(row.org_unit.path)))
    return and_(TaskIndexEntry.org_unit_id == row.org_unit.id, TaskIndexEntry.department_code == row.department_code)


@dataclass(frozen=True)
class RowTask:
    entry: TaskIndexEntry
    case: ProcessInstance
    holder: str | None  # None: waiting in the department queue, nobody has claimed it
    light: Light | None
    urges: int


@dataclass(frozen=True)
class RowCase:
    case: ProcessInstance
    open_tasks: int  # the row's open tasks in it


MAX_DRILL_ROWS = 200


def row_tasks(
    session: Session, item: PlanItem, row: ResponsibleRow, *, now: datetime, near_limit: datetime,
    limit: int = MAX_DRILL_ROWS,
) -> tuple[list[RowTask], int]:  # fmt: skip
    """The row's open tasks of the item's cases, the most urgent first (at most `limit`), and how many there are."""
    query = (
        select(TaskIndexEntry, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == TaskIndexEntry.instance_id)
        .where(TaskIndexEntry.status == TaskStatus.READY.value, _row_tasks_condition(row), _item_cases(item))
    )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    found = session.execute(
        query.order_by(TaskIndexEntry.due_at.is_(None), TaskIndexEntry.due_at, TaskIndexEntry.id).limit(limit)
    ).all()
    holder_ids = {holder for entry, _case in found if (holder := holder_of(entry)) is not None}
    names: dict[int, str] = {}
    if holder_ids:
        holders = session.execute(select(User.id, User.display_name).where(User.id.in_(holder_ids)))
        names = {holder_id: name for holder_id, name in holders}
    urged = urge_counts(session, [entry.task_id for entry, _case in found])
    tasks = []
    for entry, instance in found:
        holder = holder_of(entry)
        tasks.append(
            RowTask(entry, instance, names.get(holder) if holder is not None else None,
                    due_light(entry.due_at, now, near_limit), urged.get(entry.task_id, 0))
        )  # fmt: skip
    return tasks, total


def row_cases(
    session: Session, item: PlanItem, row: ResponsibleRow, period: Period, *, limit: int = MAX_DRILL_ROWS
) -> tuple[list[RowCase], int]:
    """The item's cases touching the row (a task of the row, or a home unit in its subtree) that are open, or were
    completed in the period: running first, newest first; at most `limit`, and how many there are."""
    start, end = period_bounds(period)
    touched_by_task = select(TaskIndexEntry.instance_id).where(_row_tasks_condition(row))
    touches: ColumnElement[bool] = ProcessInstance.id.in_(touched_by_task)
    if row.covers_subtree:
        home = select(OrgUnit.id).where(OrgUnit.path.startswith(row.org_unit.path))
        touches = or_(touches, ProcessInstance.home_unit_id.in_(home))
    current = or_(
        ProcessInstance.status == InstanceStatus.RUNNING.value,
        and_(
            ProcessInstance.status == InstanceStatus.COMPLETED.value,
            ProcessInstance.completed_at >= start,
            ProcessInstance.completed_at < end,
        ),
    )
    query = select(ProcessInstance).where(_item_cases(item), touches, current)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    cases = session.scalars(
        query.order_by(
            ProcessInstance.status != InstanceStatus.RUNNING.value,
            ProcessInstance.created_at.desc(),
            ProcessInstance.id.desc(),
        ).limit(limit)
    ).all()
    counts: dict[int, int] = {}
    if cases:
        grouped = session.execute(
            select(TaskIndexEntry.instance_id, func.count())
            .where(
                TaskIndexEntry.instance_id.in_([c.id for c in cases]),
                TaskIndexEntry.status == TaskStatus.READY.value,
                _row_tasks_condition(row),
            )
            .group_by(TaskIndexEntry.instance_id)
        )
        counts = {instance_id: count for instance_id, count in grouped}
    return [RowCase(c, counts.get(c.id, 0)) for c in cases], total


# --- Urges and supervised matters of an item ------------------------------------------------------------------------


def urge_history(session: Session, item: PlanItem, own_unit_id: int | None = None) -> list[PlanUrge]:
    """Every urge of the item, the latest first (a district union: the urges it received)."""
    query = select(PlanUrge).where(PlanUrge.item_id == item.id).options(selectinload(PlanUrge.org_unit))
    if own_unit_id is not None:
        query = query.where(PlanUrge.org_unit_id == own_unit_id)
    return list(session.scalars(query.order_by(PlanUrge.created_at.desc(), PlanUrge.id.desc())))


@dataclass(frozen=True)
class SupervisedMatter:
    matter: SupervisionItem
    item_number: int | None
    units: list[tuple[str, str]]  # (role label, unit label), the lead first
    status_label: str
    feedback: int  # progress, completion and co-unit reports
    light: Light | None  # None once finished or without a deadline

    @property
    def escalated(self) -> bool:
        return self.matter.escalated_at is not None


def _deadline_instant(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=SHANGHAI)


def supervised_matters(
    session: Session, plan: Plan, *, now: datetime, near_limit: datetime, item_id: int | None = None,
    own_unit_id: int | None = None,
) -> list[SupervisedMatter]:  # fmt: skip
    """The plan's supervised matters (or one item's), by item and deadline; a district union: those assigned to it."""
    query = (
        select(SupervisionItem, PlanItem.number)
        .join(PlanItem, PlanItem.id == SupervisionItem.plan_item_id)
        .where(PlanItem.plan_id == plan.id)
        .options(selectinload(SupervisionItem.units), selectinload(SupervisionItem.instance))
    )
    if item_id is not None:
        query = query.where(SupervisionItem.plan_item_id == item_id)
    found: list[tuple[SupervisionItem, int]] = [
        (matter, number)
        for matter, number in session.execute(
            query.order_by(PlanItem.number, SupervisionItem.deadline.is_(None), SupervisionItem.deadline,
                           SupervisionItem.id)
        )
    ]  # fmt: skip
    if own_unit_id is not None:
        found = [(m, n) for m, n in found if any(u.org_unit_id == own_unit_id for u in m.units)]
    counts: dict[int, int] = {}
    if found:
        grouped = session.execute(
            select(SupervisionFeedback.item_id, func.count())
            .where(
                SupervisionFeedback.item_id.in_([m.id for m, _n in found]),
                SupervisionFeedback.kind.in_(REPORT_KINDS),
            )
            .group_by(SupervisionFeedback.item_id)
        )
        counts = {matter_id: count for matter_id, count in grouped}
    matters = []
    for matter, number in found:
        ordered = sorted(matter.units, key=lambda u: (u.role != ResponsibilityRole.LEAD.value, u.id))
        units = [(MATTER_ROLE_LABELS.get(u.role, u.role), unit_label(u.org_unit, u.department_code)) for u in ordered]
        light = None
        if matter.status not in FINISHED and matter.deadline is not None:
            light = due_light(_deadline_instant(matter.deadline), now, near_limit)
        matters.append(
            SupervisedMatter(matter, number, units, STATUS_LABELS.get(matter.status, matter.status),
                             counts.get(matter.id, 0), light)
        )  # fmt: skip
    return matters
