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

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Subquery, and_, case, func, or_, select
from sqlalchemy.orm import Session

from workflows.acting import principals_of
from workflows.calendar import SHANGHAI
from workflows.findings import Finding
from workflows.inbox import Light, Page, clamp_page, due_light
from workflows.models import (
    Department,
    OrgUnit,
    ProcessInstance,
    SupervisionFeedback,
    SupervisionItem,
    SupervisionUnit,
    User,
)
from workflows.models.plan import ResponsibilityRole
from workflows.queries import DEFAULT_PAGE_SIZE, CaseColumns, viewable_cases
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
    case_number: str
    lead: str
    co_units: list[str]
    light: Light | None
    feedback_count: int
    last_feedback_at: datetime | None
    days_left: int | None  # negative: days overdue; None for a finished matter

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


# A supervised matter's case is always of this process (its start hook writes the SupervisionItem).
PROCESS_KEY = "supervision"
ROWS_CHUNK = 500  # ids per `IN (…)` when the whole ledger is loaded
# Per matter: how many reports the units gave, and when the last came in (the head's 退回重办 is not a report).
_REPORTS = and_(SupervisionFeedback.item_id == SupervisionItem.id, SupervisionFeedback.kind.in_(REPORT_KINDS))
_REPORT_COUNT = select(func.count(SupervisionFeedback.id)).where(_REPORTS).scalar_subquery()
_LAST_REPORT = select(func.max(SupervisionFeedback.created_at)).where(_REPORTS).scalar_subquery()
# A matter with its case number, its reports' count and latest time, and how many matters the ledger has in all.
_Found = Row[SupervisionItem, str | None, int, datetime | None, Any]
# The ledger's order: open matters by deadline, then finished ones newest first.
_ORDER = (
    case((SupervisionItem.status.in_(FINISHED), 1), else_=0),
    case((SupervisionItem.status.in_(FINISHED), -SupervisionItem.id), else_=0),
    SupervisionItem.deadline,
    SupervisionItem.id,
)


def _home_within(sqlite: bool) -> Callable[[Select[int]], ColumnElement[bool]]:
    """The condition "the matter's case's home unit is one of `units`", as each database decides it fastest over
    ~2,000 matters. SQLite: through the joined case's ix_process_instance_home (the case row holds the engine state,
    and a column stored after it is read through the state's overflow pages). PostgreSQL: one hashed set of the
    process's cases (joined, it scanned all 100,000 entries of ix_process_instance_home: +10 ms)."""
    if sqlite:
        # `+ 0`: test each case's one home unit, rather than probing the index once per unit of the subtree.
        return lambda units: (ProcessInstance.home_unit_id + 0).in_(units)
    return lambda units: SupervisionItem.instance_id.in_(
        select(ProcessInstance.id).where(
            ProcessInstance.process_key == PROCESS_KEY, ProcessInstance.home_unit_id.in_(units)
        )
    )


def _candidates(
    user: User, principals: Sequence[User], home_within: Callable[[Select[int]], ColumnElement[bool]] | None = None
) -> ColumnElement[bool]:
    """Matters of the user's subtree, and matters naming the user's unit (or a principal's) as lead or co-unit.
    `home_within` as `_home_within` gives it; by default on the joined ProcessInstance's column."""
    if home_within is None:
        home_within = ProcessInstance.home_unit_id.in_
    units = {user.org_unit_id, *(principal.org_unit_id for principal in principals)}
    named = SupervisionItem.id.in_(select(SupervisionUnit.item_id).where(SupervisionUnit.org_unit_id.in_(units)))
    subtree = select(OrgUnit.id).where(OrgUnit.path.startswith(user.org_unit.path, autoescape=True))
    return or_(named, home_within(subtree))


def _ledger_query(
    session: Session,
    user: User,
    principals: Sequence[User],
    routing: RoutingTable,
    wanted: LedgerFilter,
    today: date,
    near_day: date,
) -> Select[int]:
    """The ids of the matters `user` may see, filtered, in the ledger's order: open ones by deadline, then finished
    ones newest first. Who may see a matter is decided in SQL (queries.viewable_cases, the twin of
    routing.can_view_case), so the list is counted and paged by the database without loading any candidate's tasks
    (issue #9). The condition names the case by the matter's `instance_id` and knows its process, so of the case it
    reads only the home unit (where a candidate is not named), and the page's rows are then read by id alone."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    home_within = _home_within(sqlite)
    case_columns = CaseColumns(id=SupervisionItem.instance_id, process_key=PROCESS_KEY, home_within=home_within,
                               task_sets=not sqlite)  # fmt: skip
    query = select(SupervisionItem.id)
    if sqlite:
        query = query.join(ProcessInstance, ProcessInstance.id == SupervisionItem.instance_id)
    query = query.where(
        viewable_cases([user, *principals], routing, case_columns), _candidates(user, principals, home_within)
    ).order_by(*_ORDER)
    if wanted.status:
        query = query.where(SupervisionItem.status == wanted.status)
    if wanted.plan_item_id is not None:
        query = query.where(SupervisionItem.plan_item_id == wanted.plan_item_id)
    if wanted.light is not None:
        query = query.where(_light_condition(wanted.light, today, near_day))
    return query


def _found(session: Session, ids: Subquery) -> Sequence[_Found]:
    """The matters of `ids` (a subquery of ids in the ledger's order, with the total beside each) in that order, each
    with its case number, its reports' count and latest time, and the total: one statement with the ids' own, so a
    page is one round trip (the ids were decided visible already; a list never reads the engine state)."""
    query = (
        select(SupervisionItem, ProcessInstance.case_number, _REPORT_COUNT, _LAST_REPORT, ids.c.total)
        .join(ids, ids.c.id == SupervisionItem.id)
        .join(ProcessInstance, ProcessInstance.id == SupervisionItem.instance_id)
        .order_by(*_ORDER)
    )
    return session.execute(query).all()


def _rows(
    session: Session,
    found: Sequence[_Found],
    today: date,
    now: datetime,
    near_limit: datetime,
) -> list[LedgerRow]:
    """The ledger's rows of these matters, with their units' labels (one more read per ROWS_CHUNK matters)."""
    item_ids = [item.id for item, *_ in found]
    units: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for start in range(0, len(item_ids), ROWS_CHUNK):
        for item_id, role, label in session.execute(_unit_labels(item_ids[start : start + ROWS_CHUNK])):
            units[item_id].append((role, label))
    rows = []
    for item, case_number, count, last, _total in found:
        finished = item.status in FINISHED or item.deadline is None
        rows.append(
            LedgerRow(
                item=item,
                case_number=case_number or "",
                lead=", ".join(label for role, label in units[item.id] if role == ResponsibilityRole.LEAD.value) or "—",
                co_units=[label for role, label in units[item.id] if role == ResponsibilityRole.CO.value],
                light=matter_light(item, now, near_limit),
                feedback_count=count,
                last_feedback_at=last,
                days_left=None if finished or item.deadline is None else (item.deadline - today).days,
            )
        )
    return rows


def _unit_labels(item_ids: Sequence[int]) -> Select[int, str, str]:
    """Each matter's units as (item id, role, label), in the order they were named. The label is
    notifications.unit_label's: the unit's name, followed by the department's where the unit is named by department."""
    label = OrgUnit.name + func.coalesce(Department.name, "")
    return (
        select(SupervisionUnit.item_id, SupervisionUnit.role, label)
        .join(OrgUnit, OrgUnit.id == SupervisionUnit.org_unit_id)
        .outerjoin(
            Department,
            and_(
                Department.org_unit_id == SupervisionUnit.org_unit_id,
                Department.code == SupervisionUnit.department_code,
            ),
        )
        .where(SupervisionUnit.item_id.in_(item_ids))
        .order_by(SupervisionUnit.id)
    )


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
    query = _ledger_query(session, user, principals_of(session, user), routing, wanted, today,
                          near_limit.astimezone(SHANGHAI).date())  # fmt: skip
    found = _found(session, query.add_columns(func.count().over().label("total")).subquery())
    return _rows(session, found, today, now, near_limit)


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
    query = _ledger_query(session, user, principals_of(session, user), routing, wanted, today,
                          near_limit.astimezone(SHANGHAI).date())  # fmt: skip
    # The page's ids with the total beside each (one pass over the candidates, not a second one to count), and
    # their matters in the same statement.
    ids_query = query.add_columns(func.count().over().label("total")).limit(per_page)
    found = _found(session, ids_query.offset((page - 1) * per_page).subquery())
    if found:
        total = found[0][-1]
    else:  # past the last page, or nothing at all
        total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        if total and page > 1:
            page = -(-total // per_page)
            found = _found(session, ids_query.offset((page - 1) * per_page).subquery())
    return Page(_rows(session, found, today, now, near_limit), total, page, per_page)


def check_matter_cases(session: Session) -> list[Finding]:
    """Every supervised matter's case is a supervision case. The ledger's visibility rule relies on it: it decides
    whether a viewer's department owns the matter's process in Python, from PROCESS_KEY (`CaseColumns`), so a matter
    pointing at another process's case would be shown to the supervision process's overseers (run by `flask check`)."""
    rows = session.execute(
        select(SupervisionItem.id, ProcessInstance.case_number, ProcessInstance.process_key)
        .join(ProcessInstance, ProcessInstance.id == SupervisionItem.instance_id)
        .where(ProcessInstance.process_key != PROCESS_KEY)
    )
    return [
        Finding("supervision_item", f"督办事项 #{item_id}", f"关联的案件 {number or ''} 不是督办流程（{process_key}）")
        for item_id, number, process_key in rows
    ]
