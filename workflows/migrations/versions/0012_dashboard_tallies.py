"""dashboard tallies: open-task and closed-case counts kept on the write path (issue 9 §2, 责任分工 under 30 ms)

Revision ID: 0012_dashboard_tallies
Revises: 0011_inbox_indexes
Create Date: 2026-11-22 04:30:00.000000

open_task_tally is kept by triggers on task_index (SQLite triggers; PostgreSQL plpgsql functions and triggers),
closed_case_tally by workflows.plans.tally.count_closed_case when a case completes; both are filled here from the
existing rows (workflows.plans.tally.recount_task_tallies). Also the indexes of the plan targets' metric queries.

SQLite: a later batch migration that RECREATES task_index (batch_alter_table with a change SQLite cannot ALTER)
drops these triggers with the old table. Such a migration must create them again (the statements below, or
workflows.models.tally.trigger_ddl); `flask check` (workflows.integrity.check_tallies) reports them missing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from workflows.db import AwareDateTime
from workflows.models.tally import drop_trigger_ddl, trigger_ddl

revision: str = '0012_dashboard_tallies'
down_revision: str | None = '0011_inbox_indexes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    for statement in trigger_ddl(bind.dialect.name):
        bind.exec_driver_sql(statement)
    from workflows.plans.tally import recount_task_tallies

    with Session(bind=bind) as session:  # joins the migration's transaction; neither commits nor rolls it back
        recount_task_tallies(session)
        session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    for statement in drop_trigger_ddl(bind.dialect.name):
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
