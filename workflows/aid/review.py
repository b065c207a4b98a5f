"""The district union's review of its part of the aid list (issue #6 step 2; seed 000 item 8).

Each district, county, pilot-zone or industry union reviews every worker it was sent: household economic situation
and employment or re-employment, concluding 符合 or 不符合 (with a reason), with a re-employment date where there is
one and notes on the evidence. Thousands of rows are reviewed in a grid with server-side paging and filters, and a
conclusion can be applied to many selected rows at once; never as thousands of inbox tasks (DESIGN §2).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import Select, func, insert, select
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.errors import NotFound, OperationRefused, PermissionDenied
from workflows.inbox import Page
from workflows.models import AidCityList, AidReview, AidWorker, Role, TaskIndexEntry, TaskStatus, User

MAX_TEXT_LENGTH = 500
# The last digits of a resident ID (at most the 4 the grid shows): the search box's other meaning besides a name.
ID_ENDING = re.compile(r"[0-9Xx]{1,4}")
REFUSED = "只有区县、先导区和产业工会的经办人可以审查名单"
# Page sizes a reviewer may choose: a union with 2,000 workers reviews them in 10 pages of 200, not 40 of 50.
PAGE_SIZES = (50, 100, 200)
# The step of the `hardship_aid` case that each union holds while it reviews (bpmn/hardship_aid.bpmn).
REVIEW_STEP = "district_review"
CLOSED = "本单位没有待办的审查环节（名单尚未分发，或审查结果已提交），不能修改审查结论"


class Conclusion(StrEnum):
    ELIGIBLE = "符合"
    NOT_ELIGIBLE = "不符合"


class ReviewStatus(StrEnum):
    ALL = "all"
    PENDING = "pending"
    DONE = "done"


@dataclass(frozen=True)
class ReviewFilter:
    status: ReviewStatus = ReviewStatus.ALL
    search: str = ""  # a name, or the last digits of a resident ID


@dataclass(frozen=True)
class ReviewInput:
    conclusion: str
    reason: str = ""
    reemployed_on: str = ""
    evidence: str = ""


@dataclass(frozen=True)
class Progress:
    total: int
    reviewed: int

    @property
    def complete(self) -> bool:
        return self.total > 0 and self.reviewed == self.total


def may_review(user: User) -> bool:
    """Officials and heads of a union that was sent workers; whether it has any is the query's business."""
    return user.active and user.role in (Role.OFFICIAL, Role.HEAD)


def review_years(session: Session, user: User) -> list[int]:
    """The years of the lists that sent workers to the user's union, newest first (empty: nothing to review)."""
    if not may_review(user):
        return []
    query = select(AidWorker.year).where(AidWorker.district_unit_id == user.org_unit_id).group_by(AidWorker.year)
    return sorted(session.scalars(query), reverse=True)


def _own_part(user: User, year: int) -> Select[AidWorker]:
    return select(AidWorker).where(AidWorker.year == year, AidWorker.district_unit_id == user.org_unit_id)


def review_page(
    session: Session, user: User, year: int, wanted: ReviewFilter, *, page: int = 1, per_page: int = 50
) -> Page[AidWorker]:
    """One page of the user's union's part of the list, in the order of the imported sheet."""
    if not may_review(user):
        raise PermissionDenied(REFUSED)
    query = _own_part(user, year)
    if wanted.status == ReviewStatus.PENDING:
        query = query.where(AidWorker.review_conclusion.is_(None))
    elif wanted.status == ReviewStatus.DONE:
        query = query.where(AidWorker.review_conclusion.is_not(None))
    search = wanted.search.strip()
    if ID_ENDING.fullmatch(search):
        # Only the end of an ID: searching its middle would reveal the digits the grid masks.
        query = query.where(AidWorker.resident_id.endswith(search.upper(), autoescape=True))
    elif search:
        query = query.where(AidWorker.name.contains(search, autoescape=True))
    page, per_page = max(page, 1), per_page if per_page in PAGE_SIZES else PAGE_SIZES[0]
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(query.order_by(AidWorker.row_number).limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items, total, page, per_page)


def review_history(session: Session, worker: AidWorker) -> list[AidReview]:
    """Every conclusion recorded for the worker, oldest first."""
    query = select(AidReview).where(AidReview.worker_id == worker.id).order_by(AidReview.id)
    return list(session.scalars(query))


def review_progress(session: Session, user: User, year: int) -> Progress:
    part = _own_part(user, year).subquery()
    total = session.scalar(select(func.count()).select_from(part)) or 0
    reviewed = session.scalar(select(func.count()).select_from(part).where(part.c.review_conclusion.is_not(None)))
    return Progress(total, reviewed or 0)


def open_review_task(session: Session, year: int, unit_id: int) -> TaskIndexEntry | None:
    """The union's open review step of the year's list, if it holds one: conclusions may be recorded or changed only
    then (after the city distributes, until the union submits, and again for rows the province returns)."""
    query = (
        select(TaskIndexEntry)
        .join(AidCityList, AidCityList.instance_id == TaskIndexEntry.instance_id)
        .where(
            AidCityList.year == year,
            TaskIndexEntry.bpmn_id == REVIEW_STEP,
            TaskIndexEntry.org_unit_id == unit_id,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
        .limit(1)
    )
    return session.scalar(query)


def review_open(session: Session, year: int, unit_id: int) -> bool:
    return open_review_task(session, year, unit_id) is not None


def _checked(review: ReviewInput) -> tuple[Conclusion, date | None]:
    errors: dict[str, str] = {}
    conclusion = None
    try:
        conclusion = Conclusion(review.conclusion)
    except ValueError:
        errors["conclusion"] = "审查结论：请选择“符合”或“不符合”"
    if conclusion == Conclusion.NOT_ELIGIBLE and not review.reason.strip():
        errors["reason"] = "不符合原因：结论为“不符合”时必须填写"
    for field, label, text in (("reason", "不符合原因", review.reason), ("evidence", "佐证说明", review.evidence)):
        if len(text) > MAX_TEXT_LENGTH:
            errors[field] = f"{label}：不能超过 {MAX_TEXT_LENGTH} 字"
    reemployed_on = None
    if review.reemployed_on.strip():
        try:
            reemployed_on = date.fromisoformat(review.reemployed_on.strip())
        except ValueError:
            errors["reemployed_on"] = "再就业日期：格式应为 2017-09-01"
        else:
            if reemployed_on > beijing_today():
                errors["reemployed_on"] = "再就业日期：不能晚于今天"
    if errors:
        raise forms.FormValidationError(errors)
    assert conclusion is not None
    return conclusion, reemployed_on


def record_review(
    session: Session, user: User, year: int, worker_ids: Sequence[int], review: ReviewInput
) -> list[AidWorker]:
    """Apply one conclusion to the selected workers of the user's own part (批量): all of them or none. Flushes."""
    if not may_review(user):
        raise PermissionDenied(REFUSED)
    if not worker_ids:
        raise forms.FormValidationError({"workers": "请至少选择一名职工"})
    conclusion, reemployed_on = _checked(review)
    if not review_open(session, year, user.org_unit_id):
        raise OperationRefused(CLOSED)
    wanted = set(worker_ids)
    workers = list(
        session.scalars(_own_part(user, year).where(AidWorker.id.in_(wanted)).with_for_update().order_by(AidWorker.id))
    )
    if len(workers) != len(wanted):
        # A worker of another union, or of no list: like any object of another unit, it does not exist for them.
        raise NotFound("所选职工不在本单位的审查名单中")
    now = utcnow()
    for worker in workers:
        worker.review_conclusion = conclusion.value
        worker.review_reason = review.reason.strip() if conclusion == Conclusion.NOT_ELIGIBLE else ""
        worker.reemployed_on = reemployed_on
        worker.review_evidence = review.evidence.strip()
        worker.reviewed_by_id = user.id
        worker.reviewed_at = now
    history = [
        {
            "worker_id": worker.id,
            "conclusion": worker.review_conclusion,
            "reason": worker.review_reason,
            "reemployed_on": worker.reemployed_on,
            "evidence": worker.review_evidence,
            "reviewed_by_id": user.id,
            "reviewed_at": now,
        }
        for worker in workers
    ]
    session.flush()
    session.execute(insert(AidReview), history)
    record_event(
        session,
        "aid.reviewed",
        "aid_list",
        str(year),
        {"unit": user.org_unit.code, "workers": [worker.id for worker in workers], "conclusion": conclusion.value},
        actor_id=user.id,
    )
    return workers
