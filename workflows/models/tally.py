"""Counts the plan dashboard reads instead of scanning a million task rows (issue #9 §2, "责任分工 under 30 ms").

- `open_task_tally`: open (ready) task-index rows by process, case (supervision tasks only: the dashboard joins the
  few open matters to their plan item, so the triggers read no other table), unit, department and due instant. Kept
  by DATABASE TRIGGERS on task_index (insert, delete, and an update that moves a row into, out of or between keys),
  so every writer of the index keeps it right in the same transaction: workflows.task_index, a backup restore, the
  benches' and tests' bulk loads. due_at is always the end of a Beijing day, so a (process, seat) has a few rows and
  overdue / due-soon are sums over due_at ranges.
- `closed_case_tally`: completed cases by Beijing month of completion, process, supervised plan item, home unit and
  the seats (unit:department) their tasks touched. Completion is final and happens once (workflows.steps._save_state),
  so workflows.plans.tally.count_closed_case adds the case from store_case; no trigger.

Both tables are append-only between compactions: a change inserts its +1 / -1 (never updates a shared row, so two
concurrent steps never wait on, or deadlock over, the count of a busy queue), readers SUM by key, and
workflows.plans.tally.compact_tallies (each scheduler pass) folds the rows into one per key.
workflows.plans.tally.recount_tallies rebuilds both from their sources; workflows.integrity compares them.

SQLite drops a table's triggers with the table: an Alembic batch migration that recreates task_index must recreate
them (`trigger_ddl`); the integrity check reports them missing.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models.process import TaskIndexEntry
from workflows.models.triggers import TallyTriggers, sqlite_row_triggers


class OpenTaskTally(Base):
    __tablename__ = "open_task_tally"
    __table_args__ = (
        # The triggers find a key's row by process and unit (then the null-safe rest); the dashboard reads by process.
        Index("ix_open_task_tally_key", "process_key", "org_unit_id", "instance_id", "department_code", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(64))
    instance_id: Mapped[int | None]  # the supervised matter's case (supervision tasks only)
    org_unit_id: Mapped[int]
    department_code: Mapped[str | None] = mapped_column(String(32))
    due_at: Mapped[datetime | None]
    tasks: Mapped[int]


class ClosedCaseTally(Base):
    __tablename__ = "closed_case_tally"
    __table_args__ = (Index("ix_closed_case_tally_key", "month", "process_key", "plan_item_id", "home_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date]  # the first day of the Beijing month the case was completed in
    process_key: Mapped[str] = mapped_column(String(64))
    plan_item_id: Mapped[int | None]  # the supervised matter's plan item (supervision cases only)
    home_unit_id: Mapped[int]
    seats: Mapped[str] = mapped_column(Text)  # "unit:department" of its tasks, sorted, comma-separated ("" if none)
    cases: Mapped[int]


# Derived from task_index and process_instance: a restore rebuilds them rather than copying them.
DERIVED_TABLES = frozenset({"open_task_tally", "closed_case_tally", "metric_tally", "queue_tally"})
TRIGGERS = ("task_index_tally_insert", "task_index_tally_delete", "task_index_tally_leave", "task_index_tally_enter")
PG_FUNCTIONS = ("open_task_tally_add(text, integer, integer, text, timestamptz, integer)", "task_index_tally()")

# The columns whose change moves a ready row between keys.
_MOVING = ("status", "process_key", "instance_id", "org_unit_id", "department_code", "due_at")
_SUPERVISION = "supervision"
_READY = "ready"


def _sqlite_add(row: str, delta: int) -> str:
    """The SQLite trigger statement appending `delta` for the key of `row` (NEW or OLD)."""
    item = f"(CASE WHEN {row}.process_key = '{_SUPERVISION}' THEN {row}.instance_id END)"
    return (
        "INSERT INTO open_task_tally (process_key, instance_id, org_unit_id, department_code, due_at, tasks) "
        f"VALUES ({row}.process_key, {item}, {row}.org_unit_id, {row}.department_code, {row}.due_at, {delta});"
    )


def _sqlite_ddl() -> list[str]:
    return sqlite_row_triggers("task_index_tally", "task_index", lambda row: f"{row}.status = '{_READY}'",
                               _sqlite_add, _MOVING)  # fmt: skip


def _postgresql_ddl() -> list[str]:
    old, new = (", ".join(f"{row}.{column}" for column in _MOVING) for row in ("OLD", "NEW"))
    moving = ", ".join(_MOVING)
    return [
        # Appends `delta` for the key: no row is updated, so concurrent steps never wait on (or deadlock over) a
        # shared count; readers sum, and the scheduler compacts (workflows.plans.tally.compact_tallies).
        """CREATE OR REPLACE FUNCTION open_task_tally_add(
            p_key text, p_case integer, p_unit integer, p_department text, p_due timestamptz, p_delta integer)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO open_task_tally (process_key, instance_id, org_unit_id, department_code, due_at, tasks)
            VALUES (p_key, p_case, p_unit, p_department, p_due, p_delta);
        END $$""",
        f"""CREATE OR REPLACE FUNCTION task_index_tally() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = '{_READY}' THEN
                PERFORM open_task_tally_add(OLD.process_key,
                    CASE WHEN OLD.process_key = '{_SUPERVISION}' THEN OLD.instance_id END,
                    OLD.org_unit_id, OLD.department_code, OLD.due_at, -1);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = '{_READY}' THEN
                PERFORM open_task_tally_add(NEW.process_key,
                    CASE WHEN NEW.process_key = '{_SUPERVISION}' THEN NEW.instance_id END,
                    NEW.org_unit_id, NEW.department_code, NEW.due_at, 1);
            END IF;
            RETURN NULL;
        END $$""",
        "CREATE TRIGGER task_index_tally_insert AFTER INSERT ON task_index FOR EACH ROW "
        f"WHEN (NEW.status = '{_READY}') EXECUTE FUNCTION task_index_tally()",
        "CREATE TRIGGER task_index_tally_delete AFTER DELETE ON task_index FOR EACH ROW "
        f"WHEN (OLD.status = '{_READY}') EXECUTE FUNCTION task_index_tally()",
        # One trigger for both halves of a move (PostgreSQL can branch); `leave` keeps the name list alike.
        f"CREATE TRIGGER task_index_tally_leave AFTER UPDATE OF {moving} ON task_index FOR EACH ROW "
        f"WHEN ((OLD.status = '{_READY}' OR NEW.status = '{_READY}') AND ({old}) IS DISTINCT FROM ({new})) "
        "EXECUTE FUNCTION task_index_tally()",
    ]


OPEN_TASK_TRIGGERS = TallyTriggers(
    tally="open_task_tally", table="task_index", names=TRIGGERS, sqlite=_sqlite_ddl, postgresql=_postgresql_ddl,
    functions=PG_FUNCTIONS, postgresql_names=TRIGGERS[:3],
)  # fmt: skip
trigger_ddl = OPEN_TASK_TRIGGERS.ddl
trigger_names = OPEN_TASK_TRIGGERS.trigger_names
drop_trigger_ddl = OPEN_TASK_TRIGGERS.drop_ddl
# Migration 0012 creates them on databases built by migrations.
OPEN_TASK_TRIGGERS.create_with(TaskIndexEntry.__table__)
