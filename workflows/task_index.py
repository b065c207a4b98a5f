"""Rebuild an instance's rows in the task index and the timer table from its engine state (DESIGN §2).

The index is a pure function of the engine state and the case: claims and completions are recorded in the
engine task's `internal_data`, so a check can always recompute the index and compare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from workflows.calendar import add_working_days
from workflows.engine.deployment import DEPARTMENT_PROPERTY, FORM_PROPERTY, ORG_UNIT_PROPERTY, properties
from workflows.models import OrgUnit, ProcessInstance, TaskIndexEntry, TaskStatus, TimerEntry
from workflows.routing import DYNAMIC_DEPARTMENT, LaneRole, RoutingError, RoutingTable, resolve_unit
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


def task_department(task: Task, role: LaneRole, unit: OrgUnit) -> str | None:
    """The department holding the task: the lane's, or for a "*" lane the task's `departmentCode` expression.

    The expression may give None for a unit without departments (a district union handles as a whole).
    """
    if role.department != DYNAMIC_DEPARTMENT:
        return role.department
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
    units: dict[str, OrgUnit] = {}
    rows = []
    tasks = human_tasks(workflow)
    if overrides is None and tasks:
        overrides = calendar_overrides(session)
    for task in tasks:
        lane = task.task_spec.lane
        role = routing.lane(lane)
        if ORG_UNIT_PROPERTY in properties(task.task_spec):
            unit = task_unit(session, task, role, instance)
        else:
            if lane not in units:
                units[lane] = resolve_unit(session, role, instance.home_unit_id)
            unit = units[lane]
        completed = task.state == TaskState.COMPLETED
        stamp = _timestamp(task)
        ready_at = datetime.fromisoformat(task.internal_data["ready_at"]) if "ready_at" in task.internal_data else stamp
        rows.append(
            IndexRow(
                task_id=str(task.id),
                bpmn_id=task.task_spec.bpmn_id,
                title=task.task_spec.bpmn_name or task.task_spec.bpmn_id,
                lane=lane,
                org_unit_id=unit.id,
                department_code=task_department(task, role, unit),
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


def rebuild_index(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    routing: RoutingTable,
    *,
    overrides: Mapping[date, bool] | None = None,
) -> list[TaskIndexEntry]:
    """Make the instance's task-index and timer rows equal to what the engine says; flushes.

    Returns the open tasks that someone now has to act on who did not before (issue #8, 新待办): new rows,
    completed steps open again (退回, 撤回), and open tasks handed from one person to another (转办, 加签 and back).
    A claim from the queue or a release to it is not new work for anyone; nor is a changed due date.
    """
    wanted = {row.task_id: row for row in expected_rows(session, instance, workflow, routing, overrides)}
    existing = {
        entry.task_id: entry
        for entry in session.scalars(_INSTANCE_ENTRIES, {"instance_id": instance.id})
    }
    for task_id, entry in existing.items():
        if task_id not in wanted:
            session.delete(entry)
    fresh: list[TaskIndexEntry] = []
    for task_id, row in wanted.items():
        values = _row_values(row, instance)
        current = existing.get(task_id)
        if current is None:
            current = TaskIndexEntry(instance_id=instance.id, **values)
            session.add(current)
            if row.status == TaskStatus.READY.value:
                fresh.append(current)
        else:
            if row.status == TaskStatus.READY.value and _new_work(current, row):
                fresh.append(current)
            for key, value in values.items():
                if getattr(current, key) != value:
                    setattr(current, key, value)

    if not has_timers(workflow):
        session.flush()
        return fresh
    wanted_timers = expected_timers(workflow)
    existing_timers = {
        timer.task_id: timer
        for timer in session.scalars(_INSTANCE_TIMERS, {"instance_id": instance.id})
    }
    for task_id, timer in existing_timers.items():
        if task_id not in wanted_timers:
            session.delete(timer)
    for task_id, (bpmn_id, due_at) in wanted_timers.items():
        stored = existing_timers.get(task_id)
        if stored is None:
            session.add(TimerEntry(instance_id=instance.id, task_id=task_id, bpmn_id=bpmn_id, due_at=due_at))
        elif stored.due_at != due_at:
            stored.due_at = due_at
    session.flush()
    return fresh


# Built once (issue #9): they run at every step of every case.
_INSTANCE_ENTRIES = select(TaskIndexEntry).where(TaskIndexEntry.instance_id == bindparam("instance_id"))
_INSTANCE_TIMERS = select(TimerEntry).where(TimerEntry.instance_id == bindparam("instance_id"))


def _new_work(stored: TaskIndexEntry, row: IndexRow) -> bool:
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
