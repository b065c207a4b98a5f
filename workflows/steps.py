"""What every operation on a task shares (DESIGN §2): load the case locked and the task checked, store the engine
state with its task index, and write the approval step. Operations live in `operations`, `handover`, `signing`,
`rollback` and `batch`; each flushes and leaves the commit to its caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import CursorResult, Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

import forms
from workflows.acting import Authority, authority_on
from workflows.db import utcnow
from workflows.engine.deployment import FORM_PROPERTY, properties
from workflows.engine.runtime import load_workflow, store_workflow
from workflows.engine.serializer import SERIALIZER_VERSION, dump_workflow
from workflows.errors import CaseChanged, NotFound, PermissionDenied, TaskAlreadyClaimed, TaskAlreadyHandled
from workflows.models import (
    ApprovalStep,
    InstanceStatus,
    NotificationKind,
    ProcessInstance,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.notifications import notify_new_tasks
from workflows.plans.tally import count_closed_case
from workflows.routing import Action, RoutingTable
from workflows.task_index import CLAIMED_BY, COMPLETED_BY, NewWork, assign_named_signers, rebuild_index

DECISION_PROPERTY = "decisionField"


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Form data as plain JSON values (Decimal money as its exact string) for approval records."""
    result: dict[str, Any] = json.loads(forms.canonical_json(data))
    return result


def task_form(task: Task) -> forms.FormDefinition | None:
    name = properties(task.task_spec).get(FORM_PROPERTY)
    return forms.load_form(name) if name else None


def store_case(
    session: Session,
    instance: ProcessInstance,
    workflow: BpmnWorkflow,
    routing: RoutingTable,
    *,
    notify_kind: NotificationKind | None = NotificationKind.TASK,
    actor: User | None = None,
    note: str = "",
) -> list[NewWork]:
    """Save the engine state, bump the optimistic-lock version and rebuild the task index; flushes.

    Whoever the change gave work to is told (issue #8): `notify_kind` says why (新待办, or 退回 with the reason in
    `note`; None tells nobody), never `actor`, the person who made the change. Returns the tasks that became work.
    """
    assign_named_signers(workflow)
    _save_state(session, instance, workflow)
    fresh = rebuild_index(session, instance, workflow, routing)
    count_closed_case(session, instance)  # issue #9 §2: a case this step completed joins the dashboard's tally
    if notify_kind is not None and fresh:
        notify_new_tasks(session, instance, fresh, notify_kind, exclude=actor, note=note)
    return fresh


def _save_state(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
    """Write the engine state, bumping the case's optimistic-lock version; CaseChanged if another change won.

    The instance UPDATE goes first so a lost race surfaces before any other row is written. A case loaded unchanged
    (every step) is saved by one Core UPDATE checking the version, and the object takes the written values as
    loaded (issue #9: the ORM flush of the row cost more than the statement); a new or otherwise edited case is
    flushed by the ORM as usual.
    """
    now = utcnow()
    completed = workflow.is_completed()
    if instance in session.new or session.is_modified(instance):
        store_workflow(instance, workflow)
        instance.updated_at = now
        if completed:
            instance.status = InstanceStatus.COMPLETED.value
            instance.completed_at = now
        try:
            session.flush()
        except StaleDataError as exc:
            raise CaseChanged() from exc
        return
    values = {
        "state": dump_workflow(workflow),
        "serializer_version": SERIALIZER_VERSION,
        "updated_at": now,
        "status": InstanceStatus.COMPLETED.value if completed else instance.status,
        "completed_at": now if completed else instance.completed_at,
        "version": instance.version + 1,
    }
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]  # an UPDATE's result
        _SAVE_STATE, {"instance_id": instance.id, "seen_version": instance.version, **values}
    )
    if result.rowcount != 1:
        raise CaseChanged()
    for key, value in values.items():
        set_committed_value(instance, key, value)


_INSTANCES = cast(Table, ProcessInstance.__table__)
_SAVE_STATE = (
    update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("instance_id"), _INSTANCES.c.version == bindparam("seen_version"))
    .values({key: bindparam(key) for key in ("state", "serializer_version", "updated_at", "status", "completed_at",
                                             "version")})
)  # fmt: skip


def store_holder(session: Session, loaded: LoadedTask, holder_id: int | None) -> None:
    """Save a claim (holder_id) or a release (None) of an open task; flushes.

    Only that task's holder changes, nothing the engine decides: the state is saved and the one index row set, where
    store_case would rebuild the whole index to the same result (issue #9: a claim cost as much as a completion).
    """
    if holder_id is None:
        loaded.task.internal_data.pop(CLAIMED_BY, None)
    else:
        loaded.task.internal_data[CLAIMED_BY] = holder_id
    _save_state(session, loaded.instance, loaded.workflow)
    loaded.entry.claimed_by_id = holder_id
    session.flush()


def write_approval_step(
    session: Session,
    instance: ProcessInstance,
    task: Task,
    title: str,
    authority: Authority,
    form: forms.FormDefinition | None,
    data: dict[str, Any],
    *,
    kind: str = "step",
    decision_field: str | None = None,
) -> ApprovalStep:
    """The approval record of a step: identity and card numbers masked, the hash taken over the full data."""
    user = authority.actor
    # A step whose outcome is not called `decision` (e.g. 核查结论) names its field in `decisionField`.
    field = decision_field or properties(task.task_spec).get(DECISION_PROPERTY, "decision")
    step = ApprovalStep(
        instance_id=instance.id,
        task_id=str(task.id),
        bpmn_id=task.task_spec.bpmn_id,
        step_title=title,
        actor_id=user.id,
        actor_name=user.display_name,
        actor_role=user.role,
        org_unit_id=user.org_unit_id,
        org_unit_name=user.org_unit.name,
        department_code=user.department_code,
        decision=data.get(field),
        opinion=data.get("opinion"),
        data=jsonable(forms.mask_sensitive(form, data) if form else data),
        data_hash=forms.data_hash(data),
        kind=kind,
        on_behalf_of_id=authority.principal.id if authority.on_behalf else None,
        on_behalf_of_name=authority.principal.display_name if authority.on_behalf else None,
    )
    session.add(step)
    return step


def step_hashes(step: ApprovalStep) -> dict[str, str]:
    """What the audit event of a step records about it: the hash of the full data and of the record as stored.

    The stored record has identity and card numbers masked, so its data no longer hashes to `data_hash`; the second
    hash lets `flask check` prove that the stored record is still what was written (workflows.integrity).
    """
    return {"data_hash": step.data_hash, "record_hash": forms.data_hash(step.data)}


@dataclass
class LoadedTask:
    instance: ProcessInstance
    entry: TaskIndexEntry
    workflow: BpmnWorkflow
    task: Task
    authority: Authority


def lock_case(session: Session, instance_id: int) -> ProcessInstance:
    """The case row, locked (SELECT … FOR UPDATE on PostgreSQL) and re-read, for a change of its state.

    A copy read earlier in the request (to check visibility) may be older than the row by the time the lock is
    granted; refreshing it under the lock, rather than loading it again, takes the newer state instead of failing
    SQLAlchemy's version check, so two officials acting on one case queue up instead of one getting an error.
    """
    existing = session.identity_map.get(session.identity_key(ProcessInstance, instance_id))
    if existing is not None:
        session.refresh(existing, with_for_update=True)
        return existing
    instance = session.get(ProcessInstance, instance_id, with_for_update=True, populate_existing=True)
    if instance is None:
        raise NotFound("案件不存在")
    return instance


def locked_entry(session: Session, instance_id: int, task_id: str) -> tuple[ProcessInstance, TaskIndexEntry]:
    """The case, locked, and its task's index row re-read under that lock: what every change of a task decides on.

    Always the case row first, then its index rows, as the scheduler does (workflows.timers), so two operations never
    wait on each other in opposite order. A copy of the row loaded before the lock (to check visibility) may predate
    another worker's claim, completion or 退回; deciding on it would let a second official overwrite the first.
    """
    instance = lock_case(session, instance_id)
    entry = session.scalar(_ENTRY, {"instance_id": instance_id, "task_id": task_id})
    if entry is None:
        raise NotFound("任务不存在")
    return instance, entry


def engine_task(workflow: BpmnWorkflow, task_id: str) -> Task:
    try:
        return workflow.get_task_from_id(UUID(task_id))
    except TaskNotFoundException:
        # The index row outlived its task (the engine moved on): for the caller, someone handled it.
        raise TaskAlreadyHandled() from None


def load_task(
    session: Session, user: User, instance_id: int, task_id: str, action: Action, routing: RoutingTable
) -> LoadedTask:
    """The open task, locked with its case, if `user` (or a principal who delegated to them) may do `action`."""
    instance, entry = locked_entry(session, instance_id, task_id)
    authority = authority_on(session, user, entry, routing)
    if Action.VIEW not in authority.actions:
        raise NotFound("任务不存在")
    if entry.status != TaskStatus.READY:
        raise TaskAlreadyHandled()
    if action not in authority.actions:
        if entry.claimed_by_id not in (None, authority.principal.id):
            raise TaskAlreadyClaimed()
        raise PermissionDenied("无权执行此操作")
    workflow = load_workflow(instance)
    task = engine_task(workflow, task_id)
    if task.state != TaskState.READY:
        raise TaskAlreadyHandled()
    return LoadedTask(instance, entry, workflow, task, authority)


@dataclass
class Completion:
    instance: ProcessInstance
    approval_step: ApprovalStep
    next_tasks: list[TaskIndexEntry]


def open_tasks(session: Session, instance_id: int) -> list[TaskIndexEntry]:
    return list(session.scalars(_OPEN_TASKS, {"instance_id": instance_id}))


# Built once (issue #9): constructing a statement cost as much as running it, and these run at every step.
_ENTRY = (
    select(TaskIndexEntry)
    .where(TaskIndexEntry.instance_id == bindparam("instance_id"), TaskIndexEntry.task_id == bindparam("task_id"))
    .execution_options(populate_existing=True)
)
_OPEN_TASKS = (
    select(TaskIndexEntry)
    .where(TaskIndexEntry.instance_id == bindparam("instance_id"), TaskIndexEntry.status == TaskStatus.READY.value)
    .order_by(TaskIndexEntry.id)
)


SIGN_TALLY = "sign_tally"


def sibling_decisions(task: Task, decision_field: str) -> list[Any]:
    """The decisions already given by the other instances of a multi-instance (会签) step."""
    return [
        sibling.data.get(decision_field)
        for sibling in task.parent.children
        if sibling is not task and sibling.state == TaskState.COMPLETED
    ]


def run_task(
    session: Session,
    loaded: LoadedTask,
    case_data: dict[str, Any],
    routing: RoutingTable,
    *,
    completed_by: int | None = None,
) -> None:
    """Complete the engine task with `case_data`, run the engine to its next wait state and store the case."""
    task = loaded.task
    task.set_data(**case_data)
    if isinstance(task.parent.task_spec, MultiInstanceTask):
        # A completion condition sees only the finishing instance's data, so it gets every signer's decision here.
        field = properties(task.task_spec).get(DECISION_PROPERTY, "decision")
        task.data[SIGN_TALLY] = [*sibling_decisions(task, field), case_data.get(field)]
    actor = completed_by or loaded.authority.actor.id
    task.internal_data[CLAIMED_BY] = task.internal_data.get(CLAIMED_BY, loaded.authority.principal.id)
    task.internal_data[COMPLETED_BY] = actor
    task.internal_data["ready_at"] = loaded.entry.ready_at.isoformat()
    task.run()
    loaded.workflow.do_engine_steps()
    store_case(session, loaded.instance, loaded.workflow, routing, actor=loaded.authority.actor)
