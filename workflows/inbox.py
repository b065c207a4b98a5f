"""The official's lists (issue #3 §2): 待办, 部门待办, 已办, 我发起 with filters, red/yellow lights and pages,
and 抄送我 (issue #4): the cases copied to me, read or unread.

Plain SQL over the task index, the copy table and the instance table; nothing here loads a workflow.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from functools import reduce
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from workflows import queries
from workflows.acting import principals_of
from workflows.calendar import SHANGHAI, add_working_days
from workflows.copies import copied_to_me_query
from workflows.models import CaseCopy, ProcessInstance, QueueTally, Role, TaskIndexEntry, TaskStatus, User
from workflows.routing import may_hold

# Configurable default, not a seed rule: a task is "near due" (黄灯) when due within this many working days.
DEFAULT_NEAR_DUE_WORKING_DAYS = 2
MAX_PER_PAGE = 100
# The navigation counts a history list (已办, 我发起) up to this many (a default; FLASK_NAV_HISTORY_CAP): a city head
# had completed 82,000 steps in the volume bench, and counting them cost 14 ms on every page on PostgreSQL.
NAV_HISTORY_CAP = 999

T = TypeVar("T")


class View(StrEnum):
    MINE = "mine"
    QUEUE = "queue"
    DONE = "done"
    STARTED = "started"
    COPIED = "copied"


VIEW_TITLES: dict[View, str] = {
    View.MINE: "待办",
    View.QUEUE: "部门待办",
    View.DONE: "已办",
    View.STARTED: "我发起",
    View.COPIED: "抄送我",
}


class Light(StrEnum):
    """红黄灯: overdue is red, due within the near-due window is yellow, anything else green."""

    RED = "red"
    YELLOW = "yellow"
    GREEN = "green"


class Sort(StrEnum):
    DUE = "due"
    NEWEST = "newest"
    OLDEST = "oldest"
    UNREAD = "unread"  # 抄送我 only: unread copies first, each group newest first


def default_sort(view: View) -> Sort:
    """Open work by deadline; copies unread first; finished work and my cases newest first (yesterday's work
    on the first page)."""
    if view == View.COPIED:
        return Sort.UNREAD
    return Sort.DUE if view in (View.MINE, View.QUEUE) else Sort.NEWEST


@dataclass(frozen=True)
class InboxFilter:
    process: str | None = None
    light: Light | None = None
    search: str | None = None
    sort: Sort = Sort.DUE
    unread_only: bool = False  # 抄送我 only


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def near_due_limit(
    now: datetime, working_days: int = DEFAULT_NEAR_DUE_WORKING_DAYS, overrides: Mapping[date, bool] | None = None
) -> datetime:
    """The end (Beijing time) of the working day `working_days` after today: due before it means yellow.

    `overrides`: the administrators' working-day table (workflows.working_days.calendar_overrides).
    """
    today = now.astimezone(SHANGHAI).date()
    return datetime.combine(add_working_days(today, working_days, overrides), time.max, tzinfo=SHANGHAI)


def due_light(due_at: datetime | None, now: datetime, near_limit: datetime) -> Light | None:
    """The light of an open task; None when the task has no due date."""
    if due_at is None:
        return None
    if due_at < now:
        return Light.RED
    if due_at <= near_limit:
        return Light.YELLOW
    return Light.GREEN


def clamp_page(page: int, per_page: int) -> tuple[int, int]:
    return max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)


def _count(session: Session, query: Select[T]) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _task_query(user: User, view: View, principals: Sequence[User] = ()) -> Select[TaskIndexEntry]:
    if view == View.MINE:
        return queries.my_tasks_query(user, principals)
    if view == View.QUEUE:
        return queries.department_queue_query(user, principals)
    if view == View.DONE:
        return queries.done_by_me_query(user)
    raise ValueError(f"not a task view: {view}")


def filtered_tasks(
    user: User,
    view: View,
    wanted: InboxFilter,
    now: datetime,
    near_limit: datetime,
    principals: Sequence[User] = (),
) -> Select[TaskIndexEntry]:
    return _filtered(_task_query(user, view, principals), view, wanted, now, near_limit)


def _filtered(
    query: Select[TaskIndexEntry], view: View, wanted: InboxFilter, now: datetime, near_limit: datetime
) -> Select[TaskIndexEntry]:
    """The list's filters and order on one of its queries (a view's, or one lane of 部门待办)."""
    if wanted.process:
        query = query.where(TaskIndexEntry.process_key == wanted.process)
    if wanted.search:
        term = wanted.search.strip()
        query = query.where(
            or_(
                TaskIndexEntry.case_number.contains(term, autoescape=True),
                TaskIndexEntry.case_title.contains(term, autoescape=True),
            )
        )
    # Lights only mean something for open tasks; a done task keeps its history without a light.
    if wanted.light is not None and view != View.DONE:
        if wanted.light == Light.RED:
            query = query.where(TaskIndexEntry.due_at < now)
        elif wanted.light == Light.YELLOW:
            query = query.where(TaskIndexEntry.due_at >= now, TaskIndexEntry.due_at <= near_limit)
        else:
            query = query.where(or_(TaskIndexEntry.due_at.is_(None), TaskIndexEntry.due_at > near_limit))
    moment = TaskIndexEntry.completed_at if view == View.DONE else TaskIndexEntry.ready_at
    return query.order_by(*_ordering(wanted.sort, TaskIndexEntry.due_at, moment, TaskIndexEntry.id))


def _ordering(sort: Sort, due_at: Any, moment: Any, task_id: Any) -> list[ColumnElement[Any]]:
    """The list's order: by deadline (none last), or by the moment the task arrived (or was done), newest or oldest
    first; the id breaks ties, so pages never overlap."""
    if sort == Sort.NEWEST:
        return [moment.desc(), task_id.desc()]
    if sort == Sort.OLDEST:
        return [moment.asc(), task_id.asc()]
    return [due_at.asc().nulls_last(), task_id.asc()]


def task_page(
    session: Session,
    user: User,
    view: View,
    wanted: InboxFilter,
    *,
    now: datetime,
    near_limit: datetime,
    page: int = 1,
    per_page: int = queries.DEFAULT_PAGE_SIZE,
    principals: Sequence[User] | None = None,
    total: int | None = None,
) -> Page[TaskIndexEntry]:
    """One page of a task view; `principals` (who delegated to the user today) is looked up unless given; `total`,
    the list's length when the caller has counted it (the navigation's count of an unfiltered list), is not counted
    again."""
    page, per_page = clamp_page(page, per_page)
    if principals is None:
        principals = principals_of(session, user)
    query = filtered_tasks(user, view, wanted, now, near_limit, principals)
    offset = (page - 1) * per_page
    if view == View.QUEUE and user.role != Role.ADMIN:
        lanes = [_filtered(lane, view, wanted, now, near_limit) for lane in queue_lane_queries([user, *principals])]
        page_ids: Select[Any] = merged_lane_ids(lanes, wanted.sort, offset, per_page)
        if total is None:
            total = session.scalar(select(reduce(operator.add, (_counted(lane) for lane in lanes)))) or 0
    else:
        # The page's ids first, from the view's partial index alone (issue #9): only those rows are read in full.
        page_ids = query.with_only_columns(TaskIndexEntry.id).limit(per_page).offset(offset)
        if total is None:
            total = _count(session, query)
    items = session.scalars(query.where(TaskIndexEntry.id.in_(page_ids))).all()
    return Page(items, total, page, per_page)


CaseQuery = TypeVar("CaseQuery", bound="Select[*tuple[Any, ...]]")


def _cases_matching(query: CaseQuery, wanted: InboxFilter) -> CaseQuery:
    """The process filter and the search by case number or title, on a query that selects cases."""
    if wanted.process:
        query = query.where(ProcessInstance.process_key == wanted.process)
    if wanted.search:
        term = wanted.search.strip()
        query = query.where(
            or_(
                ProcessInstance.case_number.contains(term, autoescape=True),
                ProcessInstance.title.contains(term, autoescape=True),
            )
        )
    return query


def started_page(
    session: Session, user: User, wanted: InboxFilter, *, page: int = 1, per_page: int = queries.DEFAULT_PAGE_SIZE
) -> Page[ProcessInstance]:
    """我发起: the cases I started; sorted newest first unless asked otherwise."""
    page, per_page = clamp_page(page, per_page)
    query = select(ProcessInstance).where(ProcessInstance.started_by_id == user.id)
    query = _cases_matching(query, wanted)
    if wanted.sort == Sort.OLDEST:
        query = query.order_by(ProcessInstance.created_at, ProcessInstance.id)
    else:
        query = query.order_by(ProcessInstance.created_at.desc(), ProcessInstance.id.desc())
    items = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items, _count(session, query), page, per_page)


def on_behalf_names(user: User, principals: Sequence[User], entries: Iterable[TaskIndexEntry]) -> dict[str, str]:
    """代X: for each listed task that is a principal's rather than the user's own (委托), the principal's name.

    A claimed task belongs to whoever claimed it; an unclaimed one to whoever holds its queue. Delegation stays
    within a unit, so an unclaimed task is a principal's when it waits in another department's queue.
    """
    names: dict[str, str] = {}
    for entry in entries:
        if entry.claimed_by_id == user.id or (entry.claimed_by_id is None and may_hold(user, entry)):
            continue
        if entry.claimed_by_id is not None:
            principal = next((p for p in principals if p.id == entry.claimed_by_id), None)
        else:
            principal = next((p for p in principals if may_hold(p, entry)), None)
        if principal is not None:
            names[entry.task_id] = principal.display_name
    return names


def copied_page(
    session: Session, user: User, wanted: InboxFilter, *, page: int = 1, per_page: int = queries.DEFAULT_PAGE_SIZE
) -> Page[tuple[CaseCopy, ProcessInstance]]:
    """抄送我: copies of cases to the user with their case, unread first unless asked otherwise."""
    page, per_page = clamp_page(page, per_page)
    query = copied_to_me_query(user, unread_only=wanted.unread_only).order_by(None)
    query = _cases_matching(query, wanted)
    if wanted.sort == Sort.OLDEST:
        query = query.order_by(CaseCopy.created_at, CaseCopy.id)
    elif wanted.sort == Sort.NEWEST:
        query = query.order_by(CaseCopy.created_at.desc(), CaseCopy.id.desc())
    else:
        query = query.order_by(CaseCopy.read_at.is_not(None), CaseCopy.created_at.desc(), CaseCopy.id.desc())
    items = [(copy, case) for copy, case in session.execute(query.limit(per_page).offset((page - 1) * per_page))]
    # Counted on the copy's id alone: the joined select has two `id` columns a subquery would have to rename.
    return Page(items, _count(session, query.with_only_columns(CaseCopy.id)), page, per_page)


def _tasks_counted(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
    return select(func.count()).select_from(TaskIndexEntry).where(*conditions).scalar_subquery()


def _lanes(holders: Sequence[User]) -> list[tuple[int, str | None]]:
    """The queues of 部门待办 (queries.department_queue_query) as disjoint lanes: each holder's unit-wide lane
    (no department) and, for a member of a department, that department's lane. Each once (a lane two holders share,
    a principal in the user's unit, counts once), in a fixed order (the same statement text, prepared once)."""
    lanes: set[tuple[int, str | None]] = set()
    for holder in holders:
        lanes.add((holder.org_unit_id, None))
        if holder.department_code is not None:
            lanes.add((holder.org_unit_id, holder.department_code))
    return sorted(lanes, key=lambda lane: (lane[0], lane[1] or ""))


def queue_lane_queries(holders: Sequence[User]) -> list[Select[TaskIndexEntry]]:
    """部门待办 (queries.department_queue_query) as one query per lane (`_lanes`), each one range of the queue's
    partial index (issue #9: the query's `department_code IS NULL OR department_code = ?` read and sorted a city
    unit's whole range, every department's queue, for a first page)."""
    return [
        select(TaskIndexEntry).where(
            queries.status_is(TaskStatus.READY),
            TaskIndexEntry.claimed_by_id.is_(None),
            TaskIndexEntry.org_unit_id == unit_id,
            TaskIndexEntry.department_code.is_(None)
            if department is None
            else TaskIndexEntry.department_code == department,
        )
        for unit_id, department in _lanes(holders)
    ]


def merged_lane_ids(lanes: Sequence[Select[TaskIndexEntry]], sort: Sort, offset: int, per_page: int) -> Select[Any]:
    """The ids of one page of the lanes' union in the list's order: each lane's first `offset + per_page` in that
    order (read from its index range), merged. The lanes are disjoint, so no row comes twice."""
    keys = (TaskIndexEntry.id, TaskIndexEntry.due_at, TaskIndexEntry.ready_at)
    # Each lane's head wrapped in a select of its own: SQLite allows no ORDER BY or LIMIT on a compound's members.
    heads = [select(lane.with_only_columns(*keys).limit(offset + per_page).subquery()) for lane in lanes]
    merged = union_all(*heads).subquery() if len(heads) > 1 else heads[0].subquery()
    order = _ordering(sort, merged.c.due_at, merged.c.ready_at, merged.c.id)
    return select(merged.c.id).order_by(*order).limit(per_page).offset(offset)


def _counted(query: Select[TaskIndexEntry]) -> ColumnElement[int]:
    """How many rows the task query selects, as a scalar subquery on its own table (no derived table)."""
    return query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None).scalar_subquery()


def _queue_count(user: User, principals: Sequence[User]) -> ColumnElement[int]:
    """How many tasks 部门待办 lists: its lanes' (`_lanes`) counts kept in queue_tally (workflows.models.queue_tally;
    issue #9: counting a city department's ~20,000-step lane cost 3–6 ms on every page its officials open)."""
    if user.role == Role.ADMIN:  # as department_queue_query: administrators hold no queue
        return literal(0)
    lanes = [
        and_(
            QueueTally.org_unit_id == unit_id,
            QueueTally.department_code.is_(None) if department is None else QueueTally.department_code == department,
        )
        for unit_id, department in _lanes([user, *principals])
    ]
    return select(func.coalesce(func.sum(QueueTally.tasks), 0)).where(or_(*lanes)).scalar_subquery()


def _counted_up_to(cap: int, column: Any, *conditions: ColumnElement[bool]) -> ColumnElement[int]:
    """How many rows match, or `cap + 1` when more do: the index range is read no further than that."""
    capped = select(column).where(*conditions).limit(cap + 1).subquery()
    return select(func.count()).select_from(capped).scalar_subquery()


def inbox_counts(
    session: Session, user: User, history_cap: int = NAV_HISTORY_CAP, principals: Sequence[User] | None = None
) -> dict[View, int]:
    """The counts in the navigation; for 抄送我, the unread copies. Every page shows them, so (issue #9 §2) they are
    one statement of scalar subqueries, each one range of an index; each counts what its list's query selects
    (queries.my_tasks_query, department_queue_query, done_by_me_query; started_page; copies.unread_copies), which
    tests/test_queries.py checks for every account. The histories (已办, 我发起) grow without end: above
    `history_cap` they count as `history_cap + 1`, shown as “999+” (`nav_count`); their own pages count them all.
    `principals`: who delegated to the user today, looked up unless given."""
    if principals is None:
        principals = principals_of(session, user)
    row = session.execute(
        select(
            _tasks_counted(
                queries.status_is(TaskStatus.READY),
                TaskIndexEntry.claimed_by_id.in_([user.id, *(p.id for p in principals)]),
            ),
            _queue_count(user, principals),
            _counted_up_to(
                history_cap,
                TaskIndexEntry.id,
                queries.status_is(TaskStatus.COMPLETED),
                TaskIndexEntry.completed_by_id == user.id,
            ),
            _counted_up_to(history_cap, ProcessInstance.id, ProcessInstance.started_by_id == user.id),
            select(func.count(CaseCopy.id))
            .where(CaseCopy.user_id == user.id, CaseCopy.read_at.is_(None))
            .scalar_subquery(),
        )
    ).one()
    views = (View.MINE, View.QUEUE, View.DONE, View.STARTED, View.COPIED)
    return {view: int(count or 0) for view, count in zip(views, row, strict=True)}


def nav_count(count: int, view: str, cap: int = NAV_HISTORY_CAP) -> str:
    """A navigation count as shown: a history's (已办, 我发起) as “999+” above the cap; the others exactly."""
    return f"{cap}+" if view in (View.DONE, View.STARTED) and count > cap else str(count)
