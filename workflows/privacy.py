"""Who sees a hazard reporter's identity, contact and bank card, and the audit of every full view (issue #5).

The reporter's name, mobile, resident ID and reward bank card live only in the hazard record (DESIGN: personal
data). Officials who may open the case see them masked. The full values are shown only to officials who hold or
held a step of the case that needs to reach the reporter (`CONTACT_STEPS`: registering and verifying the report,
deciding and paying the reward, giving feedback), or who act for such an official by delegation (委托), and each
full view appends a `contact.revealed` audit event naming who saw which case's which fields (never the values).
Administrators only supervise: they never see the full values. An anonymous report shows no identity at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from forms import mask_bank_card, mask_mobile, mask_resident_id
from workflows.acting import principals_of
from workflows.audit import record_event
from workflows.errors import NotFound, PermissionDenied
from workflows.models import ApprovalStep, HazardReport, ProcessInstance, Role, TaskIndexEntry, User

# The hazard steps whose holders must be able to reach or identify the reporter (or pay them).
CONTACT_STEPS = frozenset({"register_report", "verify", "reward_decision", "reward_payment", "feedback_close"})
REVEAL_ACTION = "contact.revealed"

# The hazard record's personal fields, in the order the case page shows them; the audit event names them.
FIELDS = (
    "reporter_name",
    "reporter_mobile",
    "reporter_resident_id",
    "reward_payee_name",
    "reward_bank_name",
    "reward_card_number",
)


def mask_name(value: str | None) -> str:
    """Keep the surname (first character) only: ``李**``."""
    if not value:
        return ""
    return value[0] + "*" * (len(value) - 1)


_MASKERS = {
    "reporter_name": mask_name,
    "reporter_mobile": mask_mobile,
    "reporter_resident_id": mask_resident_id,
    "reward_payee_name": mask_name,
    "reward_card_number": mask_bank_card,
}


@dataclass(frozen=True)
class ReporterContact:
    """The reporter panel of a case: each present field as (field, value), masked unless `full`."""

    anonymous: bool
    full: bool
    fields: tuple[tuple[str, str], ...] = ()


def hazard_record(session: Session, instance: ProcessInstance) -> HazardReport | None:
    return session.scalar(select(HazardReport).where(HazardReport.instance_id == instance.id))


def _present_fields(report: HazardReport) -> list[str]:
    return [name for name in FIELDS if getattr(report, name)]


def reporter_contact(report: HazardReport, *, full: bool = False) -> ReporterContact:
    """What the panel shows; an anonymous report shows nothing, whoever asks."""
    if report.anonymous:
        return ReporterContact(anonymous=True, full=False)
    shown = []
    for name in _present_fields(report):
        value = str(getattr(report, name))
        masker = _MASKERS.get(name)
        shown.append((name, value if full or masker is None else masker(value)))
    return ReporterContact(anonymous=False, full=full, fields=tuple(shown))


def may_reveal_contact(session: Session, user: User, instance: ProcessInstance) -> bool:
    """Whether `user` (or a principal they act for today) holds or held a contact step of this case."""
    if user.role not in (Role.OFFICIAL, Role.HEAD) or not user.active:
        return False
    people = [user.id, *(principal.id for principal in principals_of(session, user))]
    holds = select(TaskIndexEntry.id).where(
        TaskIndexEntry.instance_id == instance.id,
        TaskIndexEntry.bpmn_id.in_(CONTACT_STEPS),
        or_(
            TaskIndexEntry.claimed_by_id.in_(people),
            TaskIndexEntry.assigned_to_id.in_(people),
            TaskIndexEntry.completed_by_id.in_(people),
        ),
    )
    # A step sent back (退回) loses its completer in the index; its approval step still says who decided it.
    decided = select(ApprovalStep.id).where(
        ApprovalStep.instance_id == instance.id,
        ApprovalStep.bpmn_id.in_(CONTACT_STEPS),
        or_(ApprovalStep.actor_id.in_(people), ApprovalStep.on_behalf_of_id.in_(people)),
    )
    return any(session.scalar(query.limit(1)) is not None for query in (holds, decided))


def reveal_contact(session: Session, user: User, instance: ProcessInstance) -> ReporterContact:
    """The reporter's full details for `user`, with the audit event of this view (flushes; the caller commits).

    The caller has established that `user` may open the case; this decides whether they may see the full values.
    """
    report = hazard_record(session, instance)
    if report is None:
        raise NotFound("本案件没有举报人信息")
    if report.anonymous:
        raise PermissionDenied("匿名举报，不显示举报人身份")
    if not may_reveal_contact(session, user, instance):
        raise PermissionDenied("只有办理登记、核查、奖励或反馈环节的人员可以查看举报人完整信息")
    record_event(
        session,
        REVEAL_ACTION,
        "case",
        instance.case_number or instance.id,
        {"fields": _present_fields(report)},
        actor_id=user.id,
    )
    return reporter_contact(report, full=True)
