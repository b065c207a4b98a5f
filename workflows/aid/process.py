"""The list-level steps of the hardship-aid process (`hardship_aid`, seed 000 items 8–10; domain.md §2.a A2–A6).

One case per city and aid year carries the city's part of the list through distribution, the districts' review,
consolidation, the province's confirmation (or return of chosen rows) and the allocation of the city's total. The
rows stay in the aid tables (DESIGN §2); these functions record each step's effect on them and give the case the
few values it routes on (the districts of a round, the confirmed total). Every function flushes; the caller commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

import forms
from workflows.aid.access import is_province_livelihood
from workflows.aid.review import Conclusion, Progress
from workflows.aid.validation import PlacementType
from workflows.db import utcnow
from workflows.models import (
    AidCityList,
    AidImport,
    AidPayment,
    AidReview,
    AidWorker,
    Level,
    OrgUnit,
    PaymentStatus,
    PolicyParameter,
    ProcessInstance,
    User,
)
from workflows.policy import to_fen
from workflows.policy.aid import (
    buyout_aid_for_year,
    buyout_aid_months,
    internal_retirement_aid_table,
    internal_retirement_one_time_aid,
    within_annual_budget,
    years_in_internal_retirement,
)
from workflows.policy.parameters import parameter_value

PROCESS_KEY = "hardship_aid"
RETURNED = "退回"  # the conclusion recorded in a worker's review history when the province returns the row
ANNUAL_FUND = "aid.capacity_reduction.annual_fund"
BUYOUT_PER_YEAR = "aid.buyout.max_per_year"
ROW_NUMBERS = re.compile(r"[\s,，、;；]+")


def dispatch_aid_list(session: Session, user: User, year: int) -> list[ProcessInstance]:
    """下发: start one `hardship_aid` case for each city of the year's list that has none yet (seed 000 item 8)."""
    from workflows.operations import start_case

    if not is_province_livelihood(user):
        raise forms.FormValidationError({"year": "只有省总工会生活保障部可以下发援助名单"})
    if session.scalar(select(AidImport.id).where(AidImport.year == year)) is None:
        raise forms.FormValidationError({"year": f"援助年度：{year} 年度的名单尚未导入"})
    done = set(session.scalars(select(AidCityList.city_unit_id).where(AidCityList.year == year)))
    cities = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.id.in_(select(AidWorker.city_unit_id).where(AidWorker.year == year)))
        .order_by(OrgUnit.code)
    ).all()
    return [
        start_case(session, user, PROCESS_KEY, {"year": year, "city_code": city.code})
        for city in cities
        if city.id not in done
    ]


def city_list_of(session: Session, instance: ProcessInstance) -> AidCityList:
    city_list = session.scalar(select(AidCityList).where(AidCityList.instance_id == instance.id))
    assert city_list is not None, f"case {instance.case_number} carries no aid list"
    return city_list


def _city_rows(year: int, city_unit_id: int) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return AidWorker.year == year, AidWorker.city_unit_id == city_unit_id


def unassigned_districts(session: Session, year: int, city: OrgUnit) -> list[str]:
    """Districts written in the list that match no union registered under the city (a city whose units below were
    not yet registered when the list was imported): the city cannot distribute those rows."""
    names = session.scalars(
        select(AidWorker.district)
        .where(*_city_rows(year, city.id), AidWorker.district_unit_id.is_(None))
        .group_by(AidWorker.district)
    ).all()
    registered = _districts_by_name(session, city)
    return sorted(name for name in names if name.strip() not in registered)


def _districts_by_name(session: Session, city: OrgUnit) -> dict[str, OrgUnit]:
    below = session.scalars(select(OrgUnit).where(OrgUnit.parent_id == city.id))
    return {unit.name.removesuffix("总工会"): unit for unit in below if unit.level == Level.DISTRICT}


def distribute(session: Session, year: int, city: OrgUnit) -> list[int]:
    """分发: give every row its district union (rows imported before the city's unions were registered get theirs
    now) and return the units that review this round, in code order."""
    for name, unit in _districts_by_name(session, city).items():
        session.execute(
            update(AidWorker)
            .where(*_city_rows(year, city.id), AidWorker.district_unit_id.is_(None), AidWorker.district == name)
            .values(district_unit_id=unit.id)
        )
    return _units_of(session, select(AidWorker.district_unit_id).where(*_city_rows(year, city.id)))


def _units_of(session: Session, unit_ids: object) -> list[int]:
    query = select(OrgUnit.id).where(OrgUnit.id.in_(unit_ids)).order_by(OrgUnit.code)  # type: ignore[arg-type]
    return list(session.scalars(query))


def unit_progress(session: Session, year: int, unit_id: int) -> Progress:
    """How many of the union's workers of the year have a conclusion."""
    total, reviewed = session.execute(
        select(func.count(), func.count(AidWorker.review_conclusion)).where(
            AidWorker.year == year, AidWorker.district_unit_id == unit_id
        )
    ).one()
    return Progress(total, reviewed)


def city_progress(session: Session, year: int, city_unit_id: int) -> list[tuple[OrgUnit, Progress]]:
    """Each district's review progress for the city's part, in code order (the city's overview, step 3)."""
    rows = session.execute(
        select(AidWorker.district_unit_id, func.count(), func.count(AidWorker.review_conclusion))
        .where(*_city_rows(year, city_unit_id), AidWorker.district_unit_id.is_not(None))
        .group_by(AidWorker.district_unit_id)
    ).all()
    units = {u.id: u for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_([r[0] for r in rows])))}
    progress = [(units[unit_id], Progress(total, done)) for unit_id, total, done in rows if unit_id is not None]
    return sorted(progress, key=lambda item: item[0].code)


def parse_row_numbers(text: str) -> list[int]:
    """The province's list of returned rows: row numbers of the imported sheet, separated by commas or spaces."""
    parts = [part for part in ROW_NUMBERS.split(text.strip()) if part]
    if not parts or not all(part.isascii() and part.isdecimal() and len(part) <= 7 for part in parts):
        raise forms.FormValidationError({"returned_rows": "退回人员：请填写名单行号，以逗号分隔，如 12, 35"})
    return sorted({int(part) for part in parts})


def rows_to_return(session: Session, city_list: AidCityList, text: str) -> list[AidWorker]:
    """The city's rows the province names, each reviewed; any row that is not is named in the error."""
    numbers = parse_row_numbers(text)
    workers = list(
        session.scalars(
            select(AidWorker).where(
                *_city_rows(city_list.year, city_list.city_unit_id), AidWorker.row_number.in_(numbers)
            )
        )
    )
    unknown = sorted(set(numbers) - {w.row_number for w in workers})
    if unknown:
        listed = "、".join(str(n) for n in unknown[:20])
        raise forms.FormValidationError({"returned_rows": f"退回人员：第 {listed} 行不在本市名单中"})
    return workers


def return_rows(session: Session, user: User, workers: list[AidWorker], reason: str) -> list[int]:
    """退回: the chosen rows lose their conclusion and go back to their district with the province's reason; the
    rest keep theirs (issue #6 step 4). Returns the districts that review again."""
    now = utcnow()
    for worker in workers:
        session.add(
            AidReview(worker_id=worker.id, conclusion=RETURNED, reason=reason, reviewed_by_id=user.id, reviewed_at=now)
        )
        worker.review_conclusion = None
        worker.returned_reason = reason
    session.flush()
    return _units_of(session, [w.district_unit_id for w in workers if w.district_unit_id is not None])


def rules_date(session: Session, year: int) -> date:
    """The day whose policy parameters govern an aid year: its last day, or the last day of the measure if that ends
    within the year (seed 000 runs 2017-10 to 2020-09); refuses a year the measure does not cover."""
    start, end = date(year, 1, 1), date(year, 12, 31)
    row = session.scalars(
        select(PolicyParameter)
        .where(
            PolicyParameter.key == ANNUAL_FUND,
            PolicyParameter.valid_from <= end,
            or_(PolicyParameter.valid_to.is_(None), PolicyParameter.valid_to >= start),
        )
        .order_by(PolicyParameter.valid_from.desc())
        .limit(1)
    ).first()
    if row is None:
        raise forms.FormValidationError({"decision": f"{year} 年度不在去产能专项援助政策的执行期内，无法核定金额"})
    return min(end, row.valid_to) if row.valid_to else end


def aid_amount(worker: AidWorker, year: int, table: list[tuple[Decimal, Decimal]], per_year: Decimal) -> Decimal:
    """The amount for one confirmed worker (seed 000 item 9): 内退 by time in internal retirement, 买断 by the
    months of the year within the unemployment-insurance period and before re-employment."""
    if worker.placement_type == PlacementType.INTERNAL_RETIREMENT.value:
        assert worker.internal_retirement_start is not None and worker.statutory_retirement_on is not None
        years = years_in_internal_retirement(worker.internal_retirement_start, worker.statutory_retirement_on, year)
        return internal_retirement_one_time_aid(years, table)
    assert worker.ui_benefit_start is not None and worker.ui_benefit_end is not None
    months = buyout_aid_months(year, worker.ui_benefit_start, worker.ui_benefit_end, worker.reemployed_on)
    return buyout_aid_for_year(months, per_year)


@dataclass(frozen=True)
class Confirmation:
    count: int
    total: Decimal


def confirm_city_list(session: Session, city_list: AidCityList) -> Confirmation:
    """确认: the 符合 rows become the final list with their amounts (援助金额核定, seed 000 items 9–10)."""
    on = rules_date(session, city_list.year)
    table = internal_retirement_aid_table(session, on)
    per_year = parameter_value(session, BUYOUT_PER_YEAR, on)
    now, total, count = utcnow(), Decimal("0.00"), 0
    eligible = session.scalars(
        select(AidWorker).where(
            *_city_rows(city_list.year, city_list.city_unit_id),
            AidWorker.review_conclusion == Conclusion.ELIGIBLE.value,
        )
    )
    for worker in eligible:
        try:
            worker.aid_amount = aid_amount(worker, city_list.year, table, per_year)
        except ValueError as exc:
            raise forms.FormValidationError({"decision": f"第 {worker.row_number} 行 {worker.name}：{exc}"}) from exc
        worker.confirmed_at = now
        total, count = total + worker.aid_amount, count + 1
    city_list.confirmed_at = now
    session.flush()
    return Confirmation(count, to_fen(total))


def allocation_problem(session: Session, city_list: AidCityList, amount: Decimal) -> str | None:
    """Why allocating `amount` to the city would break the province's annual fund, with the figures (item 10)."""
    fund = parameter_value(session, ANNUAL_FUND, rules_date(session, city_list.year))
    others = session.scalar(
        select(func.coalesce(func.sum(AidCityList.allocated_amount), 0)).where(
            AidCityList.year == city_list.year, AidCityList.id != city_list.id
        )
    )
    allocated = to_fen(Decimal(others or 0))
    if within_annual_budget(allocated, amount, fund):
        return None
    return (
        f"拨付金额：{city_list.year} 年度已拨付 {allocated:,.2f} 元，本次 {amount:,.2f} 元，合计 "
        f"{allocated + amount:,.2f} 元，超过省总去产能专项援助资金 {to_fen(fund):,.2f} 元"
    )


def record_allocation(session: Session, user: User, city_list: AidCityList, data: dict[str, object]) -> None:
    """拨付: the province's transfer of the city's total to the city federation."""
    city_list.allocated_amount = Decimal(str(data["amount"]))
    city_list.allocation_document = str(data["allocation_document"])
    city_list.allocated_on = date.fromisoformat(str(data["allocated_on"]))
    city_list.allocated_by_id = user.id
    session.flush()


def repay_needed(session: Session, year: int, unit_id: int) -> bool:
    """Whether the union has a confirmed worker left to pay: not paid, not in a batch awaiting the bank, not withheld
    (after its corrections, a follow-up batch pays only those, seed 000 item 10 / domain.md §2.a A8)."""
    live = select(AidPayment.worker_id).where(AidPayment.status != PaymentStatus.FAILED.value)
    query = select(AidWorker.id).where(
        AidWorker.year == year,
        AidWorker.district_unit_id == unit_id,
        AidWorker.confirmed_at.is_not(None),
        AidWorker.aid_amount > 0,
        AidWorker.payment_withheld_reason == "",
        AidWorker.id.not_in(live),
    )
    return session.scalar(query.limit(1)) is not None
