"""The hazard targets' monthly sums (workflows.models.metric_tally, issue #9 §2) are kept by triggers on hazard_report
through every change a report goes through, bucket reports by their Beijing month, give the figures the reports
give, fold under compaction, and are reported by the integrity check when a trigger is missing. Migration 0014's fill
from the reports already there: tests/test_frozen_migrations.py."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from tests.test_plans import progress
from tests.workflow_helpers import start_report
from workflows.models import HazardReport, MetricTally
from workflows.models.metric_tally import HAZARD_TRIGGERS, REWARDS_METRIC, VERIFIED_METRIC
from workflows.organisation import unit_by_code
from workflows.plans.tally import check_tallies, compact_tallies, stored_metrics, tally_differences

# Beijing 2026-04-01 00:30 and 2026-03-31 23:59: the month is Beijing's, not UTC's.
APRIL_IN_BEIJING = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
MARCH_IN_BEIJING = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)


def new_report(session: Session, username: str = "ganjingzi1") -> HazardReport:
    case = start_report(session, username=username)
    report = session.scalar(select(HazardReport).where(HazardReport.instance_id == case.id))
    assert report is not None
    return report


def kept(session: Session) -> Counter[tuple[str, date, int]]:
    """The stored sums, after checking they equal a recount from the reports."""
    session.flush()
    assert tally_differences(session) == []
    return stored_metrics(session)


def test_triggers_keep_the_monthly_sums_through_every_change(world: Session) -> None:
    first, second = new_report(world), new_report(world)
    ganjingzi, shahekou = first.home_unit_id, unit_by_code(world, "210204").id
    second.home_unit_id = shahekou  # as if filed at 沙河口区
    assert kept(world) == Counter()  # filed, not yet verified or rewarded

    first.received_at, first.verification_result = APRIL_IN_BEIJING, "属实"
    assert kept(world) == Counter({(VERIFIED_METRIC, date(2026, 4, 1), ganjingzi): 1})
    first.verification_result = "不属实"
    assert kept(world) == Counter()
    first.verification_result, first.received_at = "基本属实", MARCH_IN_BEIJING
    assert kept(world) == Counter({(VERIFIED_METRIC, date(2026, 3, 1), ganjingzi): 1})

    second.received_at, second.verification_result = APRIL_IN_BEIJING, "属实"
    second.reward_amount, second.reward_paid_on = Decimal("300.10"), date(2026, 5, 20)
    assert kept(world) == Counter({
        (VERIFIED_METRIC, date(2026, 3, 1), ganjingzi): 1,
        (VERIFIED_METRIC, date(2026, 4, 1), shahekou): 1,
        (REWARDS_METRIC, date(2026, 5, 1), shahekou): 30010,  # fen
    })  # fmt: skip
    second.reward_amount = Decimal("500.00")
    second.home_unit_id = ganjingzi
    assert kept(world) == Counter({
        (VERIFIED_METRIC, date(2026, 3, 1), ganjingzi): 1,
        (VERIFIED_METRIC, date(2026, 4, 1), ganjingzi): 1,
        (REWARDS_METRIC, date(2026, 5, 1), ganjingzi): 50000,
    })  # fmt: skip
    # A statement that is not the ORM's (a correction in the database) is kept alike.
    world.execute(update(HazardReport).where(HazardReport.id == second.id).values(reward_paid_on=None))
    world.execute(delete(HazardReport).where(HazardReport.id == first.id))
    world.expire_all()
    assert kept(world) == Counter({(VERIFIED_METRIC, date(2026, 4, 1), ganjingzi): 1})


def test_the_targets_count_by_the_beijing_month_and_show_rewards_in_yuan(world: Session) -> None:
    report = new_report(world)
    report.received_at, report.verification_result = APRIL_IN_BEIJING, "属实"
    report.reward_amount, report.reward_paid_on = Decimal("300.10"), date(2026, 4, 2)
    world.flush()
    periods = ("2026-03", "2026-04", "2026-Q1", "2026-Q2", "2026")
    assert [progress(world, 13, 1, period).value for period in periods] == [0, 1, 0, 1, 1]
    assert progress(world, 13, 2, "2026-04").value == Decimal("300.10")
    assert progress(world, 13, 2, "2026-05").value == Decimal("0.00")
    assert progress(world, 13, 1, "2026", scope="210204").value == 0  # 沙河口区: not its report


def test_compaction_folds_the_sums(world: Session) -> None:
    report = new_report(world)
    for result in ("属实", "不属实", "属实", "基本属实"):
        report.verification_result = result
        world.flush()
    before = stored_metrics(world)
    assert sum(before.values()) == 1 and len(world.scalars(select(MetricTally)).all()) == 5  # +1 -1 +1 -1 +1
    assert compact_tallies(world) == 4
    assert stored_metrics(world) == before
    assert len(world.scalars(select(MetricTally)).all()) == len(before)
    assert compact_tallies(world) == 0


def test_the_check_reports_a_missing_hazard_trigger(world: Session) -> None:
    report = new_report(world)
    report.verification_result = "属实"
    world.flush()
    assert check_tallies(world) == []
    world.execute(update(MetricTally).values(value=MetricTally.value + 1))
    assert any("metric_tally" in finding.message for finding in check_tallies(world))
    on_table = " ON hazard_report" if world.get_bind().dialect.name == "postgresql" else ""
    world.execute(text(f"DROP TRIGGER {HAZARD_TRIGGERS[2]}{on_table}"))
    assert any("隐患指标统计的触发器" in finding.message for finding in check_tallies(world))

