"""metric tally: the hazard targets' monthly sums kept by triggers on hazard_report (issue 9 §2, 责任分工 under 30 ms)

Revision ID: 0014_metric_tally
Revises: 0013_hazard_home_unit
Create Date: 2026-11-22 09:30:00.000000

Counting a year's verified hazard reports read tens of thousands of index entries per dashboard view at volume; the
dashboard's periods are whole months, so workflows.models.metric_tally keeps a sum per metric, Beijing month and unit,
appended to by triggers on hazard_report (SQLite triggers; a PostgreSQL plpgsql function and triggers) and filled
here from the existing reports (workflows.plans.tally.recount_metric_tally).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

from workflows.models.metric_tally import drop_hazard_trigger_ddl, hazard_trigger_ddl

revision: str = '0014_metric_tally'
down_revision: str | None = '0013_hazard_home_unit'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('metric_tally',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('metric', sa.String(length=64), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('org_unit_id', sa.Integer(), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_tally')),
    )  # fmt: skip
    op.create_index('ix_metric_tally_key', 'metric_tally', ['metric', 'month', 'org_unit_id'], unique=False)
    bind = op.get_bind()
    for statement in hazard_trigger_ddl(bind.dialect.name):
        bind.exec_driver_sql(statement)
    from workflows.plans.tally import recount_metric_tally

    with Session(bind=bind) as session:  # joins the migration's transaction; neither commits nor rolls it back
        recount_metric_tally(session)
        session.flush()


def downgrade() -> None:
    bind = op.get_bind()
    for statement in drop_hazard_trigger_ddl(bind.dialect.name):
        bind.exec_driver_sql(statement)
    op.drop_index('ix_metric_tally_key', table_name='metric_tally')
    op.drop_table('metric_tally')
