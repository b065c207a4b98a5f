"""The 责任分工 dashboard's grouped reads (issue #9 §2): open tasks and closed cases from the kept tallies
(workflows.models.tally), urges and supervised matters per item. workflows.plans.dashboard assigns them to rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from workflows.models import ClosedCaseTally, OpenTaskTally, PlanUrge, SupervisionItem
from workflows.plans.periods import Period, period_bounds
from workflows.plans.structure import Seat
from workflows.plans.tally import SUPERVISION, parse_seats

# (process, supervised item, unit, department, open, overdue, due soon)
OpenGroup = tuple[str, int | None, int, str | None, int, int, int]


def plan_cases(keys: Collection[str], item_ids: Collection[int]) -> ColumnElement[bool] | None:
    """Closed cases of the plan's processes, and the supervision of its items (a matter counts for its own item)."""
    tally = ClosedCaseTally
    wanted: list[ColumnElement[bool]] = []
    if keys:
        wanted.append(tally.process_key.in_(list(keys)))
    if item_ids:
        wanted.append(and_(tally.process_key == SUPERVISION, tally.plan_item_id.in_(list(item_ids))))
    return or_(*wanted) if wanted else None


def open_task_groups(
    session: Session,
    keys: Collection[str],
    item_ids: Collection[int],
    now: datetime,
    near: datetime,
    units: Collection[int] | None = None,
) -> list[OpenGroup]:
    """Open tasks of the plan's cases, counted by process (supervision cases: by supervised item), unit and department,
    with how many are overdue and how many due within the yellow window (as due_light; no due date counts as neither).
    Groups of units outside the plan's unit are left for the caller to drop.

    Issue #9: read from open_task_tally (workflows.models.tally, kept by triggers on task_index), a few rows per
    process and seat (one per due day), never the hundred thousand open task rows; supervision rows are per matter,
    joined to their plan item. `units`: only these units' groups (a district's view reads its subtree's alone).
    """
    tally = OpenTaskTally
    overdue = func.sum(case((tally.due_at < now, tally.tasks), else_=0))
    due_soon = func.sum(case((and_(tally.due_at >= now, tally.due_at <= near), tally.tasks), else_=0))
    figures = (func.sum(tally.tasks), overdue, due_soon)
    seat = (tally.org_unit_id, tally.department_code)
    scoped = [] if units is None else [tally.org_unit_id.in_(sorted(units))]
    groups: list[OpenGroup] = []
    if keys:
        by_process = (
            select(tally.process_key, *seat, *figures)
            .where(tally.process_key.in_(list(keys)), *scoped)
            .group_by(tally.process_key, *seat)
        )
        groups += [(key, None, unit, department, int(total), int(late or 0), int(soon or 0))
                   for key, unit, department, total, late, soon in session.execute(by_process) if total]  # fmt: skip
    if item_ids:
        by_matter = (
            select(SupervisionItem.plan_item_id, *seat, *figures)
            .join(SupervisionItem, SupervisionItem.instance_id == tally.instance_id)
            .where(tally.process_key == SUPERVISION, SupervisionItem.plan_item_id.in_(list(item_ids)), *scoped)
            .group_by(SupervisionItem.plan_item_id, *seat)
        )
        groups += [(SUPERVISION, item_id, unit, department, int(total), int(late or 0), int(soon or 0))
                   for item_id, unit, department, total, late, soon in session.execute(by_matter) if total]  # fmt: skip
    return groups


@lru_cache(maxsize=65536)
def seat_set(text: str) -> frozenset[Seat]:
    """A tally row's seats (the same few thousand texts come back on every page view)."""
    return frozenset(parse_seats(text))


def closed_case_groups(
    session: Session,
    keys: Collection[str],
    item_ids: Collection[int],
    period: Period,
    units: Collection[int],
    *,
    touched_by: dict[tuple[str, int], frozenset[Seat]] | None = None,
) -> dict[tuple[str, int | None, frozenset[Seat]], int]:
    """Cases of the plan's processes (and supervision cases of its items) completed in the period, counted by process,
    supervised item and the set of seats inside the plan's unit (`units`) they touched: their tasks' units and
    departments, and their home unit as a whole. Cases that touched none are left out.

    Issue #9: read from closed_case_tally (counted when each case completed, by Beijing month, process, item, home
    unit and seats; periods are whole months), a few thousand rows a year instead of every closed case's tasks.
    """
    wanted = plan_cases(keys, item_ids)
    if wanted is None:
        return {}
    tally = ClosedCaseTally
    grouped = (tally.process_key, tally.plan_item_id, tally.home_unit_id, tally.seats)
    query = (
        select(*grouped, func.sum(tally.cases))
        .where(tally.month >= period.start.replace(day=1), tally.month <= period.end, wanted)
        .group_by(*grouped)
    )
    inside = set(units)
    groups: dict[tuple[str, int | None, frozenset[Seat]], int] = defaultdict(int)
    if touched_by is None:
        touched_by = {}
    for process_key, plan_item_id, home_unit_id, text, count in session.execute(query):
        touched = touched_by.get((text, home_unit_id))
        if touched is None:
            touched = frozenset(seat for seat in seat_set(text) | {(home_unit_id, None)} if seat[0] in inside)
            touched_by[(text, home_unit_id)] = touched
        if touched and count:
            groups[(process_key, plan_item_id, touched)] += int(count)
    return groups


def urge_groups(
    session: Session, item_ids: Collection[int], period: Period
) -> list[tuple[int, int, str | None, int, datetime | None]]:
    start, end = period_bounds(period)
    rows = session.execute(
        select(PlanUrge.item_id, PlanUrge.org_unit_id, PlanUrge.department_code, func.count(),
               func.max(PlanUrge.created_at))
        .where(PlanUrge.item_id.in_(list(item_ids)), PlanUrge.created_at >= start, PlanUrge.created_at < end)
        .group_by(PlanUrge.item_id, PlanUrge.org_unit_id, PlanUrge.department_code)
    ).all()  # fmt: skip
    return [tuple(row) for row in rows]  # type: ignore[misc]


def supervised_counts(session: Session, item_ids: Collection[int]) -> dict[int, int]:
    rows = session.execute(
        select(SupervisionItem.plan_item_id, func.count())
        .where(SupervisionItem.plan_item_id.in_(list(item_ids)))
        .group_by(SupervisionItem.plan_item_id)
    )
    return {item_id: count for item_id, count in rows if item_id is not None}
