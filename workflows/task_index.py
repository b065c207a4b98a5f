"""Rebuild an instance's rows in the task index and the timer table from its engine state (DESIGN §2).

The index is a pure function of the engine state and the case: claims and completions are recorded in the
engine task's `internal_data`, so a check can always recompute the index and compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Protocol, cast
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from workflows.calendar import add_working_days
from workflows.engine.deployment import DEPARTMENT_PROPERTY, FORM_PROPERTY, ORG_UNIT_PROPERTY, properties
from workflows.models import OrgUnit, ProcessInstance, TaskIndexEntry, TaskStatus, TimerEntry
from workflows.routing import DYNAMIC_DEPARTMENT, LaneRole, RoutingError, RoutingTable, resolve_unit_id
from workflows.working_days import calendar_overrides

SHANGHAI = ZoneInfo("Asia/Shanghai")
CLAIMED_BY = "claimed_by"
COMPLETED_BY = "completed_by"
# A named signer: a 会签 instance's signer (the task's `assignee` property) or the signer added by 加签.
ASSIGNED_TO = "assigned_to"
# 加签: signers still to sign, in order, each {"signer", "position": "before"|"after", "requested_by", "reason"}.
ADDED_SIGNERS = "added_signers"
# 后加签: the holder's submitted form, kept until the added signers have signed.
HELD_SUBMISSION = "held_submission"
ADDED_SIGN_FORM = "added-sign-schema.json"
ASSIGNEE_PROPERTY = "assignee"


@dataclass(frozen=True)
class IndexRow:
    task_id: str
    bpmn_id: str
    title: str
    lane: str
    org_unit_id: int
    department_code: str | None
    form_name: str | None
    status: str
    claimed_by_id: int | None
    assigned_to_id: int | None
    completed_by_id: int | None
    ready_at: datetime
    due_at: datetime | None
    completed_at: datetime | None


def _timestamp(task: Task) -> datetime:
    return datetime.fromtimestamp(task.last_state_change, UTC)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=SHANGHAI).astimezone(UTC)


def task_due_at(task: Task, ready_at: datetime, overrides: Mapping[date, bool] | None = None) -> datetime | None:
    """The due time from the task's `dueWorkingDays` (working days after it became ready) or `dueDate`.

    `overrides`: the administrators' working-day table (workflows.working_days), read first by the count.
    """
    props = properties(task.task_spec)
    engine = task.workflow.script_engine
    if "dueDate" in props:
        value = engine.evaluate(task, props["dueDate"])
        return _end_of_day(date.fromisoformat(str(value))) if value else None
    if "dueWorkingDays" in props:
        days = int(engine.evaluate(task, props["dueWorkingDays"]))
        return _end_of_day(add_working_days(ready_at.astimezone(SHANGHAI).date(), days, overrides))
    return None


def form_name(task: Task) -> str | None:
    """The form the task's holder fills in now: the step's own, or the added-sign form while a signer signs."""
    if task.state == TaskState.READY and task.internal_data.get(ASSIGNED_TO) and task.internal_data.get(ADDED_SIGNERS):
        return ADDED_SIGN_FORM
    name: str | None = properties(task.task_spec).get(FORM_PROPERTY)
    return name


def assign_named_signers(workflow: BpmnWorkflow) -> None:
    """Give every newly ready task with an `assignee` property (e.g. `signer` of a 会签 instance) to that user."""
    for task in workflow.get_tasks(state=TaskState.READY, manual=True):
        expression = properties(task.task_spec).get(ASSIGNEE_PROPERTY)
        if expression and ASSIGNED_TO not in task.internal_data:
            signer = int(workflow.script_engine.evaluate(task, expression))
            task.internal_data[ASSIGNED_TO] = signer
            task.internal_data[CLAIMED_BY] = signer


def human_tasks(workflow: BpmnWorkflow) -> list[Task]:
    """READY human tasks, and completed ones that a person completed (reset or cancelled ones drop out)."""
    return [
        task
        for task in workflow.get_tasks(manual=True)
        if task.state == TaskState.READY or (task.state == TaskState.COMPLETED and COMPLETED_BY in task.internal_data)
    ]


def task_unit(session: Session, task: Task, role: LaneRole, instance: ProcessInstance) -> OrgUnit:
    """The unit named by the task's `orgUnit` expression: a unit of the lane's level within the case's home unit.

    A list-level case (one city's aid list) sends one instance of a step to each district; the district is data of
    the instance, not an ancestor of the case's home unit, so the lane alone cannot name it.
    """
    expression = properties(task.task_spec)[ORG_UNIT_PROPERTY]
    unit_id = task.workflow.script_engine.evaluate(task, expression)
    unit = session.get(OrgUnit, int(unit_id)) if isinstance(unit_id, int) or str(unit_id).isdecimal() else None
    level_ok = role.level is None or (unit is not None and unit.level == role.level)
    if unit is None or not level_ok or not unit.is_within(instance.home_unit):
        level = f"{role.level.value}级" if role.level else ""
        raise RoutingError(f"任务“{task.task_spec.bpmn_name}”的办理单位 {unit_id!r} 不是本案件所属单位下的{level}单位")
    return unit


def task_department(session: Session, task: Task, role: LaneRole, unit_id: int) -> str | None:
    """The department holding the task: the lane's, or for a "*" lane the task's `departmentCode` expression.

    The expression may give None for a unit without departments (a district union handles as a whole).
    """
    if role.department != DYNAMIC_DEPARTMENT:
        return role.department
    unit = session.get(OrgUnit, unit_id)
    assert unit is not None, "the unit was resolved in this transaction"
    expression = properties(task.task_spec).get(DEPARTMENT_PROPERTY)
    value = task.workflow.script_engine.evaluate(task, expression) if expression else None
    codes = {department.code for department in unit.departments}
    if (value or None) is None and not codes:
        return None
    if value not in codes:
        raise RoutingError(f"任务“{task.task_spec.bpmn_name}”的办理部门 {value!r} 不是“{unit.name}”的部门")
    return str(value)


def expected_rows(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    routing: RoutingTable,
    overrides: Mapping[date, bool] | None = None,
) -> list[IndexRow]:
    """`overrides`: the working-day table, loaded here (once per case) unless the caller has it already."""
    units: dict[str, int] = {}
    rows = []
    tasks = human_tasks(workflow)
    if overrides is None and tasks:
        overrides = calendar_overrides(session)
    for task in tasks:
        lane = task.task_spec.lane
        role = routing.lane(lane)
        if ORG_UNIT_PROPERTY in properties(task.task_spec):
            unit_id = task_unit(session, task, role, instance).id
        else:
            if lane not in units:
                units[lane] = resolve_unit_id(session, role, instance.home_unit_id)
            unit_id = units[lane]
        completed = task.state == TaskState.COMPLETED
        stamp = _timestamp(task)
        ready_at = datetime.fromisoformat(task.internal_data["ready_at"]) if "ready_at" in task.internal_data else stamp
        rows.append(
            IndexRow(
                task_id=str(task.id),
                bpmn_id=task.task_spec.bpmn_id,
                title=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                lane=lane,
                org_unit_id=unit_id,
                department_code=task_department(session, task, role, unit_id),
                form_name=form_name(task),
                status=TaskStatus.COMPLETED.value if completed else TaskStatus.READY.value,
                claimed_by_id=task.internal_data.get(CLAIMED_BY),
                assigned_to_id=None if completed else task.internal_data.get(ASSIGNED_TO),
                completed_by_id=task.internal_data.get(COMPLETED_BY),
                ready_at=ready_at,
                due_at=task_due_at(task, ready_at, overrides),
                completed_at=stamp if completed else None,
            )
        )
    return rows


def has_timers(workflow: BpmnWorkflow) -> bool:
    """Whether the diagram has a timer event at all: a case of one without can have no timer rows to look up."""
    ref: str = workflow.spec_ref
    known = _SPEC_HAS_TIMERS.get(ref)
    if known is None:
        specs = [workflow.spec, *workflow.subprocess_specs.values()]
        known = _SPEC_HAS_TIMERS[ref] = any(
            isinstance(task_spec, CatchingEvent) and isinstance(task_spec.event_definition, TimerEventDefinition)
            for spec in specs
            for task_spec in spec.task_specs.values()
        )
    return known


# By spec reference (process key and content hash): a deployed diagram never changes.
_SPEC_HAS_TIMERS: dict[str, bool] = {}


def expected_timers(workflow: BpmnWorkflow) -> dict[str, tuple[str, datetime]]:
    timers = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        spec = task.task_spec
        if isinstance(spec, CatchingEvent) and isinstance(spec.event_definition, TimerEventDefinition):
            value = task.internal_data.get("event_value")
            if value:
                timers[str(task.id)] = (spec.bpmn_id, datetime.fromisoformat(value))
    return timers


def _row_values(row: IndexRow, instance: ProcessInstance) -> dict[str, Any]:
    values = dict(row.__dict__)
    values.update(process_key=instance.process_key, case_number=instance.case_number or "", case_title=instance.title)
    return values


@dataclass(frozen=True)
class NewWork(IndexRow):
    """An open task that became someone's work in a change (rebuild_index's answer): its row, and its case."""

    instance_id: int


def rebuild_index(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    routing: RoutingTable,
    *,
    overrides: Mapping[date, bool] | None = None,
) -> list[NewWork]:
    """Make the instance's task-index and timer rows equal to what the engine says; flushes.

    Returns the open tasks that someone now has to act on who did not before (issue #8, 新待办): new rows,
    completed steps open again (退回, 撤回), and open tasks handed from one person to another (转办, 加签 and back).
    A claim from the queue or a release to it is not new work for anyone; nor is a changed due date.

    The rows are read and written with Core statements (issue #9: ORM objects for them cost a flush's bookkeeping at
    every step); index objects of the case already in the session are brought up to date (_sync_loaded_entries).
    """
    session.flush()  # Core statements do not autoflush: pending ORM changes to the rows go first
    wanted = {row.task_id: row for row in expected_rows(session, instance, workflow, routing, overrides)}
    existing = {row.task_id: row for row in session.execute(_INSTANCE_ROWS, {"instance_id": instance.id})}
    gone = [row.id for task_id, row in existing.items() if task_id not in wanted]
    added: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    fresh: list[NewWork] = []
    for task_id, row in wanted.items():
        values = _row_values(row, instance)
        current = existing.get(task_id)
        if current is None:
            added.append({"instance_id": instance.id, **values})
            if row.status == TaskStatus.READY.value:
                fresh.append(NewWork(**row.__dict__, instance_id=instance.id))
            continue
        if row.status == TaskStatus.READY.value and _new_work(current, row):
            fresh.append(NewWork(**row.__dict__, instance_id=instance.id))
        if any(getattr(current, key) != value for key, value in values.items()):
            changed.append({"row_id": current.id, **values})
    if gone:
        session.execute(_DELETE_ROWS, {"ids": gone})
    if added:
        session.execute(_INSERT_ROW, added)
    if changed:
        session.execute(_UPDATE_ROW, changed)
    if gone or changed:
        _sync_loaded_entries(session, instance.id, set(gone), {values["row_id"]: values for values in changed})

    if not has_timers(workflow):
        return fresh
    _sync_timers(session, instance.id, expected_timers(workflow))
    return fresh


def _sync_timers(session: Session, instance_id: int, wanted: Mapping[str, tuple[str, datetime]]) -> None:
    """The case's timer rows, equal to its waiting timers: Core statements like the index's (timers are read by the
    scheduler as columns, never held as objects across this)."""
    stored = {task_id: (timer_id, due_at) for timer_id, task_id, due_at in session.execute(
        _INSTANCE_TIMERS, {"instance_id": instance_id})}  # fmt: skip
    gone = [timer_id for task_id, (timer_id, _due) in stored.items() if task_id not in wanted]
    added = [
        {"instance_id": instance_id, "task_id": task_id, "bpmn_id": bpmn_id, "due_at": due_at}
        for task_id, (bpmn_id, due_at) in wanted.items()
        if task_id not in stored
    ]
    moved = [
        {"timer_id": stored[task_id][0], "due_at": due_at}
        for task_id, (_bpmn_id, due_at) in wanted.items()
        if task_id in stored and stored[task_id][1] != due_at
    ]
    if gone:
        session.execute(_DELETE_TIMERS, {"ids": gone})
    if added:
        session.execute(_INSERT_TIMER, added)
    if moved:
        session.execute(_MOVE_TIMER, moved)


def _sync_loaded_entries(
    session: Session, instance_id: int, gone: set[int], changed: Mapping[int, Mapping[str, Any]]
) -> None:
    """Index objects of the case already in the session show what the Core statements wrote: a changed row's object
    gets its new values as loaded (nothing to flush), a deleted row's object leaves the session as it was."""
    for entry in list(session.identity_map.values()):
        if not isinstance(entry, TaskIndexEntry) or entry.instance_id != instance_id:
            continue
        if entry.id in gone:
            session.expunge(entry)
        elif entry.id in changed:
            for key, value in changed[entry.id].items():
                if key != "row_id":
                    set_committed_value(entry, key, value)


# Built once (issue #9): they run at every step of every case.
_INDEX = cast(Table, TaskIndexEntry.__table__)
_ROW_COLUMNS = [column for column in _INDEX.c if column.key not in ("id", "instance_id")]
_INSTANCE_ROWS = select(_INDEX.c.id, *_ROW_COLUMNS).where(_INDEX.c.instance_id == bindparam("instance_id"))
_DELETE_ROWS = delete(_INDEX).where(_INDEX.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_ROW = insert(_INDEX)
_UPDATE_ROW = (
    update(_INDEX)
    .where(_INDEX.c.id == bindparam("row_id"))
    .values({column.key: bindparam(column.key) for column in _ROW_COLUMNS})
)
_TIMERS = cast(Table, TimerEntry.__table__)
_INSTANCE_TIMERS = select(_TIMERS.c.id, _TIMERS.c.task_id, _TIMERS.c.due_at).where(
    _TIMERS.c.instance_id == bindparam("instance_id")
)
_DELETE_TIMERS = delete(_TIMERS).where(_TIMERS.c.id.in_(bindparam("ids", expanding=True)))
_INSERT_TIMER = insert(_TIMERS)
_MOVE_TIMER = update(_TIMERS).where(_TIMERS.c.id == bindparam("timer_id")).values(due_at=bindparam("due_at"))


class _StoredRow(Protocol):
    status: str
    assigned_to_id: int | None
    claimed_by_id: int | None


def _new_work(stored: _StoredRow, row: IndexRow) -> bool:
    """Whether an existing row that the engine says is open became someone's work in this change."""
    if stored.status != TaskStatus.READY.value:
        return True  # a completed step reopened
    before = stored.assigned_to_id or stored.claimed_by_id
    after = row.assigned_to_id or row.claimed_by_id
    return before is not None and after is not None and before != after


def index_matches_engine(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    routing: RoutingTable,
    *,
    overrides: Mapping[date, bool] | None = None,
) -> list[str]:
    """Differences between the stored index and the engine (empty when consistent), for `flask check`."""
    rows = expected_rows(session, instance, workflow, routing, overrides)
    wanted = {row.task_id: _row_values(row, instance) for row in rows}
    stored = {
        entry.task_id: entry
        for entry in session.scalars(select(TaskIndexEntry).where(TaskIndexEntry.instance_id == instance.id))
    }
    problems = [f"{instance.case_number}: task {tid} missing from index" for tid in wanted.keys() - stored.keys()]
    problems += [f"{instance.case_number}: stale index row {tid}" for tid in stored.keys() - wanted.keys()]
    for task_id in wanted.keys() & stored.keys():
        for key, value in wanted[task_id].items():
            if getattr(stored[task_id], key) != value:
                problems.append(f"{instance.case_number}: task {task_id} {key} differs")
    return problems
