"""The steps of a case: start, claim, release, complete (DESIGN §2, issue #2 §3).

Each operation takes a session, changes the instance row, rebuilds its task index, writes the approval step and
the audit event, and flushes. The caller commits once; an exception leaves nothing half-applied.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from sqlalchemy.orm import Session

import forms
from workflows.acting import Authority
from workflows.audit import record_event
from workflows.db import utcnow
from workflows.engine.deployment import FORM_PROPERTY, latest_version, properties, specs_for
from workflows.engine.runtime import new_workflow
from workflows.errors import PermissionDenied, ProcessNotDeployed
from workflows.models import ProcessInstance, ProcessVersion, TaskIndexEntry, User
from workflows.processes import hooks_for
from workflows.rollback import record_opening
from workflows.routing import Action, RoutingTable, can_start, load_routing
from workflows.signing import has_after_signers, hold_for_after_signers, is_added_signature, sign_as_added_signer
from workflows.steps import (
    DECISION_PROPERTY,
    Completion,
    jsonable,
    load_task,
    open_tasks,
    run_task,
    step_hashes,
    store_case,
    store_holder,
    task_form,
    write_approval_step,
)
from workflows.task_index import CLAIMED_BY

__all__ = [
    "DECISION_PROPERTY",
    "Completion",
    "claim_task",
    "complete_task",
    "jsonable",
    "release_task",
    "start_case",
    "start_form",
    "task_form",
    "version_start_form",
]


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
    store_case(session, instance, workflow, routing, actor=user)
    if form is not None:
        start_task = workflow.get_tasks(spec_name=workflow.spec.start.outputs[0].name)[0]
        step = write_approval_step(
            session, instance, start_task, f"发起：{info.title}", Authority(user, user, frozenset()), form, cleaned
        )
    hashes = step_hashes(step) if form is not None else {"data_hash": forms.data_hash(cleaned)}
    record_event(
        session,
        "case.started",
        "case",
        instance.case_number,
        {"process": process_key, "version": version.version, **hashes},
        actor_id=user.id,
    )
    return instance


def claim_task(
    session: Session, user: User, instance_id: int, task_id: str, *, routing: RoutingTable | None = None
) -> TaskIndexEntry:
    routing = routing or load_routing()
    loaded = load_task(session, user, instance_id, task_id, Action.CLAIM, routing)
    # A delegate claims in the principal's name: the task stays the principal's (委托).
    store_holder(session, loaded, loaded.authority.principal.id)
    record_opening(session, loaded.instance.id, task_id, user)
    record_event(session, "task.claimed", "task", task_id, {"case": loaded.instance.case_number}, actor_id=user.id)
    return loaded.entry


def release_task(
    session: Session, user: User, instance_id: int, task_id: str, *, routing: RoutingTable | None = None
) -> TaskIndexEntry:
    routing = routing or load_routing()
    loaded = load_task(session, user, instance_id, task_id, Action.RELEASE, routing)
    previous = loaded.task.internal_data.get(CLAIMED_BY)
    store_holder(session, loaded, None)
    record_event(
        session,
        "task.released",
        "task",
        task_id,
        {"case": loaded.instance.case_number, "claimed_by": previous},
        actor_id=user.id,
    )
    return loaded.entry


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
    loaded = load_task(session, user, instance_id, task_id, Action.COMPLETE, routing)
    if is_added_signature(loaded.task):
        return sign_as_added_signer(session, loaded, data, routing)
    instance, task = loaded.instance, loaded.task
    form = task_form(task)
    cleaned = forms.validate_submission(form, data) if form else {}
    hooks = hooks_for(instance.process_key)
    errors = hooks.check_step(session, instance, task.task_spec.bpmn_id, cleaned, task.data)
    if errors:
        raise forms.FormValidationError(errors)
    if has_after_signers(task):
        return hold_for_after_signers(session, loaded, form, cleaned, routing)
    step = write_approval_step(session, instance, task, loaded.entry.title, loaded.authority, form, cleaned)
    # Identity and card numbers go to business tables through the hooks, never into case data.
    case_data = forms.without_sensitive(form, cleaned) if form else dict(cleaned)
    case_data.update(hooks.step_data(session, instance, task.task_spec.bpmn_id, cleaned, task.data, user))
    run_task(session, loaded, case_data, routing)
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
            "decision": step.decision,
            **step_hashes(step),
            "on_behalf_of": loaded.authority.principal.username if loaded.authority.on_behalf else None,
        },
        actor_id=user.id,
    )
    return Completion(instance, step, open_tasks(session, instance.id))
