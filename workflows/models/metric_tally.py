"""Monthly sums of the plan metrics that count many records (issue #9 §2, "责任分工 under 30 ms").

The hazard targets of seed 000 item 13 count the reports received in a period and verified true or basically true,
and sum the first-reporter rewards paid in it, within a unit's subtree. At volume a year holds tens of thousands of
reports, and counting them was the dashboard's slowest statement (a 44,771-row index range, 6–8 ms). The dashboard's
periods are whole Beijing months (workflows.plans.periods), so a sum per metric, month and unit answers them exactly.

`metric_tally` is kept by DATABASE TRIGGERS on hazard_report (insert, delete, and an update of a column the sums
read), so every writer keeps it right in its own transaction: the hazard process, a backup restore, the bench's bulk
load. Like workflows.models.tally's tables it is append-only between compactions (a change inserts +value / -value;
readers SUM), and workflows.plans.tally recounts, compacts and checks it. `value` is a count, or fen for money, so
sums are exact on SQLite too.

A month is the Beijing month: received_at is a UTC instant (SQLite: a UTC text without zone), shifted by eight hours
(China has kept UTC+8 without daylight saving since 1991); reward_paid_on is a Beijing date already.
SQLite drops a table's triggers with the table: a batch migration that recreates hazard_report must recreate them.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from workflows.db import Base
from workflows.models.hazard import HazardReport
from workflows.models.triggers import TallyTriggers
from workflows.policy.hazard import VERIFIED_RESULTS

VERIFIED_METRIC = "hazard_reports_verified"  # workflows.plans.metric_queries.METRICS keys
REWARDS_METRIC = "hazard_rewards_paid"
HAZARD_TRIGGERS = ("hazard_report_tally_insert", "hazard_report_tally_delete", "hazard_report_tally_update")
HAZARD_FUNCTION = "hazard_report_tally()"
# The columns whose change moves a report between sums.
_READ = ("received_at", "verification_result", "home_unit_id", "reward_paid_on", "reward_amount")


class MetricTally(Base):
    __tablename__ = "metric_tally"
    __table_args__ = (Index("ix_metric_tally_key", "metric", "month", "org_unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    metric: Mapped[str] = mapped_column(String(64))
    month: Mapped[date]  # the first day of the Beijing month
    org_unit_id: Mapped[int]  # the unit the records count for (the report's case's home unit)
    value: Mapped[int] = mapped_column(BigInteger)  # a count, or fen


def _verified_list() -> str:
    return ", ".join(f"'{result}'" for result in VERIFIED_RESULTS)


def _sqlite_adds(row: str, sign: str) -> str:
    """The SQLite trigger statements adding (sign "") or taking back (sign "-") the sums of `row` (NEW or OLD)."""
    columns = "INSERT INTO metric_tally (metric, month, org_unit_id, value)"
    return (
        f"{columns} SELECT '{VERIFIED_METRIC}', strftime('%Y-%m-01', {row}.received_at, '+8 hours'), "
        f"{row}.home_unit_id, {sign}1 WHERE {row}.verification_result IN ({_verified_list()}); "
        f"{columns} SELECT '{REWARDS_METRIC}', strftime('%Y-%m-01', {row}.reward_paid_on), {row}.home_unit_id, "
        f"{sign}CAST(round({row}.reward_amount * 100) AS INTEGER) "
        f"WHERE {row}.reward_paid_on IS NOT NULL AND {row}.reward_amount IS NOT NULL;"
    )


def _changed() -> str:
    return "(" + " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in _READ) + ")"


def _sqlite_ddl() -> list[str]:
    return [
        f"CREATE TRIGGER hazard_report_tally_insert AFTER INSERT ON hazard_report BEGIN {_sqlite_adds('NEW', '')} END",
        f"CREATE TRIGGER hazard_report_tally_delete AFTER DELETE ON hazard_report BEGIN {_sqlite_adds('OLD', '-')} END",
        f"CREATE TRIGGER hazard_report_tally_update AFTER UPDATE OF {', '.join(_READ)} ON hazard_report "
        f"WHEN {_changed()} BEGIN {_sqlite_adds('OLD', '-')} {_sqlite_adds('NEW', '')} END",
    ]


def _postgresql_adds(row: str, sign: str) -> str:
    columns = "INSERT INTO metric_tally (metric, month, org_unit_id, value)"
    return f"""
            IF {row}.verification_result IN ({_verified_list()}) THEN
                {columns} VALUES ('{VERIFIED_METRIC}',
                    date_trunc('month', {row}.received_at AT TIME ZONE 'Asia/Shanghai')::date, {row}.home_unit_id,
                    {sign}1);
            END IF;
            IF {row}.reward_paid_on IS NOT NULL AND {row}.reward_amount IS NOT NULL THEN
                {columns} VALUES ('{REWARDS_METRIC}', date_trunc('month', {row}.reward_paid_on)::date,
                    {row}.home_unit_id, {sign}round({row}.reward_amount * 100)::bigint);
            END IF;"""


def _postgresql_ddl() -> list[str]:
    old, new = (", ".join(f"{row}.{column}" for column in _READ) for row in ("OLD", "NEW"))
    return [
        f"""CREATE OR REPLACE FUNCTION {HAZARD_FUNCTION} RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN {_postgresql_adds("OLD", "-")}
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN {_postgresql_adds("NEW", "")}
            END IF;
            RETURN NULL;
        END $$""",
        f"CREATE TRIGGER hazard_report_tally_insert AFTER INSERT ON hazard_report FOR EACH ROW "
        f"EXECUTE FUNCTION {HAZARD_FUNCTION}",
        f"CREATE TRIGGER hazard_report_tally_delete AFTER DELETE ON hazard_report FOR EACH ROW "
        f"EXECUTE FUNCTION {HAZARD_FUNCTION}",
        f"CREATE TRIGGER hazard_report_tally_update AFTER UPDATE OF {', '.join(_READ)} ON hazard_report FOR EACH ROW "
        f"WHEN (({old}) IS DISTINCT FROM ({new})) EXECUTE FUNCTION {HAZARD_FUNCTION}",
    ]


HAZARD_REPORT_TRIGGERS = TallyTriggers(
    tally="metric_tally", table="hazard_report", names=HAZARD_TRIGGERS, sqlite=_sqlite_ddl, postgresql=_postgresql_ddl,
    functions=(HAZARD_FUNCTION,),
)  # fmt: skip
hazard_trigger_ddl = HAZARD_REPORT_TRIGGERS.ddl
drop_hazard_trigger_ddl = HAZARD_REPORT_TRIGGERS.drop_ddl
# Migration 0014 creates them on migrated databases.
HAZARD_REPORT_TRIGGERS.create_with(HazardReport.__table__)
