"""督办台账 (issue 8; bpm-anchors §3 台账, 红黄灯): the supervised matters a user may see, with their lights.

Who sees a matter is who may open its case (`routing.can_view_case`, as `queries.visible_case` applies it): the
registering department (its tasks are in their lane), the lead and co-units (theirs too), the heads and province
officials who oversee the owning department's processes in the subtree, and administrators of the subtree. The
SQL narrows the candidates to matters of the user's subtree or naming the user's unit, and decides with the SQL twin of
the permission function (queries.viewable_cases), so the ledger is filtered, counted and paged by the database.

A matter's light follows its deadline, like a task's (workflows.inbox): red once the deadline day is over, yellow
when it falls within the near-due window, green otherwise; a closed or withdrawn matter has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from workflows.acting import principals_of
from workflows.calendar import SHANGHAI
from workflows.inbox import Light, Page, clamp_page, due_light
from workflows.models import (
    OrgUnit,
    ProcessInstance,
    SupervisionFeedback,
    SupervisionItem,
    SupervisionUnit,
    User,
)
from workflows.models.plan import ResponsibilityRole
from workflows.notifications import unit_label
from workflows.queries import DEFAULT_PAGE_SIZE, viewable_cases
from workflows.routing import RoutingTable
from workflows.supervision.records import FINISHED, REPORT_KINDS, STATUS_LABELS


@dataclass(frozen=True)
class LedgerFilter:
    status: str | None = None
    light: Light | None = None
    plan_item_id: int | None = None


@dataclass(frozen=True)
class LedgerRow:
    item: SupervisionItem
    lead: str
    co_units: list[str]
    light: Light | None
    feedback_count: int
    last_feedback_at: datetime | None
    days_left: int | None  # negative: days overdue; None for a finished matter

    @property
    def case_number(self) -> str:
        return self.item.instance.case_number or ""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.item.status, self.item.status)


def deadline_due_at(deadline: date) -> datetime:
    """The end of the deadline day in Beijing, compared with `now` like a task's due time."""
    return datetime.combine(deadline, time(23, 59, 59), tzinfo=SHANGHAI)


def matter_light(item: SupervisionItem, now: datetime, near_limit: datetime) -> Light | None:
    if item.status in FINISHED or item.deadline is None:
        return None
    return due_light(deadline_due_at(item.deadline), now, near_limit)


def _light_condition(light: Light, today: date, near_day: date) -> ColumnElement[bool]:
    """The SQL twin of `matter_light` on the deadline date (the near-due limit is the end of `near_day`)."""
    open_matter = SupervisionItem.status.not_in(FINISHED)
    if light == Light.RED:
        return and_(open_matter, SupervisionItem.deadline < today)
    if light == Light.YELLOW:
        return and_(open_matter, SupervisionItem.deadline >= today, SupervisionItem.deadline <= near_day)
    return and_(open_matter, SupervisionItem.deadline > near_day)


def _candidates(user: User, principals: Sequence[User]) -> ColumnElement[bool]:
    """Matters of the user's subtree, and matters naming the user's unit (or a principal's) as lead or co-unit."""
    units = {user.org_unit_id, *(principal.org_unit_id for principal in principals)}
    named = exists().where(SupervisionUnit.item_id == SupervisionItem.id, SupervisionUnit.org_unit_id.in_(units))
    in_subtree = exists().where(
        OrgUnit.id == ProcessInstance.home_unit_id, OrgUnit.path.startswith(user.org_unit.path, autoescape=True)
    )
    return or_(named, in_subtree)


def _ledger_query(
    user: User, principals: Sequence[User], routing: RoutingTable, wanted: LedgerFilter, today: date, near_day: date
) -> Select[SupervisionItem]:
    """The matters `user` may see, filtered, in the ledger's order: open ones by deadline, then finished ones newest
    first. Who may see a matter is decided in SQL (queries.viewable_cases, the twin of routing.can_view_case), so the
    list is counted and paged by the database without loading any candidate's tasks (issue #9)."""
    query = (
        select(SupervisionItem)
        .join(ProcessInstance, ProcessInstance.id == SupervisionItem.instance_id)
        .where(_candidates(user, principals), viewable_cases([user, *principals], routing))
        .order_by(
            case((SupervisionItem.status.in_(FINISHED), 1), else_=0),
            case((SupervisionItem.status.in_(FINISHED), -SupervisionItem.id), else_=0),
            SupervisionItem.deadline,
            SupervisionItem.id,
        )
    )
    if wanted.status:
        query = query.where(SupervisionItem.status == wanted.status)
    if wanted.plan_item_id is not None:
        query = query.where(SupervisionItem.plan_item_id == wanted.plan_item_id)
    if wanted.light is not None:
        query = query.where(_light_condition(wanted.light, today, near_day))
    return query


def _rows(
    session: Session, query: Select[SupervisionItem], today: date, now: datetime, near_limit: datetime
) -> list[LedgerRow]:
    items = list(
        session.scalars(
            query.options(
                # The case number only: a list never reads (let alone deserializes) the engine state.
                selectinload(SupervisionItem.instance).load_only(ProcessInstance.case_number),
                selectinload(SupervisionItem.units)
                .selectinload(SupervisionUnit.org_unit)
                .selectinload(OrgUnit.departments),  # unit_label names the department
            )
        )
    )
    counts = feedback_summary(session, [item.id for item in items])
    rows = []
    for item in items:
        count, last = counts.get(item.id, (0, None))
        finished = item.status in FINISHED or item.deadline is None
        rows.append(
            LedgerRow(
                item=item,
                lead=", ".join(unit_names(item, ResponsibilityRole.LEAD)) or "—",
                co_units=unit_names(item, ResponsibilityRole.CO),
                light=matter_light(item, now, near_limit),
                feedback_count=count,
                last_feedback_at=last,
                days_left=None if finished or item.deadline is None else (item.deadline - today).days,
            )
        )
    return rows


def ledger_rows(
    session: Session,
    user: User,
    routing: RoutingTable,
    wanted: LedgerFilter,
    *,
    now: datetime,
    near_limit: datetime,
) -> list[LedgerRow]:
    """The matters `user` may see, filtered; open ones first by deadline, then finished ones newest first."""
    today = now.astimezone(SHANGHAI).date()
    query = _ledger_query(user, principals_of(session, user), routing, wanted, today,
                          near_limit.astimezone(SHANGHAI).date())  # fmt: skip
    return _rows(session, query, today, now, near_limit)


def ledger_page(
    session: Session,
    user: User,
    routing: RoutingTable,
    wanted: LedgerFilter,
    *,
    now: datetime,
    near_limit: datetime,
    page: int = 1,
    per_page: int = DEFAULT_PAGE_SIZE,
) -> Page[LedgerRow]:
    """One page of `ledger_rows` and how many matters there are in all (issue #9: a province-wide ledger runs to
    thousands of matters). A page past the last one is the last one (a stale link after the list shrank)."""
    page, per_page = clamp_page(page, per_page)
    today = now.astimezone(SHANGHAI).date()
    query = _ledger_query(user, principals_of(session, user), routing, wanted, today,
                          near_limit.astimezone(SHANGHAI).date())  # fmt: skip
    # The page's ids with the total beside each (one pass over the candidates, not a second one to count).
    ids_query = query.with_only_columns(SupervisionItem.id, func.count().over()).limit(per_page)
    found = session.execute(ids_query.offset((page - 1) * per_page)).all()
    if found:
        total = found[0][1]
    else:  # past the last page, or nothing at all
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        if total and page > 1:
            page = -(-total // per_page)
            found = session.execute(ids_query.offset((page - 1) * per_page)).all()
    rows = _rows(session, query.where(SupervisionItem.id.in_([item_id for item_id, _total in found])), today, now,
                 near_limit)  # fmt: skip
    return Page(rows, total, page, per_page)


def unit_names(item: SupervisionItem, role: ResponsibilityRole) -> list[str]:
    return [unit_label(unit.org_unit, unit.department_code) for unit in item.units if unit.role == role.value]


def feedback_summary(session: Session, item_ids: Sequence[int]) -> dict[int, tuple[int, datetime | None]]:
    """Per matter: how many reports the units gave, and when the last came in."""
    if not item_ids:
        return {}
    rows = session.execute(
        select(
            SupervisionFeedback.item_id, func.count(SupervisionFeedback.id), func.max(SupervisionFeedback.created_at)
        )
        .where(SupervisionFeedback.item_id.in_(item_ids), SupervisionFeedback.kind.in_(REPORT_KINDS))
        .group_by(SupervisionFeedback.item_id)
    )
    return {item_id: (int(count), last) for item_id, count, last in rows}
