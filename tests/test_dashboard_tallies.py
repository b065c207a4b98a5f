"""The plan dashboard's tallies (issue #9 §2) stay equal to a recount through the write path, and give the figures the
grouped scans gave before them.

- open_task_tally is kept by triggers on task_index: starts, completions, claims and releases, 退回, 撤回, 转办-free
  moves of a task to another department or due day, a supervised matter written directly, a deleted case;
- closed_case_tally gets a case when store_case completes it, once;
- after each stage the tallies equal `recount_tallies`' count and the dashboard's open / closed groups equal the
  grouped queries over task_index and process_instance the dashboard ran before the tallies (kept here);
- the integrity check reports a drifted tally and a missing trigger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import date, datetime, timedelta

from sqlalchemy import String, and_, case, cast, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from tests.migration_helpers import migrate_below_and_back
from tests.plan_helpers import NOW, beijing, demo_plan, plan_item, supervised_matter
from tests.studio_helpers import apply, open_studio_call
from tests.test_hazard_process import (
    OPINION,
    feedback,
    payment_record,
    rectify,
    register_and_triage,
    reply_and_reinspect,
    verify,
)
from tests.workflow_helpers import complete, open_task, seed_demo_world, start_report, user
from workflows.db import make_engine
from workflows.demo_supervision import seed_demo_supervision
from workflows.engine.runtime import load_workflow
from workflows.inbox import near_due_limit
from workflows.migrate import upgrade_database
from workflows.models import (
    ClosedCaseTally,
    InstanceStatus,
    OpenTaskTally,
    OrgUnit,
    ProcessInstance,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
)
from workflows.models.tally import TRIGGERS
from workflows.operations import claim_task, release_task
from workflows.organisation import unit_by_code
from workflows.plans.dashboard import SUPERVISION
from workflows.plans.periods import Period, parse_period, period_bounds
from workflows.plans.responsibility import plan_items
from workflows.plans.tally import (
    check_tallies,
    compact_tallies,
    parse_seats,
    recount_tallies,
    stored_closed,
    stored_open,
    tally_differences,
)
from workflows.plans.tally_reads import Seat, closed_case_groups, open_task_groups
from workflows.rollback import return_targets, return_task, withdraw_task
from workflows.steps import engine_task

# --- the grouped scans the dashboard ran before the tallies (issue #9, session 1) ------------------------------------


def scanned_open_groups(
    session: Session, keys: Collection[str], item_ids: Collection[int], now: datetime, near: datetime
) -> set[tuple[str, int | None, int, str | None, int, int, int]]:
    overdue = func.sum(case((TaskIndexEntry.due_at < now, 1), else_=0))
    due_soon = func.sum(case((and_(TaskIndexEntry.due_at >= now, TaskIndexEntry.due_at <= near), 1), else_=0))
    is_open = TaskIndexEntry.status == TaskStatus.READY.value
    seat = (TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
    by_process = (
        select(TaskIndexEntry.process_key, *seat, func.count(), overdue, due_soon)
        .where(is_open, TaskIndexEntry.process_key.in_(list(keys)))
        .group_by(TaskIndexEntry.process_key, *seat)
    )
    by_matter = (
        select(SupervisionItem.plan_item_id, *seat, func.count(), overdue, due_soon)
        .join(SupervisionItem, SupervisionItem.instance_id == TaskIndexEntry.instance_id)
        .where(is_open, TaskIndexEntry.process_key == SUPERVISION, SupervisionItem.plan_item_id.in_(list(item_ids)))
        .group_by(SupervisionItem.plan_item_id, *seat)
    )
    groups = {(key, None, unit, department, total, late or 0, soon or 0)
              for key, unit, department, total, late, soon in session.execute(by_process)}  # fmt: skip
    groups |= {(SUPERVISION, item_id, unit, department, total, late or 0, soon or 0)
               for item_id, unit, department, total, late, soon in session.execute(by_matter)}  # fmt: skip
    return groups


def scanned_closed_groups(
    session: Session, keys: Collection[str], item_ids: Collection[int], period: Period, units: Collection[int]
) -> dict[tuple[str, int | None, frozenset[Seat]], int]:
    start, end = period_bounds(period)
    matters = select(SupervisionItem.instance_id).where(SupervisionItem.plan_item_id.in_(list(item_ids)))
    closed = (
        ProcessInstance.status == InstanceStatus.COMPLETED.value,
        ProcessInstance.completed_at >= start,
        ProcessInstance.completed_at < end,
        or_(
            ProcessInstance.process_key.in_(list(keys)),
            and_(ProcessInstance.process_key == SUPERVISION, ProcessInstance.id.in_(matters)),
        ),
    )
    seat_columns = (TaskIndexEntry.instance_id, TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
    seats = (
        select(*seat_columns).join(ProcessInstance, ProcessInstance.id == TaskIndexEntry.instance_id).where(*closed)
        .group_by(*seat_columns)
        .subquery()
    )  # fmt: skip
    seat_text = cast(seats.c.org_unit_id, String) + ":" + func.coalesce(seats.c.department_code, "")
    per_case = (
        select(seats.c.instance_id, func.aggregate_strings(seat_text, ",").label("seats"))
        .group_by(seats.c.instance_id)
        .subquery()
    )
    grouped = (
        ProcessInstance.process_key,
        SupervisionItem.plan_item_id,
        ProcessInstance.home_unit_id,
        per_case.c.seats,
    )
    query = (
        select(*grouped, func.count())
        .outerjoin(per_case, per_case.c.instance_id == ProcessInstance.id)
        .outerjoin(SupervisionItem, SupervisionItem.instance_id == ProcessInstance.id)
        .where(*closed)
        .group_by(*grouped)
    )
    inside = set(units)
    groups: dict[tuple[str, int | None, frozenset[Seat]], int] = defaultdict(int)
    for process_key, plan_item_id, home_unit_id, text_, count in session.execute(query):
        touched = frozenset(seat for seat in parse_seats(text_ or "") | {(home_unit_id, None)} if seat[0] in inside)
        if touched:
            groups[(process_key, plan_item_id, touched)] += count
    return groups


# --- checks ---------------------------------------------------------------------------------------------------------


def assert_consistent(world: Session, now: datetime = NOW) -> None:
    """The tallies equal a recount, and the dashboard's groups equal the scans, for the whole plan."""
    world.flush()
    assert tally_differences(world) == []
    assert check_tallies(world) == []
    plan = demo_plan(world)
    items = plan_items(world, plan)
    keys = sorted({link.process_key for item in items for link in item.processes if link.process_key != SUPERVISION})
    ids = [item.id for item in items]
    near = near_due_limit(now)
    scanned = scanned_open_groups(world, keys, ids, now, near)
    assert set(open_task_groups(world, keys, ids, now, near)) == scanned
    district = unit_by_code(world, "210211")  # 甘井子区: a district's view reads its subtree's groups alone
    subtree = set(world.scalars(select(OrgUnit.id).where(OrgUnit.path.startswith(district.path))))
    in_subtree = {group for group in scanned if group[2] in subtree}
    assert set(open_task_groups(world, keys, ids, now, near, subtree)) == in_subtree
    units = [unit_id for (unit_id,) in world.execute(text("SELECT id FROM org_unit"))]
    for code in ("2026", "2026-Q4", "2026-11", "2026-10", "2025"):
        period = parse_period(code, date(2026, 11, 18))
        assert closed_case_groups(world, keys, ids, period, units) == scanned_closed_groups(
            world, keys, ids, period, units
        ), code


def open_total(world: Session) -> int:
    return sum(stored_open(world).values())


def test_the_write_path_keeps_the_tallies(world: Session) -> None:
    assert_consistent(world)
    baseline = open_total(world)

    # Starts and completions: a closed hazard case, through every step to 反馈.
    closed = start_report(world)
    register_and_triage(world, closed)
    verify(world, closed, "属实", "一般")
    rectify(world, closed)
    reply_and_reinspect(world, closed)
    complete(world, "jingji1", closed, "reward_decision", {"decision": "同意", "reward_amount": "300", **OPINION})
    complete(world, "caiwu1", closed, "reward_payment", payment_record("300"))
    assert_consistent(world)
    feedback(world, closed)
    assert closed.status == InstanceStatus.COMPLETED
    assert sum(stored_closed(world).values()) >= 1
    assert_consistent(world)

    # Claim, release, 退回 and 撤回 on a second case.
    waiting = start_report(world, location="二号车间行车轨道")
    assert open_total(world) == baseline + 1
    register = open_task(world, waiting, "register_report")
    official = user(world, "ganjingzi1")
    claim_task(world, official, waiting.id, register.task_id)
    release_task(world, official, waiting.id, register.task_id)
    assert_consistent(world)
    done = complete(world, "ganjingzi1", waiting, "register_report", {"decision": "受理", **OPINION})
    withdraw_task(world, official, waiting.id, done.approval_step.task_id, "查重有误")
    assert_consistent(world)
    register_and_triage(world, waiting)
    verify_entry = open_task(world, waiting, "verify")
    triage_id = next(
        str(task.id)
        for task in return_targets(engine_task(load_workflow(waiting), verify_entry.task_id))
        if task.task_spec.bpmn_id == "triage"
    )
    return_task(world, official, waiting.id, verify_entry.task_id, triage_id, "分级依据不足")
    assert_consistent(world)

    # A studio application turned down by its district: completed at once.
    open_studio_call(world)
    turned_down = apply(world, "xinghai_gonghui", enterprise_uscc="91210204MA0TEN001X",
                        studio_name="钱丽萍职工创新工作室", studio_type="职工创新工作室", lead_honour="无")  # fmt: skip
    complete(world, "shahekou1", turned_down, "district_recommend", {"decision": "不予推荐", "opinion": "条件不具备。"})
    assert turned_down.status == InstanceStatus.COMPLETED
    assert_consistent(world)

    # Supervised matters written directly (the row before or after its task: the tally is per case either way).
    matter = supervised_matter(world, plan_item(world, 13), unit_code="210211", department=None,
                               due_at=beijing(date(2026, 11, 17)))  # fmt: skip
    supervised_matter(world, None, title="与方案无关的督办")
    assert_consistent(world)

    # A task moves to another department and another due day; NULL department and due date key like any other.
    triage = open_task(world, waiting, "triage")
    triage.department_code = "office"
    triage.due_at = None
    world.flush()
    assert_consistent(world)
    triage.department_code, triage.due_at = None, beijing(date(2026, 11, 19))
    world.flush()
    assert_consistent(world)
    world.execute(update(TaskIndexEntry).where(TaskIndexEntry.instance_id == matter.instance_id)
                  .values(status=TaskStatus.COMPLETED.value))  # fmt: skip
    assert_consistent(world)

    # Deleted task rows (a case's index rebuilt from nothing) leave no count behind.
    world.execute(delete(TaskIndexEntry).where(TaskIndexEntry.instance_id == waiting.id))
    assert_consistent(world)
    assert open_total(world) == baseline + 1  # the unrelated matter's task; the cases' are closed or gone


def test_a_completed_case_counts_once_in_its_beijing_month(world: Session) -> None:
    open_studio_call(world)
    case_ = apply(world, "xinghai_gonghui", enterprise_uscc="91210204MA0TEN001X", studio_name="钱丽萍职工创新工作室",
                  studio_type="职工创新工作室", lead_honour="无")  # fmt: skip
    before = sum(stored_closed(world).values())
    complete(world, "shahekou1", case_, "district_recommend", {"decision": "不予推荐", "opinion": "条件不具备。"})
    rows = world.scalars(select(ClosedCaseTally).where(ClosedCaseTally.process_key == "studio_naming")).all()
    assert sum(stored_closed(world).values()) == before + 1
    assert case_.completed_at is not None
    completed = case_.completed_at + timedelta(hours=8)  # Beijing
    assert any(row.month == date(completed.year, completed.month, 1) and row.cases >= 1 for row in rows)
    assert_consistent(world)


def test_changes_append_and_compaction_folds_them_without_changing_a_count(world: Session) -> None:
    """A step appends its +1 / -1 rather than updating a shared row (no waiting or deadlock between two steps of one
    queue); compaction (each scheduler pass) leaves one row per key and every sum as it was."""
    cases = [start_report(world, location=f"{n}号仓库") for n in range(3)]
    for case_ in cases:
        register_and_triage(world, case_)
    world.flush()
    rows_before = world.scalar(select(func.count()).select_from(OpenTaskTally)) or 0
    opened, closed = stored_open(world), stored_closed(world)
    assert rows_before > len(opened)  # the appended deltas, with keys that now sum to zero among them

    removed = compact_tallies(world)

    keys = select(OpenTaskTally.process_key, OpenTaskTally.instance_id, OpenTaskTally.org_unit_id,
                  OpenTaskTally.department_code, OpenTaskTally.due_at).distinct().subquery()  # fmt: skip
    assert world.scalar(select(func.count()).select_from(OpenTaskTally)) == len(opened)
    assert world.scalar(select(func.count()).select_from(keys)) == len(opened)
    assert removed >= rows_before - len(opened)
    assert stored_open(world) == opened and stored_closed(world) == closed
    assert world.scalar(select(func.count()).where(OpenTaskTally.tasks == 0)) == 0
    assert_consistent(world)
    assert compact_tallies(world) == 0  # folded already: nothing to remove


def test_the_check_reports_a_drifted_tally_and_a_missing_trigger(world: Session) -> None:
    start_report(world)
    world.flush()
    assert check_tallies(world) == []
    world.execute(update(OpenTaskTally).values(tasks=OpenTaskTally.tasks + 1))
    findings = check_tallies(world)
    assert findings and all(f.check == "tally" for f in findings)
    recount_tallies(world)
    assert check_tallies(world) == []

    dialect = world.get_bind().dialect.name
    on_table = " ON task_index" if dialect == "postgresql" else ""
    world.execute(text(f"DROP TRIGGER {TRIGGERS[0]}{on_table}"))
    assert any("触发器" in f.message for f in check_tallies(world))


def test_migration_0012_fills_the_tallies_the_write_path_keeps(fresh_database_url: str) -> None:
    """Demo cases and matters started through the services on a migrated database; migrating down past 0012 and up
    again (its fill from the existing rows) gives the tallies the write path had kept."""
    engine = make_engine(fresh_database_url)
    try:
        upgrade_database(engine)
        with Session(engine) as session, session.begin():
            seed_demo_world(session)
            seed_demo_supervision(session)
        with Session(engine) as session:
            kept = (stored_open(session), stored_closed(session))
            assert sum(kept[0].values()) > 0
            assert tally_differences(session) == [] and check_tallies(session) == []

        migrate_below_and_back(engine, "0011_inbox_indexes", "open_task_tally")
        with Session(engine) as session:
            assert (stored_open(session), stored_closed(session)) == kept
            assert check_tallies(session) == []
    finally:
        engine.dispose()


def test_a_recount_leaves_the_tally_no_bigger_than_its_rows(world: Session) -> None:
    """A bulk load appends a row per task change; the recount after it leaves one row per key and, on PostgreSQL, a
    table file of that size (TRUNCATE): with DELETE the dead rows' pages stayed in the file (VACUUM makes them
    reusable, a scan still reads them) and every dashboard view scanned them (946 pages for 3,819 rows at issue #9's
    volume). A tally object loaded before the recount does not outlive its row."""
    start_report(world)
    world.flush()
    postgres = world.get_bind().dialect.name == "postgresql"
    unit_id = world.scalar(select(OrgUnit.id).limit(1))
    appended = 20_000 if postgres else 200  # enough rows for a hundred pages; SQLite's file is checked by count
    world.execute(
        OpenTaskTally.__table__.insert(),
        [{"process_key": "hazard_report", "org_unit_id": unit_id, "department_code": None, "tasks": 0}] * appended,
    )
    loaded = world.scalars(select(OpenTaskTally).where(OpenTaskTally.tasks == 0).limit(1)).one()
    size = text("SELECT pg_relation_size('open_task_tally') / 8192")
    if postgres:
        assert (world.scalar(size) or 0) > 100

    recount_tallies(world)

    assert loaded not in world
    assert world.scalar(select(func.count()).select_from(OpenTaskTally)) == len(stored_open(world))
    assert world.scalar(select(func.count()).where(OpenTaskTally.tasks == 0)) == 0
    assert_consistent(world)
    if postgres:
        assert (world.scalar(size) or 0) <= 2
