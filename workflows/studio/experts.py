"""The expert panel (评审专家组) of a studio application: named by the city's reviewer, one 会签 instance each."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import ApprovalStep, ProcessInstance, Role, TaskIndexEntry, TaskStatus, User

EXPERT_STEP = "expert_review"
_SEPARATORS = re.compile(r"[\s,，、;；]+")


def panel_members(
    session: Session, text: str, instance: ProcessInstance, minimum: int
) -> tuple[list[User], str | None]:
    """The experts named in `text` (usernames), and why they cannot sit on this panel (None when they can).

    An expert must be an active account other than an administrator, and may not belong to the applicant's own
    union (a conflict of interest the panel rules of other provinces exclude, domain §2.c C5).
    """
    names = list(dict.fromkeys(name for name in _SEPARATORS.split(text or "") if name))
    if len(names) < minimum:
        return [], f"评审专家：至少指定{minimum}名专家（填写用户名），现为{len(names)}名"
    users = {user.username: user for user in session.scalars(select(User).where(User.username.in_(names)))}
    unknown = [name for name in names if name not in users or not users[name].active or users[name].role == Role.ADMIN]
    if unknown:
        return [], "评审专家：以下用户名不存在或不能担任专家：" + "、".join(unknown)
    conflicted = [name for name in names if users[name].org_unit_id == instance.home_unit_id]
    if conflicted:
        return [], "评审专家：申报单位本单位的人员不能担任专家：" + "、".join(conflicted)
    return [users[name] for name in names], None


def hidden_panel_steps(session: Session, user: User, instance: ProcessInstance) -> set[int]:
    """The approval steps an expert may not read while their own panel round is still open: the other experts'
    votes and opinions (independent scoring, domain §2.c C5). Every page that lists a case's steps filters them."""
    if instance.process_key != "studio_naming":
        return set()
    round_tasks = session.execute(
        select(TaskIndexEntry.assigned_to_id, TaskIndexEntry.status).where(
            TaskIndexEntry.instance_id == instance.id, TaskIndexEntry.bpmn_id == EXPERT_STEP
        )
    ).all()
    if not any(status == TaskStatus.READY.value for _, status in round_tasks):
        return set()
    if user.id not in {assigned for assigned, _ in round_tasks}:
        return set()
    return set(
        session.scalars(
            select(ApprovalStep.id).where(
                ApprovalStep.instance_id == instance.id,
                ApprovalStep.bpmn_id == EXPERT_STEP,
                ApprovalStep.actor_id != user.id,
            )
        )
    )
