"""dashboard tallies: open-task and closed-case counts kept on the write path (issue 9 §2, 责任分工 under 30 ms)

Revision ID: 0012_dashboard_tallies
Revises: 0011_inbox_indexes
Create Date: 2026-11-22 04:30:00.000000

open_task_tally is kept by triggers on task_index (SQLite triggers; PostgreSQL plpgsql functions and triggers),
closed_case_tally by the application when a case completes; both are filled here from the existing rows. Also the
indexes of the plan targets' metric queries.

The trigger DDL and the fill are frozen copies, as of this revision, of what the application did then (the
statements of workflows.models.tally.trigger_ddl / drop_trigger_ddl, the counts of workflows.plans.tally's
recount_task_tallies), over the columns that exist at this revision: a later change of the app's definitions, which
live in workflows.models.tally, must come with a migration of its own, never an edit of this one
(tests/test_frozen_migrations.py compares the triggers of a migrated database with the models').

SQLite: a later batch migration that RECREATES task_index (batch_alter_table with a change SQLite cannot ALTER)
drops these triggers with the old table. Such a migration must create them again (its own frozen copy of the
statements current at its revision); `flask check` (workflows.integrity.check_tallies) reports them missing.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from workflows.db import AwareDateTime

revision: str = '0012_dashboard_tallies'
down_revision: str | None = '0011_inbox_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers keeping open_task_tally (and PostgreSQL's functions), per dialect, as of this revision.
TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        (
            "CREATE TRIGGER task_index_tally_insert AFTER INSERT ON task_index WHEN NEW.status = 'ready' "
            "BEGIN INSERT INTO open_task_tally (process_key, instance_id, org_unit_id, department_code, "
            "due_at, tasks) VALUES (NEW.process_key, (CASE WHEN NEW.process_key = 'supervision' THEN "
            "NEW.instance_id END), NEW.org_unit_id, NEW.department_code, NEW.due_at, 1); END"
        ),
        (
            "CREATE TRIGGER task_index_tally_delete AFTER DELETE ON task_index WHEN OLD.status = 'ready' "
            "BEGIN INSERT INTO open_task_tally (process_key, instance_id, org_unit_id, department_code, "
            "due_at, tasks) VALUES (OLD.process_key, (CASE WHEN OLD.process_key = 'supervision' THEN "
            "OLD.instance_id END), OLD.org_unit_id, OLD.department_code, OLD.due_at, -1); END"
        ),
        (
            "CREATE TRIGGER task_index_tally_leave AFTER UPDATE OF status, process_key, instance_id, "
            "org_unit_id, department_code, due_at ON task_index WHEN OLD.status = 'ready' AND (OLD.status IS "
            "NOT NEW.status OR OLD.process_key IS NOT NEW.process_key OR OLD.instance_id IS NOT "
            "NEW.instance_id OR OLD.org_unit_id IS NOT NEW.org_unit_id OR OLD.department_code IS NOT "
            "NEW.department_code OR OLD.due_at IS NOT NEW.due_at) BEGIN INSERT INTO open_task_tally "
            "(process_key, instance_id, org_unit_id, department_code, due_at, tasks) VALUES "
            "(OLD.process_key, (CASE WHEN OLD.process_key = 'supervision' THEN OLD.instance_id END), "
            "OLD.org_unit_id, OLD.department_code, OLD.due_at, -1); END"
        ),
        (
            "CREATE TRIGGER task_index_tally_enter AFTER UPDATE OF status, process_key, instance_id, "
            "org_unit_id, department_code, due_at ON task_index WHEN NEW.status = 'ready' AND (OLD.status IS "
            "NOT NEW.status OR OLD.process_key IS NOT NEW.process_key OR OLD.instance_id IS NOT "
            "NEW.instance_id OR OLD.org_unit_id IS NOT NEW.org_unit_id OR OLD.department_code IS NOT "
            "NEW.department_code OR OLD.due_at IS NOT NEW.due_at) BEGIN INSERT INTO open_task_tally "
            "(process_key, instance_id, org_unit_id, department_code, due_at, tasks) VALUES "
            "(NEW.process_key, (CASE WHEN NEW.process_key = 'supervision' THEN NEW.instance_id END), "
            "NEW.org_unit_id, NEW.department_code, NEW.due_at, 1); END"
        ),
    ],
    "postgresql": [
        (
            "CREATE OR REPLACE FUNCTION open_task_tally_add(\n"
            "            p_key text, p_case integer, p_unit integer, p_department text, p_due timestamptz, "
            "p_delta integer)\n"
            "        RETURNS void LANGUAGE plpgsql AS $$\n"
            "        BEGIN\n"
            "            INSERT INTO open_task_tally (process_key, instance_id, org_unit_id, "
            "department_code, due_at, tasks)\n"
            "            VALUES (p_key, p_case, p_unit, p_department, p_due, p_delta);\n"
            "        END $$"
        ),
        (
            "CREATE OR REPLACE FUNCTION task_index_tally() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "        BEGIN\n"
            "            IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'ready' THEN\n"
            "                PERFORM open_task_tally_add(OLD.process_key,\n"
            "                    CASE WHEN OLD.process_key = 'supervision' THEN OLD.instance_id END,\n"
            "                    OLD.org_unit_id, OLD.department_code, OLD.due_at, -1);\n"
            "            END IF;\n"
            "            IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'ready' THEN\n"
            "                PERFORM open_task_tally_add(NEW.process_key,\n"
            "                    CASE WHEN NEW.process_key = 'supervision' THEN NEW.instance_id END,\n"
            "                    NEW.org_unit_id, NEW.department_code, NEW.due_at, 1);\n"
            "            END IF;\n"
            "            RETURN NULL;\n"
            "        END $$"
        ),
        (
            "CREATE TRIGGER task_index_tally_insert AFTER INSERT ON task_index FOR EACH ROW WHEN (NEW.status "
            "= 'ready') EXECUTE FUNCTION task_index_tally()"
        ),
        (
            "CREATE TRIGGER task_index_tally_delete AFTER DELETE ON task_index FOR EACH ROW WHEN (OLD.status "
            "= 'ready') EXECUTE FUNCTION task_index_tally()"
        ),
        (
            "CREATE TRIGGER task_index_tally_leave AFTER UPDATE OF status, process_key, instance_id, "
            "org_unit_id, department_code, due_at ON task_index FOR EACH ROW WHEN ((OLD.status = 'ready' OR "
            "NEW.status = 'ready') AND (OLD.status, OLD.process_key, OLD.instance_id, OLD.org_unit_id, "
            "OLD.department_code, OLD.due_at) IS DISTINCT FROM (NEW.status, NEW.process_key, "
            "NEW.instance_id, NEW.org_unit_id, NEW.department_code, NEW.due_at)) EXECUTE FUNCTION "
            "task_index_tally()"
        ),
    ],
}
# The statements dropping them (triggers first, then PostgreSQL's functions).
DROP_TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS task_index_tally_insert",
        "DROP TRIGGER IF EXISTS task_index_tally_delete",
        "DROP TRIGGER IF EXISTS task_index_tally_leave",
        "DROP TRIGGER IF EXISTS task_index_tally_enter",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS task_index_tally_insert ON task_index",
        "DROP TRIGGER IF EXISTS task_index_tally_delete ON task_index",
        "DROP TRIGGER IF EXISTS task_index_tally_leave ON task_index",
        "DROP TRIGGER IF EXISTS task_index_tally_enter ON task_index",
        "DROP FUNCTION IF EXISTS task_index_tally()",
        "DROP FUNCTION IF EXISTS open_task_tally_add(text, integer, integer, text, timestamptz, integer)",
    ],
}

READY = "ready"  # task_index.status of an open task
COMPLETED = "completed"  # process_instance.status of a completed case
SUPERVISION = "supervision"  # the process whose open tasks are tallied per case, and whose cases per plan item
BEIJING = ZoneInfo("Asia/Shanghai")  # a case counts in the Beijing month it was completed in
SEAT_SEPARATOR, LIST_SEPARATOR = ":", ","  # closed_case_tally.seats: "12:jingji,40:"

# The columns the fill reads and writes, as they are at this revision.
task_index = sa.table('task_index',
    sa.column('instance_id', sa.Integer()),
    sa.column('process_key', sa.String(64)),
    sa.column('org_unit_id', sa.Integer()),
    sa.column('department_code', sa.String(32)),
    sa.column('due_at', AwareDateTime(timezone=True)),
    sa.column('status', sa.String(16)),
)  # fmt: skip
process_instance = sa.table('process_instance',
    sa.column('id', sa.Integer()),
    sa.column('process_key', sa.String(64)),
    sa.column('status', sa.String(16)),
    sa.column('home_unit_id', sa.Integer()),
    sa.column('completed_at', AwareDateTime(timezone=True)),
)  # fmt: skip
supervision_item = sa.table('supervision_item',
    sa.column('instance_id', sa.Integer()),
    sa.column('plan_item_id', sa.Integer()),
)  # fmt: skip
open_task_tally = sa.table('open_task_tally',
    sa.column('process_key', sa.String(64)),
    sa.column('instance_id', sa.Integer()),
    sa.column('org_unit_id', sa.Integer()),
    sa.column('department_code', sa.String(32)),
    sa.column('due_at', AwareDateTime(timezone=True)),
    sa.column('tasks', sa.Integer()),
)  # fmt: skip
closed_case_tally = sa.table('closed_case_tally',
    sa.column('month', sa.Date()),
    sa.column('process_key', sa.String(64)),
    sa.column('plan_item_id', sa.Integer()),
    sa.column('home_unit_id', sa.Integer()),
    sa.column('seats', sa.Text()),
    sa.column('cases', sa.Integer()),
)  # fmt: skip


def _statements(ddl: dict[str, list[str]], dialect: str) -> list[str]:
    if dialect not in ddl:
        raise NotImplementedError(f"open_task_tally triggers for {dialect} (migration 0012 has sqlite and postgresql)")
    return ddl[dialect]


def _fill_open(bind: sa.Connection) -> None:
    """Open (ready) tasks counted by process, case (supervision tasks only), unit, department and due instant."""
    case_id = sa.case((task_index.c.process_key == SUPERVISION, task_index.c.instance_id), else_=None)
    key = (task_index.c.process_key, case_id, task_index.c.org_unit_id, task_index.c.department_code,
           task_index.c.due_at)  # fmt: skip
    counts = sa.select(*key, sa.func.count()).where(task_index.c.status == READY).group_by(*key)
    columns = ['process_key', 'instance_id', 'org_unit_id', 'department_code', 'due_at', 'tasks']
    bind.execute(sa.insert(open_task_tally).from_select(columns, counts))


def _fill_closed(bind: sa.Connection) -> None:
    """Completed cases counted by Beijing month of completion, process, supervised plan item, home unit and the
    distinct seats (unit:department) of their tasks."""
    completed = process_instance.c.status == COMPLETED
    seats: dict[int, set[tuple[int, str | None]]] = defaultdict(set)
    for instance_id, unit_id, department in bind.execute(
        sa.select(task_index.c.instance_id, task_index.c.org_unit_id, task_index.c.department_code)
        .join(process_instance, process_instance.c.id == task_index.c.instance_id)
        .where(completed)
        .distinct()
    ):
        seats[instance_id].add((unit_id, department))
    item = sa.case((process_instance.c.process_key == SUPERVISION, supervision_item.c.plan_item_id), else_=None)
    rows = bind.execute(
        sa.select(process_instance.c.id, process_instance.c.completed_at, process_instance.c.process_key, item,
                  process_instance.c.home_unit_id)
        .select_from(process_instance.outerjoin(supervision_item,
                                                supervision_item.c.instance_id == process_instance.c.id))
        .where(completed, process_instance.c.completed_at.is_not(None))
    )  # fmt: skip
    counts: Counter[tuple] = Counter()
    for instance_id, completed_at, process_key, plan_item_id, home_unit_id in rows:
        month = completed_at.astimezone(BEIJING).date().replace(day=1)
        text = LIST_SEPARATOR.join(sorted({f"{unit}{SEAT_SEPARATOR}{department or ''}"
                                           for unit, department in seats.get(instance_id, ())}))  # fmt: skip
        counts[(month, process_key, plan_item_id, home_unit_id, text)] += 1
    if counts:
        bind.execute(sa.insert(closed_case_tally), [
            {'month': m, 'process_key': p, 'plan_item_id': i, 'home_unit_id': u, 'seats': s, 'cases': n}
            for (m, p, i, u, s), n in counts.items()
        ])  # fmt: skip


def upgrade() -> None:
    op.create_table('open_task_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=64), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('org_unit_id', sa.Integer(), nullable=False),
        sa.Column('department_code', sa.String(length=32), nullable=True),
        sa.Column('due_at', AwareDateTime(timezone=True), nullable=True),
        sa.Column('tasks', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )  # fmt: skip
    op.create_index('ix_open_task_tally_key', 'open_task_tally',
                    ['process_key', 'org_unit_id', 'instance_id', 'department_code', 'due_at'], unique=False)
    op.create_table('closed_case_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('process_key', sa.String(length=64), nullable=False),
        sa.Column('plan_item_id', sa.Integer(), nullable=True),
        sa.Column('home_unit_id', sa.Integer(), nullable=False),
        sa.Column('seats', sa.Text(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )  # fmt: skip
    op.create_index('ix_closed_case_tally_key', 'closed_case_tally',
                    ['month', 'process_key', 'plan_item_id', 'home_unit_id'], unique=False)
    op.create_index('ix_hazard_report_received', 'hazard_report',
                    ['received_at', 'verification_result', 'instance_id'], unique=False)
    op.create_index('ix_hazard_report_reward_paid', 'hazard_report',
                    ['reward_paid_on', 'instance_id', 'reward_amount'], unique=False)
    op.create_index('ix_process_instance_home', 'process_instance', ['id', 'home_unit_id'], unique=False)
    op.create_index('ix_aid_payment_paid_on', 'aid_payment', ['paid_on', 'status'], unique=False)
    op.create_index('ix_aid_worker_reviewed', 'aid_worker', ['reviewed_at'], unique=False)

    bind = op.get_bind()
    for statement in _statements(TRIGGER_DDL, bind.dialect.name):
        bind.exec_driver_sql(statement)
    # The tables are new and empty: the fill only inserts (in the migration's transaction).
    _fill_open(bind)
    _fill_closed(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in _statements(DROP_TRIGGER_DDL, bind.dialect.name):
        bind.exec_driver_sql(statement)
    op.drop_index('ix_aid_worker_reviewed', table_name='aid_worker')
    op.drop_index('ix_aid_payment_paid_on', table_name='aid_payment')
    op.drop_index('ix_process_instance_home', table_name='process_instance')
    op.drop_index('ix_hazard_report_reward_paid', table_name='hazard_report')
    op.drop_index('ix_hazard_report_received', table_name='hazard_report')
    op.drop_index('ix_closed_case_tally_key', table_name='closed_case_tally')
    op.drop_table('closed_case_tally')
    op.drop_index('ix_open_task_tally_key', table_name='open_task_tally')
    op.drop_table('open_task_tally')
