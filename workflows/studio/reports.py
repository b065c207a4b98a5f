"""The studio and honour documents as data (issue 7 "Records"; seed 000 items 4–5; seed 004).

- `application_record`: the studio application record, every opinion and score (workflows.studio.application_record).
- `naming_list`: the year's named studios by type, with the count of each type against the call's quota.
- `funding_ledger`: every funding payment with the rule it was paid under, totals per year and a grand total.
- `registry_rows`: every studio with its standing and assessment history (the registry's Excel export).
- `honour_list`: the year's awarded honours by type against the year's quota (seed 000 item 5: 20 / 30 / 50 / 50)
  and the technology-enterprise share as a percentage to one decimal (seed 004 reports it so).

Who may read them is workflows.studio.access's `may_see_city_overview` (the city federation and the province).
No Flask; dates and amounts stay typed for the templates and sheets to format.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from workflows.models import (
    ApplicationStatus,
    AssessmentResult,
    HonourNomination,
    OrgUnit,
    Studio,
    StudioApplication,
    StudioCall,
    StudioFunding,
)
from workflows.policy.parameters import policy_snapshot
from workflows.studio.application_record import ApplicationRecord, application_record
from workflows.studio.quotas import HONOUR_KINDS, share_percent

__all__ = ["ApplicationRecord", "application_record"]

STUDIO_TYPES = ("劳模创新工作室", "职工创新工作室")
ZERO = Decimal("0.00")


def _in_order(value: str, order: Iterable[str]) -> tuple[int, str]:
    known = list(order)
    return (known.index(value) if value in known else len(known), value)


# --- 命名名单 ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedStudio:
    number: int
    name: str
    studio_type: str
    enterprise: str
    tech_enterprise: bool
    lead_name: str
    document_number: str
    named_on: date
    standing: str


@dataclass(frozen=True)
class TypeCount:
    label: str
    count: int
    quota: int | None  # None: no quota for the year (no call opened)

    @property
    def left(self) -> int | None:
        return None if self.quota is None else max(self.quota - self.count, 0)

    @property
    def over(self) -> bool:
        return self.quota is not None and self.count > self.quota


@dataclass(frozen=True)
class NamingList:
    year: int
    city: str
    studios: list[NamedStudio]  # by type, then name
    counts: list[TypeCount]

    @property
    def total(self) -> int:
        return len(self.studios)


def naming_list(session: Session, city_unit: OrgUnit, year: int) -> NamingList:
    """The studios named in `year` by the city, whatever has happened to them since (the list is of the year's
    names; a later 摘牌 shows in the standing column)."""
    rows = session.execute(
        select(Studio, StudioApplication.tech_enterprise)
        .join(StudioApplication, StudioApplication.id == Studio.application_id)
        .where(Studio.city_unit_id == city_unit.id, Studio.year == year)
        .options(selectinload(Studio.enterprise))
    ).all()
    ordered = sorted(rows, key=lambda row: (*_in_order(row[0].studio_type, STUDIO_TYPES), row[0].name, row[0].id))
    studios = [
        NamedStudio(number, s.name, s.studio_type, s.enterprise.name, bool(tech), s.lead_name, s.document_number,
                    s.named_on, s.standing)
        for number, (s, tech) in enumerate(ordered, start=1)
    ]  # fmt: skip
    call = session.scalar(select(StudioCall).where(StudioCall.city_unit_id == city_unit.id, StudioCall.year == year))
    types = list(STUDIO_TYPES) + sorted({s.studio_type for s in studios} - set(STUDIO_TYPES))
    counts = [TypeCount(t, sum(1 for s in studios if s.studio_type == t), _call_quota(call, t)) for t in types]
    return NamingList(year, city_unit.name, studios, counts)


def _call_quota(call: StudioCall | None, studio_type: str) -> int | None:
    return call.quota(studio_type) if call is not None and studio_type in STUDIO_TYPES else None


# --- 资金拨付台账 ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerRow:
    number: int
    studio: str
    studio_type: str
    naming_year: int
    year: int  # the funding's year
    amount: Decimal
    rule_source: str
    voucher_number: str
    paid_on: date
    recorded_by: str


@dataclass(frozen=True)
class LedgerYear:
    year: int
    rows: list[LedgerRow]

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def amount(self) -> Decimal:
        return sum((row.amount for row in self.rows), ZERO)


@dataclass(frozen=True)
class FundingLedger:
    city: str
    year: int | None  # None: every year
    years: list[LedgerYear]

    @property
    def count(self) -> int:
        return sum(group.count for group in self.years)

    @property
    def amount(self) -> Decimal:
        return sum((group.amount for group in self.years), ZERO)

    @property
    def sources(self) -> list[str]:
        """The rules paid under, each once, in the order first used: the PDF numbers them in a legend."""
        return list(dict.fromkeys(row.rule_source for group in self.years for row in group.rows))


def funding_ledger(session: Session, city_unit: OrgUnit, year: int | None = None) -> FundingLedger:
    """Every payment to the city's studios (of funding year `year`, or all), by year, then date paid."""
    query = (
        select(StudioFunding, Studio)
        .join(Studio, Studio.id == StudioFunding.studio_id)
        .where(Studio.city_unit_id == city_unit.id)
        .options(selectinload(StudioFunding.recorded_by))
    )
    if year is not None:
        query = query.where(StudioFunding.year == year)
    rows = sorted(session.execute(query).all(), key=lambda r: (r[0].year, r[0].paid_on, r[0].id))
    years: dict[int, LedgerYear] = {}
    for number, (funding, studio) in enumerate(rows, start=1):
        years.setdefault(funding.year, LedgerYear(funding.year, [])).rows.append(
            LedgerRow(number, studio.name, studio.studio_type, studio.year, funding.year, funding.amount,
                      funding.rule_source, funding.voucher_number, funding.paid_on, funding.recorded_by.display_name)
        )  # fmt: skip
    return FundingLedger(city_unit.name, year, list(years.values()))


# --- 工作室名录 --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AssessmentLine:
    year: int
    result: str
    opinion: str
    rectification_deadline: date | None
    recheck: str  # 复查通过 / 复查未通过 / 待复查 / "" (no yellow card)
    recheck_opinion: str


@dataclass(frozen=True)
class RegistryRow:
    number: int
    name: str
    studio_type: str
    year: int
    enterprise: str
    uscc: str
    tech_enterprise: bool
    lead_name: str
    document_number: str
    named_on: date
    standing: str
    revoked_on: date | None
    funded: Decimal
    assessments: list[AssessmentLine]


def _recheck(result: str, passed: bool | None) -> str:
    if result != AssessmentResult.YELLOW:
        return ""
    return "待复查" if passed is None else ("复查通过" if passed else "复查未通过")


def registry_rows(session: Session, city_unit: OrgUnit) -> list[RegistryRow]:
    """Every studio the city has named, by naming year, type and name, with its assessments year by year."""
    studios = session.scalars(
        select(Studio)
        .where(Studio.city_unit_id == city_unit.id)
        .options(
            selectinload(Studio.enterprise),
            selectinload(Studio.application),
            selectinload(Studio.fundings),
            selectinload(Studio.assessments),
        )
    ).all()
    ordered = sorted(studios, key=lambda s: (s.year, *_in_order(s.studio_type, STUDIO_TYPES), s.name, s.id))
    return [
        RegistryRow(
            number, s.name, s.studio_type, s.year, s.enterprise.name, s.enterprise.uscc, s.application.tech_enterprise,
            s.lead_name, s.document_number, s.named_on, s.standing, s.revoked_on,
            sum((f.amount for f in s.fundings), ZERO),
            [AssessmentLine(a.year, a.result, a.opinion, a.rectification_deadline,
                            _recheck(a.result, a.recheck_passed), a.recheck_opinion or "")
             for a in s.assessments],
        )
        for number, s in enumerate(ordered, start=1)
    ]  # fmt: skip


# --- 荣誉授予名单 ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwardedHonour:
    number: int
    honour_type: str
    nominee_kind: str
    nominee_name: str
    nominee_position: str
    enterprise: str
    tech_enterprise: bool
    project_name: str
    district: str
    document_number: str
    awarded_on: date | None


@dataclass(frozen=True)
class HonourGroup:
    honour_type: str
    quota: int | None  # None: no quota parameter in force that year
    awarded: list[AwardedHonour]

    @property
    def count(self) -> int:
        return len(self.awarded)

    @property
    def tech_count(self) -> int:
        return sum(1 for a in self.awarded if a.tech_enterprise)

    @property
    def tech_share(self) -> Decimal | None:
        return share_percent(self.tech_count, self.count)

    @property
    def left(self) -> int | None:
        return None if self.quota is None else max(self.quota - self.count, 0)


@dataclass(frozen=True)
class HonourList:
    year: int
    city: str
    groups: list[HonourGroup]

    @property
    def count(self) -> int:
        return sum(group.count for group in self.groups)

    @property
    def tech_count(self) -> int:
        return sum(group.tech_count for group in self.groups)

    @property
    def tech_share(self) -> Decimal | None:
        """Awarded honours in technology enterprises, % of all awarded, one decimal ROUND_HALF_UP (seed 004)."""
        return share_percent(self.tech_count, self.count)


def honour_list(session: Session, city_unit: OrgUnit, year: int) -> HonourList:
    """The honours the city awarded in `year` (status 已授予), by type in the order of seed 000 item 5."""
    nominations = session.scalars(
        select(HonourNomination)
        .where(
            HonourNomination.city_unit_id == city_unit.id,
            HonourNomination.year == year,
            HonourNomination.status == ApplicationStatus.AWARDED.value,
        )
        .options(selectinload(HonourNomination.enterprise), selectinload(HonourNomination.district_unit))
    ).all()
    quotas = policy_snapshot(session, date(year, 1, 1), "award.key_project.")
    types = list(HONOUR_KINDS) + sorted({n.honour_type for n in nominations} - set(HONOUR_KINDS))
    ordered = sorted(
        nominations, key=lambda n: (*_in_order(n.honour_type, types), n.awarded_on or date.max, n.nominee_name, n.id)
    )
    awarded = [
        AwardedHonour(number, n.honour_type, n.nominee_kind, n.nominee_name, n.nominee_position, n.enterprise.name,
                      n.tech_enterprise, n.project_name, n.district_unit.name, n.document_number or "", n.awarded_on)
        for number, n in enumerate(ordered, start=1)
    ]  # fmt: skip
    groups = []
    for honour_type in types:
        key = HONOUR_KINDS.get(honour_type)
        quota = quotas.get(key) if key is not None else None
        groups.append(
            HonourGroup(
                honour_type,
                int(quota) if quota is not None else None,
                [honour for honour in awarded if honour.honour_type == honour_type],
            )
        )
    return HonourList(year, city_unit.name, groups)
