"""The department heads' dashboard of a responsibility plan (issue #8 "Dashboard for department heads").

For each work item and each responsible unit of it: open tasks, overdue tasks, tasks due within the yellow window,
cases completed in the period, the light (红黄灯), how often the unit was urged on the item (催办), and target
progress from live data (workflows.plans.metrics).

- Responsible rows: workflows.plans.responsibility (a department, a unit, or each unit of a group the plan names).
- A task belongs to a row when its case is the item's (a process the item links to, or a supervision case of the
  item) and its unit is the row's (a department row: that unit and department) or below it (a row of a unit that
  works as a whole: its subtree, so a grassroots union's task counts for its district).
- A case counts as completed for a row when it was completed in the period and touched the row: one of its tasks was
  the row's, or its home unit lies in the row's subtree.
- Open tasks are counted as of `now`, whatever the period (the period bounds completions and urges); their light is
  workflows.inbox.due_light's: red when overdue, yellow when due before the near-due limit, else green.

Issue #9 measures this page at a million task-index rows, so the counts come from tallies kept on the write path
(workflows.models.tally: open tasks by process, supervised item, seat and due day; closed cases by month and the set
of seats they touched), read with two grouped queries over the whole plan and assigned to rows in Python; never a
query per row. Target progress reads each metric once, grouped by unit, and sums it per row
(workflows.plans.metrics.ProgressReader).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import lru_cache

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.inbox import Light
from workflows.models import (
    ClosedCaseTally,
    OpenTaskTally,
    OrgUnit,
    Plan,
    PlanItem,
    PlanUrge,
    ResponsibilityRole,
    SupervisionItem,
)
from workflows.plans.metrics import ProgressReader, TargetProgress
from workflows.plans.periods import Period
from workflows.plans.responsibility import LinkedProcess, ResponsibleRow, linked_processes, plan_items, responsible_rows
from workflows.plans.tally import parse_seats

SUPERVISION = "supervision"
LIGHT_LABELS: dict[str, str] = {Light.RED.value: "红灯", Light.YELLOW.value: "黄灯", Light.GREEN.value: "绿灯"}


# --- Figures -------------------------------------------------------------------------------------------------------


@dataclass
class Figures:
    open_tasks: int = 0
    overdue: int = 0
    due_soon: int = 0
    completed_cases: int = 0
    urges: int = 0
    last_urge_at: datetime | None = None

    @property
    def light(self) -> Light:
        """红: anything overdue; 黄: anything due within the near-due window; 绿 otherwise."""
        if self.overdue:
            return Light.RED
        if self.due_soon:
            return Light.YELLOW
        return Light.GREEN

    @property
    def light_label(self) -> str:
        return LIGHT_LABELS[self.light.value]

    def add_open(self, total: int, overdue: int, due_soon: int) -> None:
        self.open_tasks += total
        self.overdue += overdue
        self.due_soon += due_soon

    def add_urges(self, count: int, last: datetime | None) -> None:
        self.urges += count
        if last is not None and (self.last_urge_at is None or last > self.last_urge_at):
            self.last_urge_at = last


@dataclass
class RowFigures:
    row: ResponsibleRow
    figures: Figures = field(default_factory=Figures)
    targets: list[TargetProgress] = field(default_factory=list)


@dataclass
class ItemFigures:
    item: PlanItem
    rows: list[RowFigures]
    totals: Figures  # the item inside the plan's unit (each task and case once), or the district's own row
    other: Figures  # tasks and cases of the item at units that are not responsible for it (e.g. 财务部 paying)
    targets: list[TargetProgress]
    processes: list[LinkedProcess]
    supervised: int  # supervised matters (督办事项) linked to the item

    @property
    def lead_label(self) -> str:
        leads = [row.row.responsibility_label for row in self.rows if row.row.role == ResponsibilityRole.LEAD]
        return "、".join(dict.fromkeys(leads))

    def row(self, org_unit_id: int, department_code: str | None) -> RowFigures | None:
        return next((r for r in self.rows if r.row.key == (org_unit_id, department_code or None)), None)


@dataclass
class PlanDashboard:
    plan: Plan
    period: Period
    now: datetime
    near_limit: datetime
    items: list[ItemFigures]

    def item(self, item_id: int) -> ItemFigures | None:
        return next((figures for figures in self.items if figures.item.id == item_id), None)


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    """The period as [start, end) instants: Beijing midnight of its first day to that after its last."""
    start = datetime.combine(period.start, time.min, tzinfo=SHANGHAI)
    end = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=SHANGHAI)
    return start, end


def _ancestors(path: str) -> list[int]:
    """The unit's own id and its ancestors' (the materialised path includes the unit)."""
    return [int(part) for part in path.strip("/").split("/") if part]


class _Assigner:
    """Maps a (unit, department) to the rows of one item it belongs to, by the unit's ancestors.

    Issue #9: the answers are kept, as thousands of tally groups ask about the same few hundred seats."""

    def __init__(self, rows: Sequence[RowFigures], ancestry: dict[int, list[int]]) -> None:
        self.exact: dict[tuple[int, str | None], list[RowFigures]] = defaultdict(list)
        self.subtree: dict[int, list[RowFigures]] = defaultdict(list)
        self.ancestry = ancestry
        self.known: dict[tuple[int, str | None], list[RowFigures]] = {}
        for row in rows:
            if row.row.covers_subtree:
                self.subtree[row.row.org_unit.id].append(row)
            else:
                self.exact[row.row.key].append(row)

    def rows_of(self, unit_id: int, department_code: str | None) -> list[RowFigures]:
        key = (unit_id, department_code)
        found = self.known.get(key)
        if found is None:
            found = list(self.exact.get(key, ()))
            for ancestor in self.ancestry[unit_id]:
                found += self.subtree.get(ancestor, ())
            self.known[key] = found
        return found


def _plan_units(session: Session, plan: Plan) -> dict[int, str]:
    """The plan unit's subtree: unit id → materialised path (rows are matched by the path's ancestors)."""
    rows = session.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.path.startswith(plan.issuing_unit.path)))
    return {unit_id: path for unit_id, path in rows}


# (process, supervised item, unit, department, open, overdue, due soon)
OpenGroup = tuple[str, int | None, int, str | None, int, int, int]


def _plan_cases(keys: Collection[str], item_ids: Collection[int]) -> ColumnElement[bool] | None:
    """Closed cases of the plan's processes, and the supervision of its items (a matter counts for its own item)."""
    tally = ClosedCaseTally
    wanted: list[ColumnElement[bool]] = []
    if keys:
        wanted.append(tally.process_key.in_(list(keys)))
    if item_ids:
        wanted.append(and_(tally.process_key == SUPERVISION, tally.plan_item_id.in_(list(item_ids))))
    return or_(*wanted) if wanted else None


def _open_task_groups(
    session: Session, keys: Collection[str], item_ids: Collection[int], now: datetime, near: datetime
) -> list[OpenGroup]:
    """Open tasks of the plan's cases, counted by process (supervision cases: by supervised item), unit and department,
    with how many are overdue and how many due within the yellow window (as due_light; no due date counts as neither).
    Groups of units outside the plan's unit are left for the caller to drop.

    Issue #9: read from open_task_tally (workflows.models.tally, kept by triggers on task_index), a few rows per
    process and seat (one per due day), never the hundred thousand open task rows; supervision rows are per matter,
    joined to their plan item.
    """
    tally = OpenTaskTally
    overdue = func.sum(case((tally.due_at < now, tally.tasks), else_=0))
    due_soon = func.sum(case((and_(tally.due_at >= now, tally.due_at <= near), tally.tasks), else_=0))
    figures = (func.sum(tally.tasks), overdue, due_soon)
    seat = (tally.org_unit_id, tally.department_code)
    groups: list[OpenGroup] = []
    if keys:
        by_process = (
            select(tally.process_key, *seat, *figures)
            .where(tally.process_key.in_(list(keys)))
            .group_by(tally.process_key, *seat)
        )
        groups += [(key, None, unit, department, int(total), int(late or 0), int(soon or 0))
                   for key, unit, department, total, late, soon in session.execute(by_process) if total]  # fmt: skip
    if item_ids:
        by_matter = (
            select(SupervisionItem.plan_item_id, *seat, *figures)
            .join(SupervisionItem, SupervisionItem.instance_id == tally.instance_id)
            .where(tally.process_key == SUPERVISION, SupervisionItem.plan_item_id.in_(list(item_ids)))
            .group_by(SupervisionItem.plan_item_id, *seat)
        )
        groups += [(SUPERVISION, item_id, unit, department, int(total), int(late or 0), int(soon or 0))
                   for item_id, unit, department, total, late, soon in session.execute(by_matter) if total]  # fmt: skip
    return groups


Seat = tuple[int, str | None]  # a unit, and the department of it that held a task (None: the unit as a whole)


@lru_cache(maxsize=65536)
def _seat_set(text: str) -> frozenset[Seat]:
    """A tally row's seats (the same few thousand texts come back on every page view)."""
    return frozenset(parse_seats(text))


def _closed_case_groups(
    session: Session, keys: Collection[str], item_ids: Collection[int], period: Period, units: Collection[int]
) -> dict[tuple[str, int | None, frozenset[Seat]], int]:
    """Cases of the plan's processes (and supervision cases of its items) completed in the period, counted by process,
    supervised item and the set of seats inside the plan's unit (`units`) they touched: their tasks' units and
    departments, and their home unit as a whole. Cases that touched none are left out.

    Issue #9: read from closed_case_tally (counted when each case completed, by Beijing month, process, item, home
    unit and seats; periods are whole months), a few thousand rows a year instead of every closed case's tasks.
    """
    wanted = _plan_cases(keys, item_ids)
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
    touched_by: dict[tuple[str, int], frozenset[Seat]] = {}  # the same seats and home recur month after month
    for process_key, plan_item_id, home_unit_id, text, count in session.execute(query):
        touched = touched_by.get((text, home_unit_id))
        if touched is None:
            touched = frozenset(seat for seat in _seat_set(text) | {(home_unit_id, None)} if seat[0] in inside)
            touched_by[(text, home_unit_id)] = touched
        if touched and count:
            groups[(process_key, plan_item_id, touched)] += int(count)
    return groups


def _urge_groups(
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


def _supervised_counts(session: Session, item_ids: Collection[int]) -> dict[int, int]:
    rows = session.execute(
        select(SupervisionItem.plan_item_id, func.count())
        .where(SupervisionItem.plan_item_id.in_(list(item_ids)))
        .group_by(SupervisionItem.plan_item_id)
    )
    return {item_id: count for item_id, count in rows if item_id is not None}


def plan_dashboard(
    session: Session,
    plan: Plan,
    period: Period,
    *,
    now: datetime,
    near_limit: datetime,
    item_ids: Collection[int] | None = None,
    own_unit_id: int | None = None,
    row_targets: bool = False,
    known: tuple[Sequence[PlanItem], Mapping[int, list[ResponsibleRow]]] | None = None,
) -> PlanDashboard:
    """The figures of the plan's items (all, or `item_ids`) for the period, as of `now`.

    `known`: the plan's items and their responsible rows when the caller has read them already (the page decides
    which items the user sees from them): not read twice.
    `own_unit_id`: a district union's view: its own row only, and the item's totals and targets are that row's.
    `row_targets`: also each unit row's target progress within its subtree (the item page, the ledger).
    `near_limit`: workflows.inbox.near_due_limit(now, NEAR_DUE_WORKING_DAYS, calendar_overrides(session)).
    """
    every_item, known_rows = known if known is not None else (plan_items(session, plan), None)
    items = [item for item in every_item if item_ids is None or item.id in item_ids]
    all_rows = known_rows if known_rows is not None else responsible_rows(session, plan, items)
    figures: dict[int, ItemFigures] = {}
    processes = linked_processes(session, items)
    supervised = _supervised_counts(session, [item.id for item in items]) if items else {}
    for item in items:
        rows = all_rows[item.id]
        if own_unit_id is not None:
            rows = [row for row in rows if row.org_unit.id == own_unit_id]
        figures[item.id] = ItemFigures(item, [RowFigures(row) for row in rows], Figures(), Figures(), [],
                                       processes[item.id], supervised.get(item.id, 0))  # fmt: skip
    if not items:
        return PlanDashboard(plan, period, now, near_limit, [])

    items_by_process: dict[str, list[int]] = defaultdict(list)
    for item in items:
        for link in item.processes:
            if link.process_key != SUPERVISION:
                items_by_process[link.process_key].append(item.id)
    ids = list(figures)

    def items_of(process_key: str, plan_item_id: int | None) -> list[int]:
        if process_key == SUPERVISION:
            return [plan_item_id] if plan_item_id in figures else []
        return items_by_process.get(process_key, [])

    whole_plan = own_unit_id is None  # a district's view has no totals beyond its own row
    units = _plan_units(session, plan)
    if own_unit_id is not None and own_unit_id in units:
        # Only the district's own row is shown: tallies of units outside its subtree cannot reach it (issue #9: the
        # busiest view, a district official's, skips the rest of the plan's groups).
        own_path = units[own_unit_id]
        units = {unit_id: path for unit_id, path in units.items() if path.startswith(own_path)}
    ancestry = {unit_id: _ancestors(path) for unit_id, path in units.items()}
    assigners = {item_id: _Assigner(item_figures.rows, ancestry) for item_id, item_figures in figures.items()}
    for process_key, plan_item_id, unit_id, department, total, overdue, due_soon in _open_task_groups(
        session, items_by_process, ids, now, near_limit
    ):
        if unit_id not in units:
            continue  # outside the plan's unit
        for item_id in items_of(process_key, plan_item_id):
            matched = assigners[item_id].rows_of(unit_id, department)
            for row in matched:
                row.figures.add_open(total, overdue, due_soon)
            if whole_plan:
                figures[item_id].totals.add_open(total, overdue, due_soon)
                if not matched:
                    figures[item_id].other.add_open(total, overdue, due_soon)

    # A case touching a row through several units (a district and a grassroots union below it) counts once.
    for (process_key, plan_item_id, seats), count in _closed_case_groups(
        session, items_by_process, ids, period, units
    ).items():
        for item_id in items_of(process_key, plan_item_id):
            touched: dict[int, RowFigures] = {}  # id(RowFigures) → row; the dataclass is not hashable
            for unit_id, department in seats:
                found = assigners[item_id].rows_of(unit_id, department)
                touched.update((id(row), row) for row in found)
            for row in touched.values():
                row.figures.completed_cases += count
            if whole_plan:
                figures[item_id].totals.completed_cases += count
                if not touched:
                    figures[item_id].other.completed_cases += count

    for item_id, unit_id, department, count, last in _urge_groups(session, ids, period):
        row_figures = figures[item_id].row(unit_id, department)
        if row_figures is not None:
            row_figures.figures.add_urges(count, last)
        if whole_plan:
            figures[item_id].totals.add_urges(count, last)

    progress = ProgressReader(session, plan.issuing_unit_id, units)
    for item in items:
        item_figures = figures[item.id]
        if not whole_plan:
            # A district sees its own row's figures as the item's, and its own progress.
            own = item_figures.rows[0] if item_figures.rows else None
            if own is not None:
                item_figures.totals = own.figures
                item_figures.targets = progress.row_progress(item, own.row, period)
        else:
            item_figures.targets = [progress.progress(target, period, plan.issuing_unit) for target in item.targets]
        if row_targets:
            for row_figures in item_figures.rows:
                row_figures.targets = progress.row_progress(item, row_figures.row, period)
    return PlanDashboard(plan, period, now, near_limit, [figures[item.id] for item in items])
