"""queue tally: unclaimed open tasks per seat, kept by triggers on task_index (issue 9 §2, the navigation's 部门待办)

Revision ID: 0018_queue_tally
Revises: 0017_supervision_step_indexes
Create Date: 2026-11-22 11:00:00.000000

Every page counts the viewer's 部门待办 in its navigation; a city department's queue is ~20,000 steps at volume, and
counting its index range cost 3–6 ms per page on PostgreSQL. queue_tally keeps a count per unit and department,
appended to by triggers on task_index (SQLite triggers; a PostgreSQL plpgsql function and triggers) and filled here
from the existing rows.

The trigger DDL and the fill are frozen copies, as of this revision, of what the application did then (the
statements of workflows.models.queue_tally.queue_trigger_ddl / drop_queue_trigger_ddl, the counts of
workflows.plans.tally's recount_queue_tally), over the columns that exist at this revision: a later change of the
app's definitions, which live in workflows.models.queue_tally, must come with a migration of its own, never an edit
of this one (tests/test_frozen_migrations.py compares the triggers of a migrated database with the models').
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018_queue_tally'
down_revision: str | None = '0017_supervision_step_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers keeping queue_tally (and PostgreSQL's function), per dialect, as of this revision.
TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        (
            "CREATE TRIGGER task_index_queue_insert AFTER INSERT ON task_index WHEN NEW.status = 'ready' AND "
            "NEW.claimed_by_id IS NULL BEGIN INSERT INTO queue_tally (org_unit_id, department_code, tasks) "
            "VALUES (NEW.org_unit_id, NEW.department_code, 1); END"
        ),
        (
            "CREATE TRIGGER task_index_queue_delete AFTER DELETE ON task_index WHEN OLD.status = 'ready' AND "
            "OLD.claimed_by_id IS NULL BEGIN INSERT INTO queue_tally (org_unit_id, department_code, tasks) "
            "VALUES (OLD.org_unit_id, OLD.department_code, -1); END"
        ),
        (
            "CREATE TRIGGER task_index_queue_leave AFTER UPDATE OF status, claimed_by_id, org_unit_id, "
            "department_code ON task_index WHEN OLD.status = 'ready' AND OLD.claimed_by_id IS NULL AND "
            "(OLD.status IS NOT NEW.status OR OLD.claimed_by_id IS NOT NEW.claimed_by_id OR OLD.org_unit_id "
            "IS NOT NEW.org_unit_id OR OLD.department_code IS NOT NEW.department_code) BEGIN INSERT INTO "
            "queue_tally (org_unit_id, department_code, tasks) VALUES (OLD.org_unit_id, OLD.department_code, "
            "-1); END"
        ),
        (
            "CREATE TRIGGER task_index_queue_enter AFTER UPDATE OF status, claimed_by_id, org_unit_id, "
            "department_code ON task_index WHEN NEW.status = 'ready' AND NEW.claimed_by_id IS NULL AND "
            "(OLD.status IS NOT NEW.status OR OLD.claimed_by_id IS NOT NEW.claimed_by_id OR OLD.org_unit_id "
            "IS NOT NEW.org_unit_id OR OLD.department_code IS NOT NEW.department_code) BEGIN INSERT INTO "
            "queue_tally (org_unit_id, department_code, tasks) VALUES (NEW.org_unit_id, NEW.department_code, "
            "1); END"
        ),
    ],
    "postgresql": [
        (
            "CREATE OR REPLACE FUNCTION task_index_queue_tally() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "        BEGIN\n"
            "            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'ready' AND OLD.claimed_by_id IS "
            "NULL THEN INSERT INTO queue_tally (org_unit_id, department_code, tasks) VALUES "
            "(OLD.org_unit_id, OLD.department_code, -1);\n"
            "            END IF;\n"
            "            IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'ready' AND NEW.claimed_by_id IS "
            "NULL THEN INSERT INTO queue_tally (org_unit_id, department_code, tasks) VALUES "
            "(NEW.org_unit_id, NEW.department_code, 1);\n"
            "            END IF;\n"
            "            RETURN NULL;\n"
            "        END $$"
        ),
        (
            "CREATE TRIGGER task_index_queue_insert AFTER INSERT ON task_index FOR EACH ROW WHEN (NEW.status "
            "= 'ready' AND NEW.claimed_by_id IS NULL) EXECUTE FUNCTION task_index_queue_tally()"
        ),
        (
            "CREATE TRIGGER task_index_queue_delete AFTER DELETE ON task_index FOR EACH ROW WHEN (OLD.status "
            "= 'ready' AND OLD.claimed_by_id IS NULL) EXECUTE FUNCTION task_index_queue_tally()"
        ),
        (
            "CREATE TRIGGER task_index_queue_leave AFTER UPDATE OF status, claimed_by_id, org_unit_id, "
            "department_code ON task_index FOR EACH ROW WHEN (((OLD.status = 'ready' AND OLD.claimed_by_id "
            "IS NULL) OR (NEW.status = 'ready' AND NEW.claimed_by_id IS NULL)) AND (OLD.status, "
            "OLD.claimed_by_id, OLD.org_unit_id, OLD.department_code) IS DISTINCT FROM (NEW.status, "
            "NEW.claimed_by_id, NEW.org_unit_id, NEW.department_code)) EXECUTE FUNCTION "
            "task_index_queue_tally()"
        ),
    ],
}
# The statements dropping them (triggers first, then PostgreSQL's function).
DROP_TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS task_index_queue_insert",
        "DROP TRIGGER IF EXISTS task_index_queue_delete",
        "DROP TRIGGER IF EXISTS task_index_queue_leave",
        "DROP TRIGGER IF EXISTS task_index_queue_enter",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS task_index_queue_insert ON task_index",
        "DROP TRIGGER IF EXISTS task_index_queue_delete ON task_index",
        "DROP TRIGGER IF EXISTS task_index_queue_leave ON task_index",
        "DROP TRIGGER IF EXISTS task_index_queue_enter ON task_index",
        "DROP FUNCTION IF EXISTS task_index_queue_tally()",
    ],
}

READY = "ready"  # task_index.status of an open task

# The columns the fill reads and writes, as they are at this revision.
task_index = sa.table('task_index',
    sa.column('org_unit_id', sa.Integer()),
    sa.column('department_code', sa.String(32)),
    sa.column('status', sa.String(16)),
    sa.column('claimed_by_id', sa.Integer()),
)  # fmt: skip
queue_tally = sa.table('queue_tally',
    sa.column('org_unit_id', sa.Integer()),
    sa.column('department_code', sa.String(32)),
    sa.column('tasks', sa.Integer()),
)  # fmt: skip


def _statements(ddl: dict[str, list[str]], dialect: str) -> list[str]:
    if dialect not in ddl:
        raise NotImplementedError(f"queue_tally triggers for {dialect} (migration 0018 has sqlite and postgresql)")
    return ddl[dialect]


def _fill(bind: sa.Connection) -> None:
    """Ready, unclaimed tasks counted by unit and department."""
    key = (task_index.c.org_unit_id, task_index.c.department_code)
    queued = (task_index.c.status == READY, task_index.c.claimed_by_id.is_(None))
    counts = sa.select(*key, sa.func.count()).where(*queued).group_by(*key)
    bind.execute(sa.insert(queue_tally).from_select(['org_unit_id', 'department_code', 'tasks'], counts))


def upgrade() -> None:
    op.create_table('queue_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=False),
        sa.Column('department_code', sa.String(length=32), nullable=True),
        sa.Column('tasks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_tally')),
    )  # fmt: skip
    op.create_index('ix_queue_tally_seat', 'queue_tally', ['org_unit_id', 'department_code'], unique=False)
    bind = op.get_bind()
    for statement in _statements(TRIGGER_DDL, bind.dialect.name):
        bind.exec_driver_sql(statement)
    _fill(bind)  # the table is new and empty: the fill only inserts (in the migration's transaction)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in _statements(DROP_TRIGGER_DDL, bind.dialect.name):
        bind.exec_driver_sql(statement)
    op.drop_index('ix_queue_tally_seat', table_name='queue_tally')
    op.drop_table('queue_tally')
