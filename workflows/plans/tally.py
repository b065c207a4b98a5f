"""The plan dashboard's kept counts (issue #9 §2): closed cases counted as they complete; recounts of the tallies.

workflows.models.tally, .metric_tally and .queue_tally describe the tables. Open tasks, queues and the hazard metrics'
monthly sums are kept by database triggers; a completed case is added here, from workflows.steps.store_case, in the
transaction that completes it: completion is final and happens in one place (workflows.steps._save_state), so each
case is counted once. `recount_tallies` rebuilds the tables from task_index, process_instance and hazard_report
(the migrations' fill, bulk loads, restores); `check_tallies` (run by workflows.integrity) compares them with a
recount and finds the triggers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, case, delete, func, insert, select, text
from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.db import Base
from workflows.findings import Finding
from workflows.models import (
    ClosedCaseTally,
    HazardReport,
    InstanceStatus,
    MetricTally,
    OpenTaskTally,
    ProcessInstance,
    QueueTally,
    SupervisionItem,
    TaskIndexEntry,
    TaskStatus,
)
from workflows.models.metric_tally import HAZARD_TRIGGERS, REWARDS_METRIC, VERIFIED_METRIC
from workflows.models.queue_tally import queue_trigger_names
from workflows.models.reference import replace_token
from workflows.models.tally import trigger_names
from workflows.policy.hazard import VERIFIED_RESULTS

SUPERVISION = "supervision"
OPEN_TABLE: Table = OpenTaskTally.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
CLOSED_TABLE: Table = ClosedCaseTally.__table__  # type: ignore[assignment]
METRIC_TABLE: Table = MetricTally.__table__  # type: ignore[assignment]
QUEUE_TABLE: Table = QueueTally.__table__  # type: ignore[assignment]
SEAT_SEPARATOR, LIST_SEPARATOR = ":", ","  # neither occurs in a department code

OpenKey = tuple[str, int | None, int, str | None, datetime | None]  # process, case, unit, department, due
ClosedKey = tuple[date, str, int | None, int, str]  # month, process, plan item, home unit, seats
MetricKey = tuple[str, date, int]  # metric, month, unit
QueueKey = tuple[int, str | None]  # unit, department


def completion_month(completed_at: datetime) -> date:
    """The first day of the Beijing month of a completion (the dashboard's periods are whole months)."""
    return completed_at.astimezone(SHANGHAI).date().replace(day=1)


def seats_text(seats: Iterable[tuple[int, str | None]]) -> str:
    """A case's distinct seats in one canonical text ("12:jingji,40:"), so equal sets share a tally row."""
    return LIST_SEPARATOR.join(sorted({f"{unit}{SEAT_SEPARATOR}{department or ''}" for unit, department in seats}))


def parse_seats(text: str) -> set[tuple[int, str | None]]:
    return {
        (int(unit), department or None)
        for unit, _, department in (part.partition(SEAT_SEPARATOR) for part in text.split(LIST_SEPARATOR))
        if unit
    }


def _add_closed(session: Session, key: ClosedKey, cases: int) -> None:
    """Append `cases` for the key (readers sum; compact_tallies folds the rows)."""
    month, process_key, plan_item_id, home_unit_id, seats = key
    values = {"month": month, "process_key": process_key, "plan_item_id": plan_item_id,
              "home_unit_id": home_unit_id, "seats": seats, "cases": cases}  # fmt: skip
    session.execute(_APPEND_CLOSED, values)


_APPEND_CLOSED = insert(CLOSED_TABLE)


def count_closed_case(session: Session, instance: ProcessInstance) -> None:
    """Add the case to closed_case_tally if the step just saved completed it (called by store_case after the index
    is rebuilt, so its seats are final); nothing, and no statement, otherwise."""
    if instance.status != InstanceStatus.COMPLETED.value or instance.completed_at is None:
        return
    seats = session.execute(
        select(TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
        .where(TaskIndexEntry.instance_id == instance.id)
        .distinct()
    )
    plan_item_id = None
    if instance.process_key == SUPERVISION:
        matter = select(SupervisionItem.plan_item_id).where(SupervisionItem.instance_id == instance.id)
        plan_item_id = session.scalar(matter)
    key = (completion_month(instance.completed_at), instance.process_key, plan_item_id, instance.home_unit_id,
           seats_text((unit, department) for unit, department in seats))  # fmt: skip
    _add_closed(session, key, 1)


# --- recounts -------------------------------------------------------------------------------------------------------


def expected_open(session: Session) -> Counter[OpenKey]:
    """Open tasks by the tally's key, from task_index (what the triggers keep)."""
    case_id = case((TaskIndexEntry.process_key == SUPERVISION, TaskIndexEntry.instance_id), else_=None)
    key = (TaskIndexEntry.process_key, case_id, TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code,
           TaskIndexEntry.due_at)  # fmt: skip
    is_open = TaskIndexEntry.status == TaskStatus.READY.value
    rows = session.execute(select(*key, func.count()).where(is_open).group_by(*key))
    return Counter({(p, i, u, d, due): n for p, i, u, d, due, n in rows})


def expected_closed(session: Session) -> Counter[ClosedKey]:
    """Completed cases by the tally's key. Two plain reads (each completed case's distinct seats, then the cases),
    joined here: one statement aggregating the seats inside the join left PostgreSQL's planner, with statistics from
    a near-empty table, re-aggregating the task rows for every case."""
    completed = ProcessInstance.status == InstanceStatus.COMPLETED.value
    seats: dict[int, set[tuple[int, str | None]]] = defaultdict(set)
    for instance_id, unit_id, department in session.execute(
        select(TaskIndexEntry.instance_id, TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
        .join(ProcessInstance, ProcessInstance.id == TaskIndexEntry.instance_id)
        .where(completed)
        .distinct()
    ):
        seats[instance_id].add((unit_id, department))
    item = case((ProcessInstance.process_key == SUPERVISION, SupervisionItem.plan_item_id), else_=None)
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.completed_at, ProcessInstance.process_key, item,
               ProcessInstance.home_unit_id)
        .outerjoin(SupervisionItem, SupervisionItem.instance_id == ProcessInstance.id)
        .where(completed, ProcessInstance.completed_at.is_not(None))
    )  # fmt: skip
    counts: Counter[ClosedKey] = Counter()
    for instance_id, completed_at, process_key, plan_item_id, home_unit_id in rows:
        counts[(completion_month(completed_at), process_key, plan_item_id, home_unit_id,
                seats_text(seats.get(instance_id, ())))] += 1  # fmt: skip
    return counts


def stored_open(session: Session) -> Counter[OpenKey]:
    key = (OpenTaskTally.process_key, OpenTaskTally.instance_id, OpenTaskTally.org_unit_id,
           OpenTaskTally.department_code, OpenTaskTally.due_at)  # fmt: skip
    rows = session.execute(select(*key, func.sum(OpenTaskTally.tasks)).group_by(*key))
    return Counter({(p, i, u, d, due): int(n) for p, i, u, d, due, n in rows if n})


def stored_closed(session: Session) -> Counter[ClosedKey]:
    key = (ClosedCaseTally.month, ClosedCaseTally.process_key, ClosedCaseTally.plan_item_id,
           ClosedCaseTally.home_unit_id, ClosedCaseTally.seats)  # fmt: skip
    rows = session.execute(select(*key, func.sum(ClosedCaseTally.cases)).group_by(*key))
    return Counter({(m, p, i, u, s): int(n) for m, p, i, u, s, n in rows if n})


def expected_metrics(session: Session) -> Counter[MetricKey]:
    """The hazard metrics' monthly sums from hazard_report (what its triggers keep): verified reports by the Beijing
    month they were received, rewards in fen by the month they were paid."""
    counts: Counter[MetricKey] = Counter()
    verified = HazardReport.verification_result.in_(VERIFIED_RESULTS)
    for received_at, unit_id in session.execute(
        select(HazardReport.received_at, HazardReport.home_unit_id).where(verified)
    ):
        counts[(VERIFIED_METRIC, completion_month(received_at), unit_id)] += 1
    paid = HazardReport.reward_paid_on.is_not(None) & HazardReport.reward_amount.is_not(None)
    rewards = select(HazardReport.reward_paid_on, HazardReport.home_unit_id, HazardReport.reward_amount).where(paid)
    for paid_on, unit_id, amount in session.execute(rewards):
        if paid_on is not None and amount is not None:  # always (the statement's condition); for the type checker
            counts[(REWARDS_METRIC, paid_on.replace(day=1), unit_id)] += int(
                (Decimal(amount) * 100).to_integral_value()
            )
    return counts


def stored_metrics(session: Session) -> Counter[MetricKey]:
    key = (MetricTally.metric, MetricTally.month, MetricTally.org_unit_id)
    rows = session.execute(select(*key, func.sum(MetricTally.value)).group_by(*key))
    return Counter({(m, month, u): int(n) for m, month, u, n in rows if n})


def expected_queue(session: Session) -> Counter[QueueKey]:
    """Ready, unclaimed tasks by unit and department, from task_index (what queue_tally's triggers keep)."""
    key = (TaskIndexEntry.org_unit_id, TaskIndexEntry.department_code)
    queued = (TaskIndexEntry.status == TaskStatus.READY.value, TaskIndexEntry.claimed_by_id.is_(None))
    rows = session.execute(select(*key, func.count()).where(*queued).group_by(*key))
    return Counter({(u, d): n for u, d, n in rows})


def stored_queue(session: Session) -> Counter[QueueKey]:
    key = (QueueTally.org_unit_id, QueueTally.department_code)
    rows = session.execute(select(*key, func.sum(QueueTally.tasks)).group_by(*key))
    return Counter({(u, d): int(n) for u, d, n in rows if n})


def recount_tallies(session: Session) -> None:
    """Rebuild the tallies from task_index, process_instance and hazard_report (flushes; the caller commits).

    Replaces the reference token: pages keep figures of settled months with the plan structure it keys
    (workflows.plans.structure.PlanStructure.settled), and a recount may change them."""
    recount_task_tallies(session)
    recount_metric_tally(session)
    recount_queue_tally(session)
    replace_token(session.connection())


def _clear(session: Session, model: type[Base]) -> None:
    """Empty a tally before its recount. PostgreSQL: TRUNCATE, which gives the table a new, empty file (a bulk load's
    appended rows left open_task_tally at 946 pages for 3,819 live rows; VACUUM makes such space reusable, but a
    scan still reads every page, and every dashboard view scanned them all: issue #9) and holds writers' triggers
    until the recount commits, so no step's change falls between the recount's read and its write. Its lock holds
    the dashboards' reads too: recounts run in maintenance (a restore, a migration, a bulk load), never in a request.
    Elsewhere an ORM DELETE (SQLite's writers wait for the file's lock). Either way no tally object loaded in the
    session outlives its row."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"TRUNCATE {model.__tablename__}"))  # a table of ours, never user input
        for loaded in [instance for instance in session.identity_map.values() if isinstance(instance, model)]:
            session.expunge(loaded)
    else:
        session.execute(delete(model))


def recount_queue_tally(session: Session) -> None:
    """Rebuild queue_tally from task_index (migration 0018's fill)."""
    session.flush()
    _clear(session, QueueTally)
    queued = expected_queue(session)
    if queued:
        session.execute(insert(QueueTally), [
            {"org_unit_id": u, "department_code": d, "tasks": n} for (u, d), n in queued.items()
        ])  # fmt: skip


def recount_task_tallies(session: Session) -> None:
    """Rebuild open_task_tally and closed_case_tally (migration 0012 fills these two only)."""
    session.flush()
    _clear(session, OpenTaskTally)
    _clear(session, ClosedCaseTally)
    opened = expected_open(session)
    closed = expected_closed(session)
    if opened:
        session.execute(insert(OpenTaskTally), [
            {"process_key": p, "instance_id": i, "org_unit_id": u, "department_code": d, "due_at": due, "tasks": n}
            for (p, i, u, d, due), n in opened.items()
        ])  # fmt: skip
    if closed:
        session.execute(insert(ClosedCaseTally), [
            {"month": m, "process_key": p, "plan_item_id": i, "home_unit_id": u, "seats": s, "cases": n}
            for (m, p, i, u, s), n in closed.items()
        ])  # fmt: skip


def recount_metric_tally(session: Session) -> None:
    """Rebuild metric_tally from hazard_report (migration 0014's fill)."""
    session.flush()
    _clear(session, MetricTally)
    metrics = expected_metrics(session)
    if metrics:
        session.execute(insert(MetricTally), [
            {"metric": m, "month": month, "org_unit_id": u, "value": n} for (m, month, u), n in metrics.items() if n
        ])  # fmt: skip


def _differences(name: str, stored: Counter[Any], expected: Counter[Any]) -> list[str]:
    return [
        f"{name} {key}: 记录 {stored[key]}，重新统计 {expected[key]}"
        for key in sorted(stored.keys() | expected.keys(), key=repr)
        if stored[key] != expected[key]
    ]


def tally_differences(session: Session) -> list[str]:
    """How the stored tallies differ from a recount (empty when they agree), a line per differing key."""
    return (
        _differences("open_task_tally", stored_open(session), expected_open(session))
        + _differences("closed_case_tally", stored_closed(session), expected_closed(session))
        + _differences("metric_tally", stored_metrics(session), expected_metrics(session))
        + _differences("queue_tally", stored_queue(session), expected_queue(session))
    )


def _fold(session: Session, table: Table, count: str) -> int:
    """Replace the table's rows by one per key with their sum (zero sums dropped); returns the rows removed.

    One DELETE … RETURNING takes the rows it folds, so a row another transaction commits meanwhile is either folded
    (deleted and summed) or left for the next pass, never deleted unsummed."""
    keys = [column for column in table.c if column.key not in ("id", count)]
    taken = session.execute(delete(table).returning(*keys, table.c[count])).all()
    sums: Counter[tuple[Any, ...]] = Counter()
    for *key, n in taken:
        sums[tuple(key)] += n
    folded = [{**dict(zip((c.key for c in keys), key, strict=True)), count: n} for key, n in sums.items() if n]
    if folded:
        session.execute(insert(table), folded)
    return len(taken) - len(folded)


def compact_tallies(session: Session) -> int:
    """Fold each tally to one row per key (the scheduler's pass; the counts are unchanged). Returns rows removed."""
    session.flush()
    return (
        _fold(session, OPEN_TABLE, "tasks")
        + _fold(session, CLOSED_TABLE, "cases")
        + _fold(session, METRIC_TABLE, "value")
        + _fold(session, QUEUE_TABLE, "tasks")
    )


# --- the integrity check (workflows.integrity.run_checks) ---------------------------------------------------------

# Differences listed one by one up to this many (a lost trigger makes thousands); the rest are counted.
TALLY_LINES = 20


def present_triggers(session: Session, table: str) -> set[str]:
    """The names of the triggers on `table` (a name of ours, never user input)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        query = text(f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = '{table}'")
    elif dialect == "postgresql":
        query = text(f"SELECT tgname FROM pg_trigger WHERE tgrelid = '{table}'::regclass AND NOT tgisinternal")
    else:
        return set()
    return {str(name) for name in session.scalars(query)}


def check_tallies(session: Session) -> list[Finding]:
    """The tallies equal a recount, and the triggers keeping them exist."""
    findings = []
    dialect = session.get_bind().dialect.name
    missing = set(trigger_names(dialect) + queue_trigger_names(dialect)) - present_triggers(session, "task_index")
    if missing:
        findings.append(Finding("tally", "task_index", f"缺少维护待办统计的触发器：{'、'.join(sorted(missing))}"))
    missing = set(HAZARD_TRIGGERS) - present_triggers(session, "hazard_report")
    if missing:
        names = "、".join(sorted(missing))
        findings.append(Finding("tally", "hazard_report", f"缺少维护隐患指标统计的触发器：{names}"))
    differences = tally_differences(session)
    findings += [Finding("tally", "责任分工统计", f"统计与重新计数不符：{line}") for line in differences[:TALLY_LINES]]
    if len(differences) > TALLY_LINES:
        findings.append(Finding("tally", "责任分工统计", f"另有 {len(differences) - TALLY_LINES} 处不符"))
    return findings
