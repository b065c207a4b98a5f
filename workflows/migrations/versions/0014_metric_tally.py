"""metric tally: the hazard targets' monthly sums kept by triggers on hazard_report (issue 9 §2, 责任分工 under 30 ms)

Revision ID: 0014_metric_tally
Revises: 0013_hazard_home_unit
Create Date: 2026-11-22 09:30:00.000000

Counting a year's verified hazard reports read tens of thousands of index entries per dashboard view at volume; the
dashboard's periods are whole months, so metric_tally keeps a sum per metric, Beijing month and unit, appended to by
triggers on hazard_report (SQLite triggers; a PostgreSQL plpgsql function and triggers) and filled here from the
existing reports.

The trigger DDL and the fill are frozen copies, as of this revision, of what the application did then (the
statements of workflows.models.metric_tally.hazard_trigger_ddl / drop_hazard_trigger_ddl, the sums of
workflows.plans.tally's recount_metric_tally), over the columns that exist at this revision: a later change of the
app's definitions, which live in workflows.models.metric_tally, must come with a migration of its own, never an edit
of this one (tests/test_frozen_migrations.py compares the triggers of a migrated database with the models').
"""

from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from workflows.db import AwareDateTime

revision: str = '0014_metric_tally'
down_revision: str | None = '0013_hazard_home_unit'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers keeping metric_tally (and PostgreSQL's function), per dialect, as of this revision.
TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        (
            "CREATE TRIGGER hazard_report_tally_insert AFTER INSERT ON hazard_report BEGIN INSERT INTO "
            "metric_tally (metric, month, org_unit_id, value) SELECT 'hazard_reports_verified', "
            "strftime('%Y-%m-01', NEW.received_at, '+8 hours'), NEW.home_unit_id, 1 WHERE "
            "NEW.verification_result IN ('属实', '基本属实'); INSERT INTO metric_tally (metric, month, "
            "org_unit_id, value) SELECT 'hazard_rewards_paid', strftime('%Y-%m-01', NEW.reward_paid_on), "
            "NEW.home_unit_id, CAST(round(NEW.reward_amount * 100) AS INTEGER) WHERE NEW.reward_paid_on IS "
            "NOT NULL AND NEW.reward_amount IS NOT NULL; END"
        ),
        (
            "CREATE TRIGGER hazard_report_tally_delete AFTER DELETE ON hazard_report BEGIN INSERT INTO "
            "metric_tally (metric, month, org_unit_id, value) SELECT 'hazard_reports_verified', "
            "strftime('%Y-%m-01', OLD.received_at, '+8 hours'), OLD.home_unit_id, -1 WHERE "
            "OLD.verification_result IN ('属实', '基本属实'); INSERT INTO metric_tally (metric, month, "
            "org_unit_id, value) SELECT 'hazard_rewards_paid', strftime('%Y-%m-01', OLD.reward_paid_on), "
            "OLD.home_unit_id, -CAST(round(OLD.reward_amount * 100) AS INTEGER) WHERE OLD.reward_paid_on IS "
            "NOT NULL AND OLD.reward_amount IS NOT NULL; END"
        ),
        (
            "CREATE TRIGGER hazard_report_tally_update AFTER UPDATE OF received_at, verification_result, "
            "home_unit_id, reward_paid_on, reward_amount ON hazard_report WHEN (OLD.received_at IS NOT "
            "NEW.received_at OR OLD.verification_result IS NOT NEW.verification_result OR OLD.home_unit_id "
            "IS NOT NEW.home_unit_id OR OLD.reward_paid_on IS NOT NEW.reward_paid_on OR OLD.reward_amount IS "
            "NOT NEW.reward_amount) BEGIN INSERT INTO metric_tally (metric, month, org_unit_id, value) "
            "SELECT 'hazard_reports_verified', strftime('%Y-%m-01', OLD.received_at, '+8 hours'), "
            "OLD.home_unit_id, -1 WHERE OLD.verification_result IN ('属实', '基本属实'); INSERT INTO metric_tally "
            "(metric, month, org_unit_id, value) SELECT 'hazard_rewards_paid', strftime('%Y-%m-01', "
            "OLD.reward_paid_on), OLD.home_unit_id, -CAST(round(OLD.reward_amount * 100) AS INTEGER) WHERE "
            "OLD.reward_paid_on IS NOT NULL AND OLD.reward_amount IS NOT NULL; INSERT INTO metric_tally "
            "(metric, month, org_unit_id, value) SELECT 'hazard_reports_verified', strftime('%Y-%m-01', "
            "NEW.received_at, '+8 hours'), NEW.home_unit_id, 1 WHERE NEW.verification_result IN ('属实', "
            "'基本属实'); INSERT INTO metric_tally (metric, month, org_unit_id, value) SELECT "
            "'hazard_rewards_paid', strftime('%Y-%m-01', NEW.reward_paid_on), NEW.home_unit_id, "
            "CAST(round(NEW.reward_amount * 100) AS INTEGER) WHERE NEW.reward_paid_on IS NOT NULL AND "
            "NEW.reward_amount IS NOT NULL; END"
        ),
    ],
    "postgresql": [
        (
            "CREATE OR REPLACE FUNCTION hazard_report_tally() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "        BEGIN\n"
            "            IF TG_OP IN ('UPDATE', 'DELETE') THEN \n"
            "            IF OLD.verification_result IN ('属实', '基本属实') THEN\n"
            "                INSERT INTO metric_tally (metric, month, org_unit_id, value) VALUES "
            "('hazard_reports_verified',\n"
            "                    date_trunc('month', OLD.received_at AT TIME ZONE 'Asia/Shanghai')::date, "
            "OLD.home_unit_id,\n"
            "                    -1);\n"
            "            END IF;\n"
            "            IF OLD.reward_paid_on IS NOT NULL AND OLD.reward_amount IS NOT NULL THEN\n"
            "                INSERT INTO metric_tally (metric, month, org_unit_id, value) VALUES "
            "('hazard_rewards_paid', date_trunc('month', OLD.reward_paid_on)::date,\n"
            "                    OLD.home_unit_id, -round(OLD.reward_amount * 100)::bigint);\n"
            "            END IF;\n"
            "            END IF;\n"
            "            IF TG_OP IN ('UPDATE', 'INSERT') THEN \n"
            "            IF NEW.verification_result IN ('属实', '基本属实') THEN\n"
            "                INSERT INTO metric_tally (metric, month, org_unit_id, value) VALUES "
            "('hazard_reports_verified',\n"
            "                    date_trunc('month', NEW.received_at AT TIME ZONE 'Asia/Shanghai')::date, "
            "NEW.home_unit_id,\n"
            "                    1);\n"
            "            END IF;\n"
            "            IF NEW.reward_paid_on IS NOT NULL AND NEW.reward_amount IS NOT NULL THEN\n"
            "                INSERT INTO metric_tally (metric, month, org_unit_id, value) VALUES "
            "('hazard_rewards_paid', date_trunc('month', NEW.reward_paid_on)::date,\n"
            "                    NEW.home_unit_id, round(NEW.reward_amount * 100)::bigint);\n"
            "            END IF;\n"
            "            END IF;\n"
            "            RETURN NULL;\n"
            "        END $$"
        ),
        (
            "CREATE TRIGGER hazard_report_tally_insert AFTER INSERT ON hazard_report FOR EACH ROW EXECUTE "
            "FUNCTION hazard_report_tally()"
        ),
        (
            "CREATE TRIGGER hazard_report_tally_delete AFTER DELETE ON hazard_report FOR EACH ROW EXECUTE "
            "FUNCTION hazard_report_tally()"
        ),
        (
            "CREATE TRIGGER hazard_report_tally_update AFTER UPDATE OF received_at, verification_result, "
            "home_unit_id, reward_paid_on, reward_amount ON hazard_report FOR EACH ROW WHEN "
            "((OLD.received_at, OLD.verification_result, OLD.home_unit_id, OLD.reward_paid_on, "
            "OLD.reward_amount) IS DISTINCT FROM (NEW.received_at, NEW.verification_result, "
            "NEW.home_unit_id, NEW.reward_paid_on, NEW.reward_amount)) EXECUTE FUNCTION "
            "hazard_report_tally()"
        ),
    ],
}
# The statements dropping them (triggers first, then PostgreSQL's function).
DROP_TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS hazard_report_tally_insert",
        "DROP TRIGGER IF EXISTS hazard_report_tally_delete",
        "DROP TRIGGER IF EXISTS hazard_report_tally_update",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS hazard_report_tally_insert ON hazard_report",
        "DROP TRIGGER IF EXISTS hazard_report_tally_delete ON hazard_report",
        "DROP TRIGGER IF EXISTS hazard_report_tally_update ON hazard_report",
        "DROP FUNCTION IF EXISTS hazard_report_tally()",
    ],
}

VERIFIED_METRIC = "hazard_reports_verified"  # reports verified true or basically true, by Beijing month received
REWARDS_METRIC = "hazard_rewards_paid"  # first-reporter rewards in fen, by the month paid
VERIFIED_RESULTS = ("属实", "基本属实")
BEIJING = ZoneInfo("Asia/Shanghai")

# The columns the fill reads and writes, as they are at this revision.
hazard_report = sa.table('hazard_report',
    sa.column('received_at', AwareDateTime(timezone=True)),
    sa.column('verification_result', sa.String(8)),
    sa.column('home_unit_id', sa.Integer()),
    sa.column('reward_amount', sa.Numeric(precision=12, scale=2)),
    sa.column('reward_paid_on', sa.Date()),
)  # fmt: skip
metric_tally = sa.table('metric_tally',
    sa.column('metric', sa.String(64)),
    sa.column('month', sa.Date()),
    sa.column('org_unit_id', sa.Integer()),
    sa.column('value', sa.BigInteger()),
)  # fmt: skip


def _statements(ddl: dict[str, list[str]], dialect: str) -> list[str]:
    if dialect not in ddl:
        raise NotImplementedError(f"metric_tally triggers for {dialect} (migration 0014 has sqlite and postgresql)")
    return ddl[dialect]


def _fill(bind: sa.Connection) -> None:
    """The monthly sums from hazard_report: verified reports by the Beijing month they were received, rewards in fen
    by the month they were paid (reward_paid_on is a Beijing date already)."""
    sums: Counter[tuple] = Counter()
    verified = hazard_report.c.verification_result.in_(VERIFIED_RESULTS)
    for received_at, unit_id in bind.execute(
        sa.select(hazard_report.c.received_at, hazard_report.c.home_unit_id).where(verified)
    ):
        sums[(VERIFIED_METRIC, received_at.astimezone(BEIJING).date().replace(day=1), unit_id)] += 1
    paid = hazard_report.c.reward_paid_on.is_not(None) & hazard_report.c.reward_amount.is_not(None)
    for paid_on, unit_id, amount in bind.execute(
        sa.select(hazard_report.c.reward_paid_on, hazard_report.c.home_unit_id, hazard_report.c.reward_amount)
        .where(paid)
    ):
        sums[(REWARDS_METRIC, paid_on.replace(day=1), unit_id)] += int((Decimal(amount) * 100).to_integral_value())
    rows = [{'metric': m, 'month': month, 'org_unit_id': u, 'value': n} for (m, month, u), n in sums.items() if n]
    if rows:
        bind.execute(sa.insert(metric_tally), rows)


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
    for statement in _statements(TRIGGER_DDL, bind.dialect.name):
        bind.exec_driver_sql(statement)
    _fill(bind)  # the table is new and empty: the fill only inserts (in the migration's transaction)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in _statements(DROP_TRIGGER_DDL, bind.dialect.name):
        bind.exec_driver_sql(statement)
    op.drop_index('ix_metric_tally_key', table_name='metric_tally')
    op.drop_table('metric_tally')
