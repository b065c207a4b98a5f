"""加签: the holder of a step asks another person to sign before or after themselves (issue #4).

The engine task stays where it is; UnionFlow reassigns it. 前加签: the added signer signs first, then the step
comes back to the holder. 后加签: the holder decides, the decision is held, the added signer signs, and only then
does the case move on; a 不同意 from the added signer sends the step back to the holder instead. Added signers
sign only: they cannot add signers, transfer or return (the task is assigned to them, see routing.task_actions).
Each signature is an approval step of kind "added_sign", printed in the record.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.errors import PermissionDenied
from workflows.models import ActionKind, CaseAction, OrgUnit, Role, User
from workflows.processes import hooks_for
from workflows.routing import Action, RoutingTable, load_routing
from workflows.steps import (
    Completion,
    LoadedTask,
    load_task,
    open_tasks,
    run_task,
    step_hashes,
    store_case,
    write_approval_step,
)
from workflows.task_index import ADDED_SIGN_FORM, ADDED_SIGNERS, ASSIGNED_TO, CLAIMED_BY, HELD_SUBMISSION

MAX_REASON_LENGTH = 500
ADDED_SIGN_KIND = "added_sign"


class SignPosition(StrEnum):
    BEFORE = "before"  # 前加签
    AFTER = "after"  # 后加签


POSITION_LABELS = {SignPosition.BEFORE: "前加签", SignPosition.AFTER: "后加签"}


def pending_signers(task: Task) -> list[dict[str, Any]]:
    pending: list[dict[str, Any]] = task.internal_data.get(ADDED_SIGNERS, [])
    return pending


def is_added_signature(task: Task) -> bool:
    """Whether the task is now with an added signer (their turn to sign, not to decide the step)."""
    pending = pending_signers(task)
    return bool(pending) and task.internal_data.get(ASSIGNED_TO) == pending[0]["signer"]


def has_after_signers(task: Task) -> bool:
    return any(entry["position"] == SignPosition.AFTER for entry in pending_signers(task))


def may_add_as_signer(signer: User, holder: User, task_unit: OrgUnit) -> str | None:
    """Who can be added: an active official or head of the step's unit or of a unit above it, not the holder."""
    if signer.id == holder.id:
        return "加签人：不能加签自己"
    if not signer.active or signer.role not in (Role.OFFICIAL, Role.HEAD):
        return "加签人：只能选择在岗的经办人或负责人"
    if not task_unit.is_within(signer.org_unit):
        return "加签人：只能选择本单位或上级单位的人员"
    return None


def _assign(task: Task, user_id: int) -> None:
    task.internal_data[ASSIGNED_TO] = user_id
    task.internal_data[CLAIMED_BY] = user_id


def _give_back(task: Task, holder_id: int) -> None:
    task.internal_data.pop(ASSIGNED_TO, None)
    task.internal_data[CLAIMED_BY] = holder_id


def add_signer(
    session: Session,
    user: User,
    instance_id: int,
    task_id: str,
    signer: User,
    position: SignPosition,
    reason: str = "",
    *,
    routing: RoutingTable | None = None,
) -> CaseAction:
    routing = routing or load_routing()
    loaded = load_task(session, user, instance_id, task_id, Action.ADD_SIGNER, routing)
    problem = may_add_as_signer(signer, loaded.authority.principal, loaded.entry.org_unit)
    if problem is None and any(entry["signer"] == signer.id for entry in pending_signers(loaded.task)):
        problem = "加签人：已在待签名单中"
    if problem is None and len(reason) > MAX_REASON_LENGTH:
        raise forms.FormValidationError({"reason": f"加签说明：不能超过 {MAX_REASON_LENGTH} 字"})
    if problem:
        raise forms.FormValidationError({"signer": problem})
    task = loaded.task
    holder = loaded.authority.principal.id
    entry = {"signer": signer.id, "position": position.value, "requested_by": holder, "reason": reason}
    # Before-signers sign in the order they were added, ahead of any after-signer.
    pending = pending_signers(task)
    befores = [e for e in pending if e["position"] == SignPosition.BEFORE]
    afters = [e for e in pending if e["position"] == SignPosition.AFTER]
    task.internal_data[ADDED_SIGNERS] = (
        [*befores, entry, *afters]
        if position == SignPosition.BEFORE
        else [
            *pending,
            entry,
        ]
    )
    task.internal_data[CLAIMED_BY] = holder
    if position == SignPosition.BEFORE:
        _assign(task, task.internal_data[ADDED_SIGNERS][0]["signer"])
    store_case(session, loaded.instance, loaded.workflow, routing)
    action = CaseAction(
        instance_id=loaded.instance.id,
        task_id=task_id,
        step_title=loaded.entry.title,
        kind=ActionKind.ADD_SIGNER.value,
        actor_id=user.id,
        actor_name=user.display_name,
        on_behalf_of_name=loaded.authority.principal.display_name if loaded.authority.on_behalf else None,
        target_user_id=signer.id,
        target=f"{signer.display_name}（{POSITION_LABELS[position]}）",
        reason=reason,
    )
    session.add(action)
    session.flush()
    record_event(
        session,
        "task.signer_added",
        "task",
        task_id,
        {"case": loaded.instance.case_number, "signer": signer.username, "position": position.value},
        actor_id=user.id,
    )
    return action


def hold_for_after_signers(
    session: Session,
    loaded: LoadedTask,
    form: forms.FormDefinition | None,
    cleaned: dict[str, Any],
    routing: RoutingTable,
) -> Completion:
    """The holder decided a step with after-signers: record it, keep the decision, pass the step to them."""
    task, instance = loaded.task, loaded.instance
    step = write_approval_step(session, instance, task, loaded.entry.title, loaded.authority, form, cleaned)
    session.flush()
    task.internal_data[HELD_SUBMISSION] = {
        "data": forms.without_sensitive(form, cleaned) if form else cleaned,
        "by": loaded.authority.actor.id,
        "holder": loaded.authority.principal.id,
        "step_id": step.id,
    }
    hooks_for(instance.process_key).after_step(
        session, instance, task.task_spec.bpmn_id, cleaned, loaded.authority.actor
    )
    _assign(task, pending_signers(task)[0]["signer"])
    store_case(session, instance, loaded.workflow, routing)
    record_event(
        session,
        "task.held_for_signers",
        "task",
        str(task.id),
        {"case": instance.case_number, **step_hashes(step)},
        actor_id=loaded.authority.actor.id,
    )
    return Completion(instance, step, open_tasks(session, instance.id))


def sign_as_added_signer(
    session: Session, loaded: LoadedTask, data: dict[str, Any], routing: RoutingTable
) -> Completion:
    task, instance = loaded.task, loaded.instance
    if not is_added_signature(task):
        raise PermissionDenied("该任务不需要您加签")
    form = forms.load_form(ADDED_SIGN_FORM)
    cleaned = forms.validate_submission(form, data)
    pending = pending_signers(task)
    entry = pending.pop(0)
    task.internal_data[ADDED_SIGNERS] = pending
    step = write_approval_step(
        session,
        instance,
        task,
        f"{loaded.entry.title}（{POSITION_LABELS[SignPosition(entry['position'])]}）",
        loaded.authority,
        form,
        cleaned,
        kind=ADDED_SIGN_KIND,
        decision_field="decision",
    )
    held = task.internal_data.get(HELD_SUBMISSION)
    agreed = cleaned["decision"] == "同意"
    next_entry = pending[0] if pending else None
    if entry["position"] == SignPosition.BEFORE:
        if next_entry is not None and next_entry["position"] == SignPosition.BEFORE:
            _assign(task, next_entry["signer"])
        else:
            _give_back(task, entry["requested_by"])
        store_case(session, instance, loaded.workflow, routing)
    elif not agreed:
        # An after-signer's 不同意 sends the step back to its holder, who decides it again.
        task.internal_data.pop(HELD_SUBMISSION, None)
        task.internal_data[ADDED_SIGNERS] = [e for e in pending if e["position"] == SignPosition.BEFORE]
        _give_back(task, held["holder"] if held else entry["requested_by"])
        hooks_for(instance.process_key).reopen_step(session, instance, task.task_spec.bpmn_id)
        store_case(session, instance, loaded.workflow, routing)
    elif next_entry is not None:
        _assign(task, next_entry["signer"])
        store_case(session, instance, loaded.workflow, routing)
    else:
        assert held is not None
        task.internal_data.pop(HELD_SUBMISSION)
        task.internal_data.pop(ADDED_SIGNERS, None)
        _give_back(task, held["holder"])
        run_task(session, loaded, held["data"], routing, completed_by=held["by"])
    session.flush()
    record_event(
        session,
        "task.signed",
        "task",
        str(task.id),
        {"case": instance.case_number, "decision": cleaned["decision"], **step_hashes(step)},
        actor_id=loaded.authority.actor.id,
    )
    return Completion(instance, step, open_tasks(session, instance.id))
