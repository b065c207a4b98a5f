"""Target progress from live data (issue #8: "progress is computed from live data, never typed in").

Each metric counts or sums the records a linked process writes, for a period (Beijing dates) and within a unit's
subtree (the whole plan's issuing unit, or one responsible unit). A target's goal comes from the policy parameter
it names, which carries its source (seed and item); goals are annual, so a quarter or month shows the year's goal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, distinct, func, select
from sqlalchemy.orm import Session, aliased

from workflows.calendar import SHANGHAI
from workflows.models import (
    AidPayment,
    AidWorker,
    ApplicationStatus,
    HazardReport,
    HonourNomination,
    OrgUnit,
    PaymentStatus,
    Plan,
    PlanItem,
    PlanTarget,
    PolicyParameter,
    Studio,
    StudioApplication,
    StudioCall,
    StudioFunding,
)
from workflows.plans.periods import Period
from workflows.plans.responsibility import ResponsibleRow

FEN = Decimal("0.01")
VERIFIED = ("属实", "基本属实")  # workflows.policy.hazard.VERIFICATION_RESULTS less 不属实


def _within(unit_column: Any, scope: OrgUnit) -> ColumnElement[bool]:
    """The row's unit lies in `scope`'s subtree (materialised path, one LIKE)."""
    scoped = aliased(OrgUnit)
    return unit_column.in_(select(scoped.id).where(scoped.path.like(f"{scope.path}%")))


def _value(session: Session, query: Select[Any]) -> Decimal:
    return Decimal(session.scalar(query) or 0)


def _stamp_bounds(period: Period) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time.min, tzinfo=SHANGHAI)
    end = datetime.combine(period.end, time.max, tzinfo=SHANGHAI)
    return start, end


def studios_named(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Studios named in the period (seed 000 item 4), by the applicant union's place in the tree."""
    query = (
        select(func.count(Studio.id))
        .join(StudioApplication, StudioApplication.id == Studio.application_id)
        .where(Studio.named_on.between(period.start, period.end), _within(StudioApplication.applicant_unit_id, scope))
    )
    if "studio_type" in params:
        query = query.where(Studio.studio_type == params["studio_type"])
    return _value(session, query)


def studio_funding_paid(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Studio funding paid in the period, yuan to the fen (seed 000 item 4; from 2021 seed 004)."""
    query = (
        select(func.sum(StudioFunding.amount))
        .join(Studio, Studio.id == StudioFunding.studio_id)
        .join(StudioApplication, StudioApplication.id == Studio.application_id)
        .where(
            StudioFunding.paid_on.between(period.start, period.end),
            _within(StudioApplication.applicant_unit_id, scope),
        )
    )
    return _value(session, query).quantize(FEN)


def honours_awarded(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Honours awarded in the period (seed 000 item 5), by the nominating unit."""
    query = select(func.count(HonourNomination.id)).where(
        HonourNomination.status == ApplicationStatus.AWARDED.value,
        HonourNomination.awarded_on.between(period.start, period.end),
        _within(HonourNomination.nominating_unit_id, scope),
    )
    if "honour_type" in params:
        query = query.where(HonourNomination.honour_type == params["honour_type"])
    return _value(session, query)


def _worker_in_scope(scope: OrgUnit) -> ColumnElement[bool]:
    # A worker belongs to the district the list assigned them to; a worker not yet assigned counts for the city.
    return func.coalesce(AidWorker.district_unit_id, AidWorker.city_unit_id).in_(
        select(OrgUnit.id).where(OrgUnit.path.like(f"{scope.path}%"))
    )


def aid_workers_reviewed(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Workers whose family and employment situation the city reviewed in the period (seed 000 item 8)."""
    start, end = _stamp_bounds(period)
    query = select(func.count(AidWorker.id)).where(
        AidWorker.review_conclusion.is_not(None), AidWorker.reviewed_at.between(start, end), _worker_in_scope(scope)
    )
    return _value(session, query)


def _paid(period: Period, scope: OrgUnit) -> tuple[ColumnElement[bool], ...]:
    return (
        AidPayment.status == PaymentStatus.PAID.value,
        AidPayment.paid_on.between(period.start, period.end),
        _worker_in_scope(scope),
    )


def aid_paid(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Aid paid to bank cards in the period, as the bank confirmed it (seed 000 item 10)."""
    query = select(func.sum(AidPayment.amount)).join(AidWorker, AidWorker.id == AidPayment.worker_id)
    return _value(session, query.where(*_paid(period, scope))).quantize(FEN)


def aid_workers_paid(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Workers paid in the period (seed 000 item 10)."""
    query = select(func.count(distinct(AidPayment.worker_id))).join(AidWorker, AidWorker.id == AidPayment.worker_id)
    return _value(session, query.where(*_paid(period, scope)))


def _hazards_in(scope: OrgUnit, *columns: Any) -> Select[Any]:
    """Hazard reports whose case's home unit (copied onto the report) lies in `scope`'s subtree. Issue #9: read from
    the reports' period indexes, which end in the home unit, with one join to the unit's path; never the cases."""
    home = aliased(OrgUnit)
    return (
        select(*columns)
        .select_from(HazardReport)
        .join(home, home.id == HazardReport.home_unit_id)
        .where(home.path.like(f"{scope.path}%"))
    )


def hazard_reports_verified(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """Reports received in the period and verified true or basically true (seed 000 item 13)."""
    start, end = _stamp_bounds(period)
    query = _hazards_in(scope, func.count()).where(
        HazardReport.verification_result.in_(VERIFIED), HazardReport.received_at.between(start, end)
    )
    return _value(session, query)


def hazard_rewards_paid(session: Session, period: Period, scope: OrgUnit, params: Mapping[str, Any]) -> Decimal:
    """First-reporter rewards paid in the period (seed 000 item 13)."""
    query = _hazards_in(scope, func.sum(HazardReport.reward_amount)).where(
        HazardReport.reward_paid_on.between(period.start, period.end)
    )
    return _value(session, query).quantize(FEN)


MetricFunction = Callable[[Session, Period, OrgUnit, Mapping[str, Any]], Decimal]

METRICS: dict[str, MetricFunction] = {
    "studios_named": studios_named,
    "studio_funding_paid": studio_funding_paid,
    "honours_awarded": honours_awarded,
    "aid_workers_reviewed": aid_workers_reviewed,
    "aid_paid": aid_paid,
    "aid_workers_paid": aid_workers_paid,
    "hazard_reports_verified": hazard_reports_verified,
    "hazard_rewards_paid": hazard_rewards_paid,
}


@dataclass(frozen=True)
class Goal:
    value: Decimal
    source: str
    is_default: bool


@dataclass(frozen=True)
class TargetProgress:
    target: PlanTarget
    value: Decimal | None  # None: no live data source for this target
    goal: Goal | None  # None: tracked without a goal, or no goal in force for the period
    percent: Decimal | None

    @property
    def label(self) -> str:
        return self.target.label


def _call_quota(session: Session, target: PlanTarget, year: int, plan_unit_id: int) -> Goal | None:
    """From 2021 no source gives the studio quotas: the year's call records the quota its opener entered."""
    call = session.scalar(select(StudioCall).where(StudioCall.city_unit_id == plan_unit_id, StudioCall.year == year))
    if call is None:
        return None
    quota = Decimal(call.quota(target.params["studio_type"]))
    return Goal(quota, f"{year}年度创新工作室申报通知：{call.quota_source}", False)


def annual_goal(session: Session, target: PlanTarget, period: Period, plan_unit_id: int) -> Goal | None:
    """The goal in force for the period's year: the parameter valid on the latest day of that year it covers.

    “连续3年” measures end mid-year (e.g. 2020-09-30), so a year the parameter covers only in part still has its goal.
    Studio quotas fall back to the year's call (workflows.studio.calls) where no parameter is in force.
    """
    if not target.parameter_key:
        return None
    year_start, year_end = date(period.year, 1, 1), date(period.year, 12, 31)
    parameter = session.scalar(
        select(PolicyParameter)
        .where(
            PolicyParameter.key == target.parameter_key,
            PolicyParameter.valid_from <= year_end,
            (PolicyParameter.valid_to.is_(None)) | (PolicyParameter.valid_to >= year_start),
        )
        .order_by(PolicyParameter.valid_from.desc())
        .limit(1)
    )
    if parameter is None:
        if target.metric == "studios_named" and "studio_type" in (target.params or {}):
            return _call_quota(session, target, period.year, plan_unit_id)
        return None
    return Goal(Decimal(parameter.value), parameter.source, parameter.is_default)


def target_progress(
    session: Session, target: PlanTarget, period: Period, scope: OrgUnit, plan_unit_id: int
) -> TargetProgress:
    """The target's figure within `scope` for the period, against the annual goal of the plan's issuing unit."""
    metric = METRICS.get(target.metric)
    value = metric(session, period, scope, target.params or {}) if metric else None
    goal = annual_goal(session, target, period, plan_unit_id)
    percent = None
    if value is not None and goal is not None and goal.value > 0:
        percent = (value * 100 / goal.value).quantize(Decimal("0.1"))
    return TargetProgress(target, value, goal, percent)


def row_progress(
    session: Session, plan: Plan, item: PlanItem, row: ResponsibleRow, period: Period
) -> list[TargetProgress]:
    """A unit's own progress on the item's targets that have live data, within its subtree; none for a department
    (the item's progress is the plan unit's)."""
    if not row.covers_subtree:
        return []
    return [
        target_progress(session, target, period, row.org_unit, plan.issuing_unit_id)
        for target in item.targets
        if target.metric
    ]
