"""Target progress from live data (issue #8: "progress is computed from live data, never typed in").

Each metric (workflows.plans.metric_queries) counts or sums the records a linked process writes, for a period
(Beijing dates), grouped by the unit they count for; a target's figure within a unit (the whole plan's issuing unit,
or one responsible unit) is the sum over that unit's subtree. A target's goal comes from the policy parameter it
names, which carries its source (seed and item); goals are annual, so a quarter or month shows the year's goal.

Issue #9: a page asks for many targets at many scopes; `ProgressReader` reads each metric once per period and each
goal once per year, and sums the groups in Python.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.models import OrgUnit, PlanItem, PlanTarget, PolicyParameter, StudioCall
from workflows.plans.metric_queries import METRICS, Metric, metrics_statement
from workflows.plans.periods import Period
from workflows.plans.responsibility import ResponsibleRow

FEN = Decimal("0.01")
Groups = dict[tuple[int | None, str | None], Decimal]  # (unit the records count for, kind) → value

__all__ = ["METRICS", "Goal", "ProgressReader", "TargetProgress", "target_progress"]


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


def period_parameters(period: Period) -> dict[str, date | datetime]:
    """The period's bounds as the metric statements compare them: dates, and the Beijing days' first and last
    instants."""
    return {
        "period_start": period.start,
        "period_end": period.end,
        "stamp_start": datetime.combine(period.start, time.min, tzinfo=SHANGHAI),
        "stamp_end": datetime.combine(period.end, time.max, tzinfo=SHANGHAI),
    }


def _figure(metric: Metric, value: object) -> Decimal:
    """A group's value as the metric means it: yuan for money (from fen where the tally keeps fen), else a count.
    The union's rows all take its first member's column type (a money sum on SQLite: a count would read 3.00)."""
    if metric.in_fen:
        return Decimal(int(Decimal(str(value or 0)))) / 100
    if metric.money:
        return Decimal(str(value or 0))
    return Decimal(int(Decimal(str(value or 0))))


def _in_force(parameters: Iterable[PolicyParameter], year: int) -> dict[str, PolicyParameter]:
    """Per key, the parameter valid on the latest day of `year` it covers.

    “连续3年” measures end mid-year (e.g. 2020-09-30), so a year the parameter covers only in part still has its goal.
    """
    year_start, year_end = date(year, 1, 1), date(year, 12, 31)
    chosen: dict[str, PolicyParameter] = {}
    for parameter in parameters:
        if parameter.valid_from > year_end or (parameter.valid_to is not None and parameter.valid_to < year_start):
            continue
        current = chosen.get(parameter.key)
        if current is None or parameter.valid_from > current.valid_from:
            chosen[parameter.key] = parameter
    return chosen


class ProgressReader:
    """Target progress for one page: metrics read once per period, goals once per year (issue #9).

    `units`: unit id → materialised path for the units the page's scopes cover (the plan unit's subtree); a scope
    outside it has its subtree read when first asked for. `targets`: the targets the page shows: their metrics are
    read together in one statement when the first is asked for, and only their goals' parameters are loaded (default:
    every metric and parameter)."""

    def __init__(
        self,
        session: Session,
        plan_unit_id: int,
        units: Mapping[int, str] | None = None,
        targets: Collection[PlanTarget] | None = None,
    ) -> None:
        self.session = session
        self.plan_unit_id = plan_unit_id
        self.units = dict(units or {})
        shown = {target.metric for target in targets if target.metric} if targets is not None else set(METRICS)
        self.metrics = tuple(sorted(shown & METRICS.keys()))
        self.parameter_keys = (
            frozenset(target.parameter_key for target in targets if target.parameter_key) if targets is not None
            else None
        )  # fmt: skip
        self.groups: dict[tuple[str, Period], Groups] = {}
        self.parameters: dict[tuple[int, bool], dict[str, PolicyParameter]] = {}
        self.calls: dict[int, StudioCall | None] = {}
        self.subtrees: dict[int, frozenset[int]] = {}

    def metric_groups(self, name: str, period: Period) -> Groups:
        if (name, period) not in self.groups:
            names = self.metrics if name in self.metrics else (name,)
            for each in names:
                self.groups[(each, period)] = {}
            for unit_id, kind, value, each in self.session.execute(metrics_statement(names), period_parameters(period)):
                self.groups[(each, period)][(unit_id, kind)] = _figure(METRICS[each], value)
        return self.groups[(name, period)]

    def subtree(self, scope: OrgUnit) -> frozenset[int]:
        found = self.subtrees.get(scope.id)
        if found is None:
            if scope.id in self.units:
                found = frozenset(unit for unit, path in self.units.items() if path.startswith(scope.path))
            else:
                rows = self.session.execute(select(OrgUnit.id).where(OrgUnit.path.startswith(scope.path)))
                found = frozenset(unit_id for (unit_id,) in rows)
            self.subtrees[scope.id] = found
        return found

    def value(self, target: PlanTarget, period: Period, scope: OrgUnit) -> Decimal | None:
        """The target's figure within `scope`'s subtree; None when the metric has no live data source."""
        metric = METRICS.get(target.metric)
        if metric is None:
            return None
        params = target.params or {}
        kind_param = metric.kind_param or ""
        picks_kind = kind_param in params  # a target without the parameter counts every kind
        kind = params.get(kind_param)
        units = self.subtree(scope)
        total = sum(
            (value for (unit_id, group_kind), value in self.metric_groups(target.metric, period).items()
             if unit_id in units and (not picks_kind or group_kind == kind)),
            Decimal(0),
        )  # fmt: skip
        return total.quantize(FEN) if metric.money else total

    def goal(self, target: PlanTarget, period: Period) -> Goal | None:
        """The goal in force for the period's year (`_in_force`); studio quotas fall back to the year's call
        (workflows.studio.calls) where no parameter is in force."""
        if not target.parameter_key:
            return None
        year = period.year
        announced = self.parameter_keys is not None and target.parameter_key in self.parameter_keys
        if (year, announced) not in self.parameters:
            query = select(PolicyParameter)
            if announced and self.parameter_keys is not None:
                query = query.where(PolicyParameter.key.in_(sorted(self.parameter_keys)))
            self.parameters[(year, announced)] = _in_force(self.session.scalars(query), year)
        parameter = self.parameters[(year, announced)].get(target.parameter_key)
        if parameter is not None:
            return Goal(Decimal(parameter.value), parameter.source, parameter.is_default)
        if target.metric == "studios_named" and "studio_type" in (target.params or {}):
            return self._call_quota(target, year)
        return None

    def _call_quota(self, target: PlanTarget, year: int) -> Goal | None:
        """From 2021 no source gives the studio quotas: the year's call records the quota its opener entered."""
        if year not in self.calls:
            self.calls[year] = self.session.scalar(
                select(StudioCall).where(StudioCall.city_unit_id == self.plan_unit_id, StudioCall.year == year)
            )
        call = self.calls[year]
        if call is None:
            return None
        quota = Decimal(call.quota(target.params["studio_type"]))
        return Goal(quota, f"{year}年度创新工作室申报通知：{call.quota_source}", False)

    def progress(self, target: PlanTarget, period: Period, scope: OrgUnit) -> TargetProgress:
        """The target's figure within `scope` for the period, against the annual goal of the plan's issuing unit."""
        value = self.value(target, period, scope)
        goal = self.goal(target, period)
        percent = None
        if value is not None and goal is not None and goal.value > 0:
            percent = (value * 100 / goal.value).quantize(Decimal("0.1"))
        return TargetProgress(target, value, goal, percent)

    def row_progress(self, item: PlanItem, row: ResponsibleRow, period: Period) -> list[TargetProgress]:
        """A unit's own progress on the item's targets that have live data, within its subtree; none for a
        department (the item's progress is the plan unit's)."""
        if not row.covers_subtree:
            return []
        return [self.progress(target, period, row.org_unit) for target in item.targets if target.metric]


def target_progress(
    session: Session, target: PlanTarget, period: Period, scope: OrgUnit, plan_unit_id: int
) -> TargetProgress:
    """One target's progress (a page with several uses one ProgressReader)."""
    return ProgressReader(session, plan_unit_id).progress(target, period, scope)
