"""转办 (issue #4): hand an open task to a colleague who may hold it, with a reason."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.models import ActionKind, CaseAction, TaskIndexEntry, User
from workflows.routing import Action, RoutingTable, load_routing, may_hold
from workflows.steps import load_task, store_case
from workflows.task_index import CLAIMED_BY

MAX_REASON_LENGTH = 500


def transfer_task(
    session: Session,
    user: User,
    instance_id: int,
    task_id: str,
    colleague: User,
    reason: str,
    *,
    routing: RoutingTable | None = None,
) -> CaseAction:
    """The task becomes the colleague's (their 待办); the record keeps who handed it over and why."""
    routing = routing or load_routing()
    reason = reason.strip()
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = "转办理由：必须填写"
    elif len(reason) > MAX_REASON_LENGTH:
        errors["reason"] = f"转办理由：不能超过 {MAX_REASON_LENGTH} 字"
    loaded = load_task(session, user, instance_id, task_id, Action.TRANSFER, routing)
    if colleague.id == loaded.authority.principal.id:
        errors["to_user"] = "转办给：不能转办给自己"
    elif not may_hold(colleague, loaded.entry):
        errors["to_user"] = (
            f"转办给：{colleague.display_name}不能办理本环节（须为{loaded.entry.org_unit.name}本部门人员）"
        )
    if errors:
        raise forms.FormValidationError(errors)
    loaded.task.internal_data[CLAIMED_BY] = colleague.id
    store_case(session, loaded.instance, loaded.workflow, routing)
    action = CaseAction(
        instance_id=loaded.instance.id,
        task_id=task_id,
        step_title=loaded.entry.title,
        kind=ActionKind.TRANSFER.value,
        actor_id=user.id,
        actor_name=user.display_name,
        on_behalf_of_name=loaded.authority.principal.display_name if loaded.authority.on_behalf else None,
        target_user_id=colleague.id,
        target=colleague.display_name,
        reason=reason,
    )
    session.add(action)
    session.flush()
    record_event(
        session,
        "task.transferred",
        "task",
        task_id,
        {"case": loaded.instance.case_number, "to": colleague.username, "reason": reason},
        actor_id=user.id,
    )
    return action


def transfer_candidates(session: Session, entry: TaskIndexEntry, holder: User) -> list[User]:
    """Colleagues the task can be handed to: active officials and heads holding its lane, not the holder."""
    users = session.scalars(
        select(User).where(User.org_unit_id == entry.org_unit_id, User.active.is_(True)).order_by(User.id)
    )
    return [u for u in users if u.id != holder.id and may_hold(u, entry)]
