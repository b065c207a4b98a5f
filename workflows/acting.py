"""委托 (delegation) and the question every operation asks first: on whose authority may this user act on a task?

A principal names a delegate for a date range (Beijing dates, inclusive). While it runs, the principal's tasks are
also the delegate's: the delegate sees them in 待办 and 部门待办 and may do with them what the principal may, and
the record says "X（代Y）". It expires by itself: nothing has to run at its end date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.audit import record_event
from workflows.calendar import SHANGHAI
from workflows.db import utcnow
from workflows.errors import NotFound
from workflows.models import Delegation, Role, User
from workflows.routing import Action, RoutingTable, TaskLike, task_actions

MAX_REASON_LENGTH = 200


def beijing_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def active_delegations_to(session: Session, delegate: User, today: date) -> Sequence[Delegation]:
    """The delegations `delegate` holds today, oldest first."""
    return session.scalars(
        select(Delegation)
        .where(
            Delegation.delegate_id == delegate.id,
            Delegation.revoked_at.is_(None),
            Delegation.starts_on <= today,
            Delegation.ends_on >= today,
        )
        .order_by(Delegation.id)
    ).all()


_PRINCIPALS = "principals_of"


def principals_of(session: Session, delegate: User, today: date | None = None) -> list[User]:
    """Active users who delegated their tasks to `delegate` today.

    Remembered for the session (one request): a case page asks once per open task (issue #9). Creating or revoking a
    delegation forgets it.
    """
    today = today or beijing_date(utcnow())
    cache: dict[tuple[int, date], list[User]] = session.info.setdefault(_PRINCIPALS, {})
    key = (delegate.id, today)
    if key not in cache:
        cache[key] = [d.principal for d in active_delegations_to(session, delegate, today) if d.principal.active]
    return list(cache[key])


@dataclass(frozen=True)
class Authority:
    """What `actor` may do with a task, and whose task it is for them: themselves, or a principal (委托)."""

    actor: User
    principal: User
    actions: frozenset[Action]

    @property
    def on_behalf(self) -> bool:
        return self.principal.id != self.actor.id


def authority_on(session: Session, user: User, task: TaskLike, routing: RoutingTable) -> Authority:
    """The user's own rights on the task when they can act; otherwise those of a principal who delegated to them."""
    own = task_actions(user, task, routing)
    if own - {Action.VIEW}:
        return Authority(user, user, own)
    for principal in principals_of(session, user):
        theirs = task_actions(principal, task, routing)
        if theirs - {Action.VIEW}:
            return Authority(user, principal, theirs)
    if not own:
        for principal in principals_of(session, user):
            if Action.VIEW in task_actions(principal, task, routing):
                return Authority(user, principal, frozenset({Action.VIEW}))
    return Authority(user, user, own)


def _may_delegate_to(principal: User, delegate: User) -> str | None:
    if principal.role not in (Role.OFFICIAL, Role.HEAD):
        return "委托人：只有经办人和负责人可以委托"
    if delegate.id == principal.id:
        return "受托人：不能委托给自己"
    if not delegate.active or delegate.role in (Role.ADMIN, Role.SERVICE):
        return "受托人：只能委托给在岗的经办人或负责人"
    if delegate.org_unit_id != principal.org_unit_id:
        return "受托人：只能委托给本单位的同事"
    return None


def create_delegation(
    session: Session, principal: User, delegate: User, starts_on: date, ends_on: date, reason: str, *, today: date
) -> Delegation:
    """委托 from `principal` to `delegate` for [starts_on, ends_on]; one delegate at a time, nothing in the past."""
    errors: dict[str, str] = {}
    problem = _may_delegate_to(principal, delegate)
    if problem:
        errors["delegate"] = problem
    if ends_on < starts_on:
        errors["ends_on"] = "结束日期：不能早于开始日期"
    elif ends_on < today:
        errors["ends_on"] = "结束日期：不能早于今天"
    if len(reason) > MAX_REASON_LENGTH:
        errors["reason"] = f"委托事由：不能超过 {MAX_REASON_LENGTH} 字"
    if not errors:
        overlapping = session.scalar(
            select(Delegation).where(
                Delegation.principal_id == principal.id,
                Delegation.revoked_at.is_(None),
                Delegation.starts_on <= ends_on,
                Delegation.ends_on >= starts_on,
            )
        )
        if overlapping is not None:
            errors["starts_on"] = (
                f"开始日期：与已有委托（{overlapping.delegate.display_name}，"
                f"{overlapping.starts_on}至{overlapping.ends_on}）时间重叠，请先撤销"
            )
    if errors:
        raise FormValidationError(errors)
    delegation = Delegation(
        principal_id=principal.id, delegate_id=delegate.id, starts_on=starts_on, ends_on=ends_on, reason=reason
    )
    session.add(delegation)
    session.flush()
    session.info.pop(_PRINCIPALS, None)
    record_event(
        session,
        "delegation.created",
        "delegation",
        str(delegation.id),
        {"delegate": delegate.username, "starts_on": str(starts_on), "ends_on": str(ends_on)},
        actor_id=principal.id,
    )
    return delegation


def revoke_delegation(session: Session, principal: User, delegation_id: int) -> Delegation:
    delegation = session.get(Delegation, delegation_id)
    if delegation is None or delegation.principal_id != principal.id or delegation.revoked_at is not None:
        raise NotFound("委托不存在")
    delegation.revoked_at = utcnow()
    session.flush()
    session.info.pop(_PRINCIPALS, None)
    record_event(session, "delegation.revoked", "delegation", str(delegation.id), {}, actor_id=principal.id)
    return delegation


def delegations_of(session: Session, user: User) -> Sequence[Delegation]:
    """Delegations the user gave or holds that are not revoked, newest first (the settings page)."""
    return session.scalars(
        select(Delegation)
        .where((Delegation.principal_id == user.id) | (Delegation.delegate_id == user.id))
        .where(Delegation.revoked_at.is_(None))
        .order_by(Delegation.starts_on.desc(), Delegation.id.desc())
    ).all()
