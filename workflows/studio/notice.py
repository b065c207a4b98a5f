"""Public notice (公示) and objections, shared by studio naming and honour nominations.

The notice lasts `notice.working_days` working days (default 5, domain §3.7: R22, R48) on the Chinese working-day
calendar with the administrators' table (workflows.working_days). The day it is published counts when it is a working
day; objections are accepted for days inside the period only (a letter counts by its postmark date, domain §2.c C7),
and the notice can be closed from the day after its last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import add_working_days, beijing_today, is_working_day
from workflows.db import utcnow
from workflows.errors import OperationRefused
from workflows.models import NoticeObjection, ProcessInstance, PublicNotice, User
from workflows.policy import as_count
from workflows.policy.parameters import parameter_value
from workflows.working_days import calendar_overrides

OBJECTION_CHANNELS = ("来信", "来电", "来访", "电子邮件")
UPHELD = "异议成立"


def notice_period(start: date, working_days: int, overrides: dict[date, bool]) -> date:
    """The last day of a notice of `working_days` working days published on `start` (counted when a working day)."""
    if working_days < 1:
        raise ValueError(f"公示期不能少于1个工作日：{working_days}")
    counted = 1 if is_working_day(start, overrides) else 0
    return add_working_days(start, working_days - counted, overrides)


def notice_of(session: Session, instance: ProcessInstance) -> PublicNotice | None:
    return session.scalar(select(PublicNotice).where(PublicNotice.instance_id == instance.id))


def case_notice(session: Session, instance: ProcessInstance) -> PublicNotice:
    notice = notice_of(session, instance)
    if notice is None:
        raise LookupError(f"案件 {instance.case_number} 没有公示记录")
    return notice


def publish_notice(session: Session, instance: ProcessInstance, starts_on: date) -> PublicNotice:
    """Start the case's notice on `starts_on`; the period is the parameter in force that day. Flushes."""
    days = as_count(parameter_value(session, "notice.working_days", starts_on), "公示期")
    overrides = calendar_overrides(session)
    notice = PublicNotice(
        instance_id=instance.id,
        starts_on=starts_on,
        ends_on=notice_period(starts_on, days, overrides),
        working_days=days,
    )
    session.add(notice)
    session.flush()
    return notice


def notice_case_data(session: Session, notice: PublicNotice) -> dict[str, str]:
    """What the diagram needs: the last day, and the due date of closing it (the next working day)."""
    close_by = add_working_days(notice.ends_on, 1, calendar_overrides(session))
    return {"notice_ends_on": notice.ends_on.isoformat(), "notice_close_by": close_by.isoformat()}


def closing_problem(notice: PublicNotice | None, today: date) -> str | None:
    """Why the notice cannot be closed today, in Chinese; None when it can."""
    if notice is None:
        return "本案件没有公示记录"
    if today <= notice.ends_on:
        return f"公示期至 {notice.ends_on.isoformat()} 届满，届满后（{notice.ends_on.isoformat()} 之后）才能结束公示"
    return None


def close_notice(session: Session, notice: PublicNotice) -> int:
    """Mark the notice closed; returns the number of objections registered during it. Flushes."""
    notice.closed_at = utcnow()
    session.flush()
    return len(notice.objections)


@dataclass(frozen=True)
class ObjectionInput:
    received_on: date
    channel: str
    content: str
    objector_name: str = ""
    objector_contact: str = ""


def register_objection(session: Session, notice: PublicNotice, user: User, entry: ObjectionInput) -> NoticeObjection:
    """Register an objection received during the notice. Flushes. Refuses with the field and reason in Chinese."""
    if notice.closed_at is not None:
        raise OperationRefused("公示已结束，不能再登记异议")
    errors: dict[str, str] = {}
    if not notice.starts_on <= entry.received_on <= notice.ends_on:
        errors["received_on"] = (
            f"收到日期：应在公示期内（{notice.starts_on.isoformat()} 至 {notice.ends_on.isoformat()}）"
        )
    elif entry.received_on > beijing_today():
        errors["received_on"] = "收到日期：不能晚于今天"
    if entry.channel not in OBJECTION_CHANNELS:
        errors["channel"] = "异议渠道：应为" + "、".join(OBJECTION_CHANNELS) + "之一"
    content = entry.content.strip()
    if not 5 <= len(content) <= 4000:
        errors["content"] = "异议内容：应为5至4000个字"
    if len(entry.objector_name.strip()) > 40:
        errors["objector_name"] = "异议人：不能超过40个字"
    if len(entry.objector_contact.strip()) > 40:
        errors["objector_contact"] = "联系方式：不能超过40个字"
    if errors:
        raise FormValidationError(errors)
    objection = NoticeObjection(
        notice_id=notice.id,
        received_on=entry.received_on,
        channel=entry.channel,
        objector_name=entry.objector_name.strip() or None,
        objector_contact=entry.objector_contact.strip() or None,
        content=content,
        registered_by_id=user.id,
    )
    session.add(objection)
    session.flush()
    return objection


def record_verification(session: Session, notice: PublicNotice, user: User, conclusion: str, finding: str) -> None:
    """The verification step's conclusion covers every objection of the notice not yet verified. Flushes."""
    now = utcnow()
    for objection in notice.objections:
        if objection.verified_at is None:
            objection.upheld = conclusion == UPHELD
            objection.finding = finding
            objection.verified_by_id = user.id
            objection.verified_at = now
    session.flush()
