"""The steps of a case: start, claim, release, complete (DESIGN §2, issue #2 §3).

Each operation takes a session, changes the instance row, rebuilds its task index, writes the approval step and
the audit event, and flushes. The caller commits once; an exception leaves nothing half-applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

import forms
from workflows.audit import record_event
from workflows.db import utcnow
from workflows.engine.deployment import FORM_PROPERTY, latest_version, properties, specs_for
from workflows.engine.runtime import load_workflow, new_workflow, store_workflow
from workflows.errors import (
    CaseChanged,
    NotFound,
    PermissionDenied,
    ProcessNotDeployed,
    TaskAlreadyClaimed,
    TaskAlreadyHandled,
)
from workflows.models import (
    ApprovalStep,
    InstanceStatus,
    ProcessInstance,
    ProcessVersion,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.processes import hooks_for
from workflows.routing import Action, RoutingTable, can_start, load_routing, task_actions
from workflows.task_index import CLAIMED_BY, COMPLETED_BY, rebuild_index

DECISION_PROPERTY = "decisionField"


def jsonable(data: dict[str, Any]) -> dict[str, Any]:
    """Form data as plain JSON values (Decimal money as its exact string) for approval records."""
    result: dict[str, Any] = json.loads(forms.canonical_json(data))
    return result


def start_form(workflow: BpmnWorkflow) -> forms.FormDefinition | None:
    """The form of the process's start event, filled in by whoever starts the case."""
    return _start_form_of_spec(workflow.spec)


def version_start_form(version: ProcessVersion) -> forms.FormDefinition | None:
    """The start form of a deployed version, without creating a workflow."""
    return _start_form_of_spec(specs_for(version)[0])


def _start_form_of_spec(spec: Any) -> forms.FormDefinition | None:
    for start_event in spec.start.outputs:
        name = properties(start_event).get(FORM_PROPERTY)
        if name:
            return forms.load_form(name)
    return None


def _store(session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, routing: RoutingTable) -> None:
    store_workflow(instance, workflow)
    instance.updated_at = utcnow()
    if workflow.is_completed():
        instance.status = InstanceStatus.COMPLETED.value
        instance.completed_at = instance.updated_at
    try:
        # The instance UPDATE goes first so a lost race surfaces before any other row is written.
        session.flush()
    except StaleDataError as exc:
        raise CaseChanged() from exc
    rebuild_index(session, instance, workflow, routing)


def _approval_step(
    session: Session,
    instance: ProcessInstance,
    task: Task,
    title: str,
    user: User,
    form: forms.FormDefinition | None,
    data: dict[str, Any],
) -> ApprovalStep:
    """The approval record of a step: identity and card numbers masked, the hash taken over the full data."""
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
        # A step whose outcome is not called `decision` (e.g. 核查结论) names its field in `decisionField`.
        decision=data.get(properties(task.task_spec).get(DECISION_PROPERTY, "decision")),
        opinion=data.get("opinion"),
        data=jsonable(forms.mask_sensitive(form, data) if form else data),
        data_hash=forms.data_hash(data),
    )
    session.add(step)
    return step


def start_case(
    session: Session,
    user: User,
    process_key: str,
    data: dict[str, Any],
    *,
    routing: RoutingTable | None = None,
) -> ProcessInstance:
    """Start a case from its start form (validated here) as `user`."""
    routing = routing or load_routing()
    info = routing.process(process_key)
    if not can_start(user, info):
        raise PermissionDenied(f"您所在单位不能发起“{info.title}”")
    version = latest_version(session, process_key)
    if version is None:
        raise ProcessNotDeployed(f"流程未部署：{process_key}")
    workflow = new_workflow(version)
    form = start_form(workflow)
    cleaned = forms.validate_submission(form, data) if form else dict(data)
    hooks = hooks_for(process_key)
    plan = hooks.prepare_start(session, user, info, cleaned)

    now = utcnow()
    instance = ProcessInstance(
        process_version=version,
        process_version_id=version.id,
        process_key=process_key,
        title=plan.title,
        started_by_id=user.id,
        home_unit=plan.home_unit,
        home_unit_id=plan.home_unit.id,
        enterprise_id=plan.enterprise.id if plan.enterprise else None,
        created_at=now,
        updated_at=now,
    )
    session.add(instance)
    session.flush()
    instance.case_number = f"{info.case_prefix}-{now.year}-{instance.id:06d}"
    hooks.after_start(session, instance, cleaned)

    workflow.task_tree.data.update(plan.initial_data)
    workflow.task_tree.data["case_number"] = instance.case_number
    workflow.do_engine_steps()
    _store(session, instance, workflow, routing)
    if form is not None:
        start_task = workflow.get_tasks(spec_name=workflow.spec.start.outputs[0].name)[0]
        _approval_step(session, instance, start_task, f"发起：{info.title}", user, form, cleaned)
    record_event(
        session,
        "case.started",
        "case",
        instance.case_number,
        {"process": process_key, "version": version.version, "data_hash": forms.data_hash(cleaned)},
        actor_id=user.id,
    )
    return instance


@dataclass
class LoadedTask:
    instance: ProcessInstance
    entry: TaskIndexEntry
    workflow: BpmnWorkflow
    task: Task


def _load_task(
    session: Session, user: User, instance_id: int, task_id: str, action: Action, routing: RoutingTable
) -> LoadedTask:
    instance = session.get(ProcessInstance, instance_id, with_for_update=True, populate_existing=True)
    if instance is None:
        raise NotFound("案件不存在")
    entry = session.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == instance_id, TaskIndexEntry.task_id == task_id)
    )
    if entry is None:
        raise NotFound("任务不存在")
    allowed = task_actions(user, entry, routing)
    if Action.VIEW not in allowed:
        raise NotFound("任务不存在")
    if entry.status != TaskStatus.READY:
        raise TaskAlreadyHandled()
    if action not in allowed:
        if entry.claimed_by_id not in (None, user.id):
            raise TaskAlreadyClaimed()
        raise PermissionDenied("无权执行此操作")
    workflow = load_workflow(instance)
    try:
        task = workflow.get_task_from_id(UUID(task_id))
    except TaskNotFoundException:
        # The index row outlived its task (the engine moved on): for the caller, someone handled it.
        raise TaskAlreadyHandled() from None
    if task.state != TaskState.READY:
        raise TaskAlreadyHandled()
    return LoadedTask(instance, entry, workflow, task)


def claim_task(
    session: Session, user: User, instance_id: int, task_id: str, *, routing: RoutingTable | None = None
) -> TaskIndexEntry:
    routing = routing or load_routing()
    loaded = _load_task(session, user, instance_id, task_id, Action.CLAIM, routing)
    loaded.task.internal_data[CLAIMED_BY] = user.id
    _store(session, loaded.instance, loaded.workflow, routing)
    record_event(session, "task.claimed", "task", task_id, {"case": loaded.instance.case_number}, actor_id=user.id)
    return loaded.entry


def release_task(
    session: Session, user: User, instance_id: int, task_id: str, *, routing: RoutingTable | None = None
) -> TaskIndexEntry:
    routing = routing or load_routing()
    loaded = _load_task(session, user, instance_id, task_id, Action.RELEASE, routing)
    previous = loaded.task.internal_data.pop(CLAIMED_BY, None)
    _store(session, loaded.instance, loaded.workflow, routing)
    record_event(
        session,
        "task.released",
        "task",
        task_id,
        {"case": loaded.instance.case_number, "claimed_by": previous},
        actor_id=user.id,
    )
    return loaded.entry


@dataclass
class Completion:
    instance: ProcessInstance
    approval_step: ApprovalStep
    next_tasks: list[TaskIndexEntry]


def task_form(task: Task) -> forms.FormDefinition | None:
    name = properties(task.task_spec).get(FORM_PROPERTY)
    return forms.load_form(name) if name else None


def complete_task(
    session: Session,
    user: User,
    instance_id: int,
    task_id: str,
    data: dict[str, Any],
    *,
    routing: RoutingTable | None = None,
) -> Completion:
    """Validate the submitted form, complete the task, run the engine to the next wait state, record it all."""
    routing = routing or load_routing()
    loaded = _load_task(session, user, instance_id, task_id, Action.COMPLETE, routing)
    instance, task, workflow = loaded.instance, loaded.task, loaded.workflow
    form = task_form(task)
    cleaned = forms.validate_submission(form, data) if form else {}
    hooks = hooks_for(instance.process_key)
    errors = hooks.check_step(session, instance, task.task_spec.bpmn_id, cleaned, task.data)
    if errors:
        raise forms.FormValidationError(errors)

    ready_at: datetime = loaded.entry.ready_at
    # Identity and card numbers go to business tables through the hooks, never into case data.
    task.set_data(**(forms.without_sensitive(form, cleaned) if form else cleaned))
    task.internal_data[CLAIMED_BY] = task.internal_data.get(CLAIMED_BY, user.id)
    task.internal_data[COMPLETED_BY] = user.id
    task.internal_data["ready_at"] = ready_at.isoformat()
    task.run()
    workflow.do_engine_steps()
    _store(session, instance, workflow, routing)
    step = _approval_step(session, instance, task, loaded.entry.title, user, form, cleaned)
    hooks.after_step(session, instance, task.task_spec.bpmn_id, cleaned, user)
    session.flush()
    record_event(
        session,
        "task.completed",
        "task",
        task_id,
        {
            "case": instance.case_number,
            "step": task.task_spec.bpmn_id,
            "decision": cleaned.get("decision"),
            "data_hash": step.data_hash,
        },
        actor_id=user.id,
    )
    next_tasks = list(
        session.scalars(
            select(TaskIndexEntry)
            .where(TaskIndexEntry.instance_id == instance.id, TaskIndexEntry.status == TaskStatus.READY.value)
            .order_by(TaskIndexEntry.id)
        )
    )
    return Completion(instance, step, next_tasks)
