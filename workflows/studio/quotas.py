"""Annual quotas (名额) of studio names and honours: used and left, counted from live records.

A name is used from the leadership meeting's (or for honours the city review's) approval: it is held through the
public notice and released only when an objection is upheld (QUOTA_HOLDING).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.models import QUOTA_HOLDING, HonourNomination, OrgUnit, StudioApplication, StudioCall
from workflows.policy import as_count
from workflows.policy.parameters import MissingParameter, parameter_value
from workflows.policy.studio import quota_left

# Seed 000 item 5: the key-project labour competition's annual awards; parameter keys award.key_project.<kind>.
HONOUR_KINDS: dict[str, str] = {
    "五一劳动奖状": "may_day_certificate",
    "五一劳动奖章": "may_day_medal",
    "工人先锋号": "pioneer",
    "优秀班组长": "team_leader",
}
# Who receives each honour: a collective (unit, team) or a person.
HONOUR_NOMINEE_KIND: dict[str, str] = {
    "五一劳动奖状": "集体",
    "五一劳动奖章": "个人",
    "工人先锋号": "集体",
    "优秀班组长": "个人",
}


@dataclass(frozen=True)
class QuotaUsage:
    label: str
    quota: int
    used: int

    @property
    def left(self) -> int:
        return quota_left(self.quota, self.used)


def studio_quota_usage(session: Session, call: StudioCall, studio_type: str) -> QuotaUsage:
    used = session.scalar(
        select(func.count(StudioApplication.id)).where(
            StudioApplication.call_id == call.id,
            StudioApplication.studio_type == studio_type,
            StudioApplication.status.in_([status.value for status in QUOTA_HOLDING]),
        )
    )
    return QuotaUsage(studio_type, call.quota(studio_type), int(used or 0))


def call_quota_usage(session: Session, call: StudioCall) -> list[QuotaUsage]:
    return [studio_quota_usage(session, call, studio_type) for studio_type in ("劳模创新工作室", "职工创新工作室")]


def honour_quota(session: Session, honour_type: str, year: int) -> int:
    """The year's quota of an honour (seed 000 item 5: 20 / 30 / 50 / 50). Raises MissingParameter without one."""
    return as_count(parameter_value(session, f"award.key_project.{HONOUR_KINDS[honour_type]}", date(year, 1, 1)))


def honour_quota_usage(session: Session, city: OrgUnit, year: int, honour_type: str) -> QuotaUsage:
    used = session.scalar(
        select(func.count(HonourNomination.id)).where(
            HonourNomination.city_unit_id == city.id,
            HonourNomination.year == year,
            HonourNomination.honour_type == honour_type,
            HonourNomination.status.in_([status.value for status in QUOTA_HOLDING]),
        )
    )
    try:
        quota = honour_quota(session, honour_type, year)
    except MissingParameter:
        quota = 0
    return QuotaUsage(honour_type, quota, int(used or 0))


def honours_quota_usage(session: Session, city: OrgUnit, year: int) -> list[QuotaUsage]:
    return [honour_quota_usage(session, city, year, honour_type) for honour_type in HONOUR_KINDS]


def share_percent(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` as a percentage to one decimal (seed 004 reports the tech-enterprise share so)."""
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def honour_tech_share(session: Session, city: OrgUnit, year: int) -> tuple[int, int, Decimal | None]:
    """Honours awarded or on notice this year in technology enterprises: (in tech, all, percentage)."""
    holding = [status.value for status in QUOTA_HOLDING]
    rows = session.execute(
        select(HonourNomination.tech_enterprise, func.count(HonourNomination.id))
        .where(
            HonourNomination.city_unit_id == city.id,
            HonourNomination.year == year,
            HonourNomination.status.in_(holding),
        )
        .group_by(HonourNomination.tech_enterprise)
    ).all()
    counts = {bool(tech): int(n) for tech, n in rows}
    tech, total = counts.get(True, 0), sum(counts.values())
    return tech, total, share_percent(tech, total)
