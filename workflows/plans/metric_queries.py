"""The live-data metrics behind plan targets (issue #8: "progress is computed from live data, never typed in").

Each metric is one grouped statement: the period's value by the unit the record counts for and, where targets
pick a kind (五一劳动奖章, 职工创新工作室), by that kind. workflows.plans.metrics sums the groups over a unit's
subtree, so one statement serves the whole plan, a district's own row and every responsible row of the item page
(issue #9: the dashboard had sent a statement per target, per row, each with its own subtree subquery).

The statements are built once per process, with the period as bound parameters: `period_start` and `period_end`
(dates) for date columns, `stamp_start` and `stamp_end` (the Beijing days' first and last instants) for timestamps.
A page reads the metrics it needs in one statement, their groups tagged with the metric's name (`metrics_statement`;
issue #9: a statement per metric cost the dashboard ~0.5 ms each on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, distinct, func, literal, literal_column, select, union_all

from workflows.db import AwareDateTime
from workflows.models import (
    AidPayment,
    AidWorker,
    ApplicationStatus,
    HonourNomination,
    MetricTally,
    PaymentStatus,
    Studio,
    StudioApplication,
    StudioFunding,
)
from workflows.models.metric_tally import REWARDS_METRIC, VERIFIED_METRIC

NO_KIND = literal(None)
GroupedStatement = Select[Any, Any, Any]  # (unit id, kind or None, value)


def _during(column: Any) -> ColumnElement[bool]:
    """The record's date or instant lies in the period (both ends included)."""
    prefix = "stamp" if isinstance(column.type, AwareDateTime) else "period"
    return column.between(
        bindparam(f"{prefix}_start", type_=column.type), bindparam(f"{prefix}_end", type_=column.type)
    )


@cache
def studios_named() -> GroupedStatement:
    """Studios named in the period (seed 000 item 4), by the applicant union and the studio type."""
    return (
        select(StudioApplication.applicant_unit_id, Studio.studio_type, func.count(Studio.id))
        .join(StudioApplication, StudioApplication.id == Studio.application_id)
        .where(_during(Studio.named_on))
        .group_by(StudioApplication.applicant_unit_id, Studio.studio_type)
    )


@cache
def studio_funding_paid() -> GroupedStatement:
    """Studio funding paid in the period, yuan (seed 000 item 4; from 2021 seed 004), by the applicant union."""
    return (
        select(StudioApplication.applicant_unit_id, NO_KIND, func.sum(StudioFunding.amount))
        .join(Studio, Studio.id == StudioFunding.studio_id)
        .join(StudioApplication, StudioApplication.id == Studio.application_id)
        .where(_during(StudioFunding.paid_on))
        .group_by(StudioApplication.applicant_unit_id)
    )


@cache
def honours_awarded() -> GroupedStatement:
    """Honours awarded in the period (seed 000 item 5), by the nominating unit and the honour."""
    return (
        select(HonourNomination.nominating_unit_id, HonourNomination.honour_type, func.count(HonourNomination.id))
        .where(HonourNomination.status == ApplicationStatus.AWARDED.value, _during(HonourNomination.awarded_on))
        .group_by(HonourNomination.nominating_unit_id, HonourNomination.honour_type)
    )


def _worker_unit() -> ColumnElement[Any]:
    # A worker belongs to the district the list assigned them to; a worker not yet assigned counts for the city.
    return func.coalesce(AidWorker.district_unit_id, AidWorker.city_unit_id)


@cache
def aid_workers_reviewed() -> GroupedStatement:
    """Workers whose family and employment situation the city reviewed in the period (seed 000 item 8)."""
    unit = _worker_unit()
    return (
        select(unit, NO_KIND, func.count(AidWorker.id))
        .where(AidWorker.review_conclusion.is_not(None), _during(AidWorker.reviewed_at))
        .group_by(unit)
    )


def _paid_to_workers(value: Any) -> GroupedStatement:
    unit = _worker_unit()
    return (
        select(unit, NO_KIND, value)
        .join(AidWorker, AidWorker.id == AidPayment.worker_id)
        .where(AidPayment.status == PaymentStatus.PAID.value, _during(AidPayment.paid_on))
        .group_by(unit)
    )


@cache
def aid_paid() -> GroupedStatement:
    """Aid paid to bank cards in the period, as the bank confirmed it (seed 000 item 10)."""
    return _paid_to_workers(func.sum(AidPayment.amount))


@cache
def aid_workers_paid() -> GroupedStatement:
    """Workers paid in the period (seed 000 item 10); a worker counts for one unit, so the groups add up."""
    return _paid_to_workers(func.count(distinct(AidPayment.worker_id)))


def _monthly(metric: str) -> GroupedStatement:
    """A metric kept as monthly sums (workflows.models.metric_tally): the period's months, by unit. The periods are
    whole months (workflows.plans.periods), so the first days of the months in it lie between its bounds."""
    return (
        select(MetricTally.org_unit_id, NO_KIND, func.sum(MetricTally.value))
        .where(MetricTally.metric == metric, _during(MetricTally.month))
        .group_by(MetricTally.org_unit_id)
    )


@cache
def hazard_reports_verified() -> GroupedStatement:
    """Reports received in the period and verified true or basically true (seed 000 item 13), by their case's home
    unit: summed from the monthly tally its triggers keep, not counted from the reports (issue #9)."""
    return _monthly(VERIFIED_METRIC)


@cache
def hazard_rewards_paid() -> GroupedStatement:
    """First-reporter rewards paid in the period (seed 000 item 13), in fen, by their case's home unit."""
    return _monthly(REWARDS_METRIC)


@dataclass(frozen=True)
class Metric:
    statement: Callable[[], GroupedStatement]  # built once; the period as bound parameters
    kind_param: str | None = None  # the target parameter that picks the groups' kind, when a target gives it
    money: bool = False  # yuan, rounded to the fen
    in_fen: bool = False  # the statement sums fen (a kept tally's exact integers), shown as yuan


METRICS: dict[str, Metric] = {
    "studios_named": Metric(studios_named, kind_param="studio_type"),
    "studio_funding_paid": Metric(studio_funding_paid, money=True),
    "honours_awarded": Metric(honours_awarded, kind_param="honour_type"),
    "aid_workers_reviewed": Metric(aid_workers_reviewed),
    "aid_paid": Metric(aid_paid, money=True),
    "aid_workers_paid": Metric(aid_workers_paid),
    "hazard_reports_verified": Metric(hazard_reports_verified),
    "hazard_rewards_paid": Metric(hazard_rewards_paid, money=True, in_fen=True),
}


@cache
def metrics_statement(names: tuple[str, ...]) -> Select[Any, Any, Any, Any]:
    """The named metrics' groups in one statement: (unit id, kind or None, value, metric name)."""
    tagged = [METRICS[name].statement().add_columns(literal_column(f"'{name}'")) for name in names]
    return tagged[0] if len(tagged) == 1 else union_all(*tagged)  # type: ignore[return-value]
