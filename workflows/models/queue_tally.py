"""Unclaimed open tasks per seat: the count of 部门待办 in every page's navigation (issue #9 §2).

部门待办 lists the ready, unclaimed tasks of the holder's seats (workflows.inbox.queue_lane_queries: a unit's own
department-less lane, and the holder's department in it). A city department's queue runs to ~20,000 steps at the
bench's volume, and counting its index range cost 3–6 ms on PostgreSQL on every page its officials open.

`queue_tally` is kept by DATABASE TRIGGERS on task_index (insert, delete, and an update that moves a row into, out
of or between seats: a claim, a release, a completion, a 转办 to another unit), so every writer keeps it right in
its own transaction. Like workflows.models.tally's tables it is append-only between compactions (a change inserts
+1 / -1, never updates a shared row: two officials claiming from one busy queue never wait on its count; readers
SUM), and workflows.plans.tally recounts, compacts and checks it.
SQLite drops a table's triggers with the table: a batch migration that recreates task_index must recreate them.
"""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models.process import TaskIndexEntry
from workflows.models.triggers import TallyTriggers, sqlite_row_triggers

QUEUE_TRIGGERS = ("task_index_queue_insert", "task_index_queue_delete", "task_index_queue_leave",
                  "task_index_queue_enter")  # fmt: skip
QUEUE_FUNCTION = "task_index_queue_tally()"
# The columns whose change moves a row into, out of or between queues.
_MOVING = ("status", "claimed_by_id", "org_unit_id", "department_code")
_READY = "ready"


class QueueTally(Base):
    __tablename__ = "queue_tally"
    __table_args__ = (Index("ix_queue_tally_seat", "org_unit_id", "department_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int]
    department_code: Mapped[str | None] = mapped_column(String(32))
    tasks: Mapped[int]


def _queued(row: str) -> str:
    return f"{row}.status = '{_READY}' AND {row}.claimed_by_id IS NULL"


def _append(row: str, delta: int) -> str:
    return (
        "INSERT INTO queue_tally (org_unit_id, department_code, tasks) "
        f"VALUES ({row}.org_unit_id, {row}.department_code, {delta});"
    )


def _sqlite_ddl() -> list[str]:
    return sqlite_row_triggers("task_index_queue", "task_index", _queued, _append, _MOVING)


def _postgresql_ddl() -> list[str]:
    old, new = (", ".join(f"{row}.{column}" for column in _MOVING) for row in ("OLD", "NEW"))
    return [
        f"""CREATE OR REPLACE FUNCTION {QUEUE_FUNCTION} RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') AND {_queued('OLD')} THEN {_append('OLD', -1)}
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') AND {_queued('NEW')} THEN {_append('NEW', 1)}
            END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER task_index_queue_insert AFTER INSERT ON task_index FOR EACH ROW "
        f"WHEN ({_queued('NEW')}) EXECUTE FUNCTION {QUEUE_FUNCTION}",
        f"CREATE TRIGGER task_index_queue_delete AFTER DELETE ON task_index FOR EACH ROW "
        f"WHEN ({_queued('OLD')}) EXECUTE FUNCTION {QUEUE_FUNCTION}",
        # One trigger for both halves of a move (PostgreSQL can branch); `leave` keeps the name list alike.
        f"CREATE TRIGGER task_index_queue_leave AFTER UPDATE OF {', '.join(_MOVING)} ON task_index FOR EACH ROW "
        f"WHEN ((({_queued('OLD')}) OR ({_queued('NEW')})) AND ({old}) IS DISTINCT FROM ({new})) "
        f"EXECUTE FUNCTION {QUEUE_FUNCTION}",
    ]


TASK_INDEX_QUEUE_TRIGGERS = TallyTriggers(
    tally="queue_tally", table="task_index", names=QUEUE_TRIGGERS, sqlite=_sqlite_ddl, postgresql=_postgresql_ddl,
    functions=(QUEUE_FUNCTION,), postgresql_names=QUEUE_TRIGGERS[:3],
)  # fmt: skip
queue_trigger_ddl = TASK_INDEX_QUEUE_TRIGGERS.ddl
queue_trigger_names = TASK_INDEX_QUEUE_TRIGGERS.trigger_names
drop_queue_trigger_ddl = TASK_INDEX_QUEUE_TRIGGERS.drop_ddl
# Migration 0018 creates them on migrated databases.
TASK_INDEX_QUEUE_TRIGGERS.create_with(TaskIndexEntry.__table__)
