"""The lists issue #9 made fast at volume compute what they computed before (issue #9 "Inboxes at volume").

Each optimised query is compared with a plain reference over a few hundred synthetic cases of every process
(tests/volume_data.py, the generator bench/inbox_volume.py uses for its million rows) on the seeded `world`:

- `queries.viewable_cases` (SQL) with `routing.can_view_case` (Python) for every account, and for a delegate;
- the 督办台账 (visibility now in SQL, and paged) with the old way: candidates filtered in Python by can_view_case;
- the plan dashboard's open-task and closed-case figures with a count over every task row in Python, per row,
  item total and "other", for several periods, the whole plan and a district's view;
- a page of 待办 / 部门待办 / 已办 (now the page's ids first) with the plain ordered LIMIT/OFFSET query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from tests.volume_data import PROCESS_WEIGHTS, TABLES, Generator, ensure_holders, load_org, next_ids
from tests.workflow_helpers import user
from workflows.calendar import SHANGHAI
from workflows.db import Base, utcnow
from workflows.inbox import InboxFilter, Light, Sort, View, due_light, filtered_tasks, near_due_limit, task_page
from workflows.models import (
    Delegation,
    InstanceStatus,
    OrgUnit,
    Plan,
    ProcessInstance,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.plans.dashboard import SUPERVISION, plan_dashboard
from workflows.plans.periods import Period, parse_period, period_bounds
from workflows.plans.responsibility import ResponsibleRow, plan_items, responsible_rows
from workflows.plans.tally import recount_tallies
from workflows.queries import viewable_cases
from workflows.routing import RoutingTable, can_view_case, load_routing
from workflows.supervision.ledger import LedgerFilter, _candidates, ledger_page, ledger_rows

CASES = 400


@pytest.fixture
def volume(world: Session) -> Iterator[Session]:
    """The seeded world with CASES synthetic cases, an inactive account, a service account and a delegation
    (ganjingzi2 → ganjingzi1)."""
    ensure_holders(world)
    # Every process alike (the bench's mix is 70 % hazard reports): supervised matters and aid lists, whose tasks sit
    # away from their home unit, are the cases that tell the rules apart.
    weights = dict.fromkeys(PROCESS_WEIGHTS, 1)
    generator = Generator(load_org(world), utcnow(), next_ids(world), seed=20261122, weights=weights)
    rows = generator.batch(CASES)
    for name in TABLES:
        if rows[name]:
            world.execute(insert(Base.metadata.tables[name]), rows[name])
    # A bulk load writes task rows before their matters and no case passes store_case: recount the dashboard's
    # tallies, as bench/inbox_volume.py does (tests/test_dashboard_tallies.py proves the write path keeps them).
    recount_tallies(world)
    inactive = world.scalar(select(User).where(User.username.like("bench_%")).order_by(User.id).limit(1))
    assert inactive is not None
    inactive.active = False
    world.add(User(username="volume_service", display_name="服务账号", password_hash=inactive.password_hash,
                   org_unit_id=inactive.org_unit_id, role="service"))  # fmt: skip
    today = utcnow().astimezone(SHANGHAI).date()
    world.add(Delegation(principal_id=user(world, "ganjingzi2").id, delegate_id=user(world, "ganjingzi1").id,
                         starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=1)))  # fmt: skip
    world.flush()
    world.expire_all()
    yield world


def _tasks_by_case(session: Session) -> dict[int, list[TaskIndexEntry]]:
    tasks: dict[int, list[TaskIndexEntry]] = defaultdict(list)
    for entry in session.scalars(select(TaskIndexEntry).options(selectinload(TaskIndexEntry.org_unit))):
        tasks[entry.instance_id].append(entry)
    return tasks


def _python_visible(
    viewers: list[User], cases: list[ProcessInstance], tasks: dict[int, list[TaskIndexEntry]], routing: RoutingTable
) -> set[int]:
    return {
        case.id
        for case in cases
        if any(
            can_view_case(viewer, case.home_unit, case.process_key, case.started_by_id, tasks[case.id], routing)
            for viewer in viewers
        )
    }


def test_viewable_cases_is_can_view_case_for_every_account(volume: Session) -> None:
    routing = load_routing()
    cases = list(volume.scalars(select(ProcessInstance).options(selectinload(ProcessInstance.home_unit))))
    tasks = _tasks_by_case(volume)
    accounts = list(volume.scalars(select(User).options(selectinload(User.org_unit)).order_by(User.id)))
    assert len(cases) >= CASES and {account.role for account in accounts} >= {"official", "head", "admin", "service"}
    seen_some = 0
    for account in accounts:
        expected = _python_visible([account], cases, tasks, routing)
        found = set(volume.scalars(select(ProcessInstance.id).where(viewable_cases([account], routing))))
        assert found == expected, account.username
        seen_some += bool(expected)
    assert seen_some > len(accounts) // 2  # the comparison is not between empty sets

    delegate, principal = user(volume, "ganjingzi1"), user(volume, "ganjingzi2")
    expected = _python_visible([delegate, principal], cases, tasks, routing)
    found = set(volume.scalars(select(ProcessInstance.id).where(viewable_cases([delegate, principal], routing))))
    assert found == expected


def _old_ledger(session: Session, account: User, routing: RoutingTable) -> list[int]:
    """The ledger as it was computed before issue #9: SQL candidates, every candidate's tasks, can_view_case."""
    principals = [user(session, "ganjingzi2")] if account.username == "ganjingzi1" else []
    items = list(
        session.scalars(
            select(SupervisionItem)
            .join(ProcessInstance, ProcessInstance.id == SupervisionItem.instance_id)
            .where(_candidates(account, principals))
        )
    )
    tasks = _tasks_by_case(session)
    visible = _python_visible([account, *principals], [item.instance for item in items], tasks, routing)
    shown = [item for item in items if item.instance_id in visible]
    finished = {"closed", "withdrawn"}
    # Every generated matter has a deadline (SQLite and PostgreSQL sort a missing one differently).
    shown.sort(key=lambda item: (item.status in finished, -item.id if item.status in finished else 0,
                                 item.deadline, item.id))  # fmt: skip
    return [item.id for item in shown]


@pytest.mark.parametrize(
    "username", ["ganjingzi1", "ganjingzi_head", "jingji_head", "jingji1", "bangong1", "shengzong_jingji1", "admin"]
)
def test_ledger_lists_and_pages_the_matters_can_view_case_allows(volume: Session, username: str) -> None:
    routing = load_routing()
    account = user(volume, username)
    now = utcnow()
    near = near_due_limit(now)
    rows = ledger_rows(volume, account, routing, LedgerFilter(), now=now, near_limit=near)

    assert [row.item.id for row in rows] == _old_ledger(volume, account, routing)
    paged = []
    for page in range(1, 100):
        found = ledger_page(volume, account, routing, LedgerFilter(), now=now, near_limit=near, page=page, per_page=7)
        assert found.total == len(rows)
        paged += found.items
        if page >= found.pages:
            break
    assert [row.item.id for row in paged] == [row.item.id for row in rows]
    red = ledger_rows(volume, account, routing, LedgerFilter(light=Light.RED), now=now, near_limit=near)
    assert [row.item.id for row in red] == [row.item.id for row in rows if row.light == Light.RED]


# --- The plan dashboard --------------------------------------------------------------------------------------------


def _matches(row: ResponsibleRow, unit: OrgUnit, department: str | None) -> bool:
    if row.covers_subtree:
        return unit.is_within(row.org_unit)
    return (unit.id, department) == row.key


def _reference_figures(
    session: Session, plan: Plan, period: Period, now: datetime, near: datetime, own_unit_id: int | None
) -> dict[tuple[int, object], tuple[int, int, int, int]]:
    """(item, row key or "total"/"other") → (open, overdue, due soon, closed cases), from every row in Python."""
    items = plan_items(session, plan)
    all_rows = responsible_rows(session, plan, items)
    if own_unit_id is not None:
        all_rows = {key: [row for row in rows if row.org_unit.id == own_unit_id] for key, rows in all_rows.items()}
    units = {unit.id: unit for unit in session.scalars(select(OrgUnit))}
    matter_items = dict(session.execute(select(SupervisionItem.instance_id, SupervisionItem.plan_item_id)).all())
    cases = {case.id: case for case in session.scalars(select(ProcessInstance))}
    figures: dict[tuple[int, object], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def items_of(case: ProcessInstance) -> list[int]:
        if case.process_key == SUPERVISION:
            return [item.id for item in items if item.id == matter_items.get(case.id)]
        return [item.id for item in items
                if any(link.process_key == case.process_key != SUPERVISION for link in item.processes)]  # fmt: skip

    def count(item_id: int, seats: set[tuple[int, str | None]], position: int, light: Light | None = None) -> None:
        matched = {row.key for row in all_rows[item_id] for unit, dept in seats if _matches(row, units[unit], dept)}
        keys: list[object] = [*matched, "total"] + ([] if matched else ["other"])
        for key in keys:
            figures[(item_id, key)][position] += 1
            if light == Light.RED:
                figures[(item_id, key)][1] += 1
            elif light == Light.YELLOW:
                figures[(item_id, key)][2] += 1

    inside = plan.issuing_unit
    tasks = _tasks_by_case(session)
    for case_id, entries in tasks.items():
        for entry in entries:
            if entry.status == TaskStatus.READY.value and units[entry.org_unit_id].is_within(inside):
                for item_id in items_of(cases[case_id]):
                    count(item_id, {(entry.org_unit_id, entry.department_code)}, 0, due_light(entry.due_at, now, near))
    start, end = period_bounds(period)
    for case in cases.values():
        if case.status != InstanceStatus.COMPLETED.value or not (start <= case.completed_at < end):  # type: ignore[operator]
            continue
        seats = {(entry.org_unit_id, entry.department_code) for entry in tasks[case.id]}
        seats.add((case.home_unit_id, None))
        seats = {(unit, dept) for unit, dept in seats if units[unit].is_within(inside)}
        if seats:
            for item_id in items_of(case):
                count(item_id, seats, 3)
    return {key: tuple(value) for key, value in figures.items()}  # type: ignore[misc]


@pytest.mark.parametrize("period_code", ["this-year", "this-month", "last-year"])
@pytest.mark.parametrize("own_unit", [None, "210211"])
def test_dashboard_figures_equal_a_count_of_every_row(volume: Session, period_code: str, own_unit: str | None) -> None:
    plan = volume.scalar(select(Plan))
    assert plan is not None
    today = utcnow().astimezone(SHANGHAI).date()
    code = {"this-year": str(today.year), "this-month": f"{today:%Y-%m}", "last-year": str(today.year - 1)}
    period = parse_period(code[period_code], today)
    own_unit_id = volume.scalar(select(OrgUnit.id).where(OrgUnit.code == own_unit)) if own_unit else None
    now = utcnow()
    near = near_due_limit(now)
    dashboard = plan_dashboard(volume, plan, period, now=now, near_limit=near, own_unit_id=own_unit_id)
    expected = _reference_figures(volume, plan, period, now, near, own_unit_id)

    found: dict[tuple[int, object], tuple[int, int, int, int]] = {}
    for item_figures in dashboard.items:
        parts = [(row.row.key, row.figures) for row in item_figures.rows]
        if own_unit_id is None:
            parts += [("total", item_figures.totals), ("other", item_figures.other)]
        for key, figures in parts:
            values = (figures.open_tasks, figures.overdue, figures.due_soon, figures.completed_cases)
            if any(values):
                found[(item_figures.item.id, key)] = values
    wanted = {key: value for key, value in expected.items() if own_unit_id is None or key[1] not in ("total", "other")}
    assert found == wanted
    assert sum(value[0] for value in found.values()) > 0 and (
        period_code == "this-month" or sum(value[3] for value in found.values()) > 0
    )


# --- 待办, 部门待办, 已办 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["ganjingzi1", "ganjingzi_head", "jingji_head", "jingji1", "caiwu1"])
@pytest.mark.parametrize(
    "wanted",
    [
        InboxFilter(),
        InboxFilter(sort=Sort.NEWEST),
        InboxFilter(sort=Sort.OLDEST, light=Light.RED),
        InboxFilter(process="hazard_report", light=Light.GREEN),
    ],
)
def test_task_pages_are_the_plain_ordered_query(volume: Session, username: str, wanted: InboxFilter) -> None:
    account = user(volume, username)
    principals = [user(volume, "ganjingzi2")] if username == "ganjingzi1" else []
    now = utcnow()
    near = near_due_limit(now)
    for view in (View.MINE, View.QUEUE, View.DONE):
        query = filtered_tasks(account, view, wanted, now, near, principals)
        everything = [entry.id for entry in volume.scalars(query)]
        for page in (1, 2, 3):
            found = task_page(volume, account, view, wanted, now=now, near_limit=near, page=page, per_page=7,
                              principals=principals)  # fmt: skip
            assert found.total == len(everything)
            assert [entry.id for entry in found.items] == everything[(page - 1) * 7 : page * 7], (view, page)
    assert everything  # the last view (已办) is not empty for these accounts
