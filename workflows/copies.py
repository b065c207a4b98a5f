"""抄送 (issue #4): copy a case to people or units for information; they find it under 抄送我, read or unread.

A copy gives read access to the case (its page and approval record), never a decision. It may go to people of
the case's own unit and of the units above it (the chain its reports travel), e.g. the city department that
oversees a district's case.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.db import utcnow
from workflows.models import ActionKind, CaseAction, CaseCopy, NotificationKind, OrgUnit, ProcessInstance, Role, User
from workflows.notifications import case_line, mark_read_about, notify

MAX_NOTE_LENGTH = 500


def may_receive_copy(recipient: User, instance: ProcessInstance) -> bool:
    return (
        recipient.active
        and recipient.role in (Role.OFFICIAL, Role.HEAD)
        and instance.home_unit.is_within(recipient.org_unit)
    )


def copy_recipients(session: Session, instance: ProcessInstance) -> list[User]:
    """Everyone a case may be copied to, for the picker: its unit and the units above, by unit then name."""
    chain: list[int] = []
    unit: OrgUnit | None = instance.home_unit
    while unit is not None:
        chain.append(unit.id)
        unit = unit.parent
    users = session.scalars(select(User).where(User.org_unit_id.in_(chain), User.active.is_(True)).order_by(User.id))
    return [u for u in users if may_receive_copy(u, instance)]


def unit_members(session: Session, unit: OrgUnit, department_code: str | None = None) -> list[User]:
    users = session.scalars(select(User).where(User.org_unit_id == unit.id, User.active.is_(True)).order_by(User.id))
    return [u for u in users if department_code in (None, u.department_code)]


def copy_case(
    session: Session,
    user: User,
    instance: ProcessInstance,
    recipients: Sequence[User],
    note: str = "",
    *,
    task_id: str | None = None,
    step_title: str = "",
) -> list[CaseCopy]:
    """Copy the case (the caller has checked `user` may see it); a second copy to someone makes it unread again."""
    note = note.strip()
    errors: dict[str, str] = {}
    wanted = {r.id: r for r in recipients if r.id != user.id}
    if not wanted:
        errors["recipients"] = "抄送人：请至少选择一位（不含本人）"
    refused = [r.display_name for r in wanted.values() if not may_receive_copy(r, instance)]
    if refused:
        errors["recipients"] = f"抄送人：{'、'.join(refused)}不在本案件所属单位或其上级单位，不能抄送"
    if len(note) > MAX_NOTE_LENGTH:
        errors["note"] = f"抄送说明：不能超过 {MAX_NOTE_LENGTH} 字"
    if errors:
        raise forms.FormValidationError(errors)
    now = utcnow()
    existing = {
        c.user_id: c
        for c in session.scalars(
            select(CaseCopy).where(CaseCopy.instance_id == instance.id, CaseCopy.user_id.in_(wanted))
        )
    }
    copies = []
    for recipient in wanted.values():
        copy = existing.get(recipient.id)
        if copy is None:
            copy = CaseCopy(instance_id=instance.id, user_id=recipient.id, copied_by_id=user.id, note=note)
            session.add(copy)
        else:
            copy.copied_by_id, copy.note, copy.created_at, copy.read_at = user.id, note, now, None
        copies.append(copy)
    session.add(
        CaseAction(
            instance_id=instance.id,
            task_id=task_id,
            step_title=step_title,
            kind=ActionKind.COPY.value,
            actor_id=user.id,
            actor_name=user.display_name,
            target="、".join(r.display_name for r in wanted.values()),
            reason=note,
        )
    )
    session.flush()
    said = f"{user.display_name}抄送：{note}" if note else f"{user.display_name}抄送"
    notify(
        session,
        [recipient.id for recipient in wanted.values()],
        NotificationKind.COPIED,
        f"抄送：{case_line(instance)}",
        said,
        instance_id=instance.id,
        exclude=user,
    )
    record_event(
        session,
        "case.copied",
        "case",
        instance.case_number or str(instance.id),
        {"to": sorted(r.username for r in wanted.values())},
        actor_id=user.id,
    )
    return copies


def copied_to_me_query(user: User, *, unread_only: bool = False) -> Select[CaseCopy, ProcessInstance]:
    """抄送我: copies of cases to `user`, newest first."""
    query = (
        select(CaseCopy, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == CaseCopy.instance_id)
        .where(CaseCopy.user_id == user.id)
    )
    if unread_only:
        query = query.where(CaseCopy.read_at.is_(None))
    return query.order_by(CaseCopy.created_at.desc(), CaseCopy.id.desc())


def unread_copies(session: Session, user: User) -> int:
    return (
        session.scalar(select(func.count(CaseCopy.id)).where(CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None)))
        or 0
    )


def mark_copy_read(session: Session, user: User, instance_id: int, now: datetime | None = None) -> bool:
    """Opening a copied case marks the copy read, and its 抄送 notifications; True if anything was unread."""
    marked = mark_read_about(session, user, instance_id=instance_id, kinds=(NotificationKind.COPIED,), now=now)
    copy = session.scalar(
        select(CaseCopy).where(
            CaseCopy.instance_id == instance_id, CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None)
        )
    )
    if copy is None:
        return marked > 0
    copy.read_at = now or utcnow()
    session.flush()
    return True


def is_copied_to(session: Session, user: User, instance_id: int) -> bool:
    return (
        session.scalar(select(CaseCopy.id).where(CaseCopy.instance_id == instance_id, CaseCopy.user_id == user.id))
        is not None
    )
