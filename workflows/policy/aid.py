"""Aid for extremely poor workers of capacity-reduction enterprises (去产能企业特困职工援助, measure 七)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from workflows.policy import as_count, as_decimal, to_fen
from workflows.policy.parameters import policy_snapshot

INTERNAL_RETIREMENT_PREFIX = "aid.internal_retirement."
UNBOUNDED = Decimal("Infinity")


def buyout_aid(
    years_granted: int, max_per_year: Decimal, max_years: Decimal | int, per_year_amount: Decimal
) -> Decimal:
    """Total aid for a bought-out worker (买断解除劳动关系): per-year amount × years granted.

    Rule: "按每年不超过3000元的标准，给予一年或两年的援助", 大工办发〔2017〕28号 第9项（措施七）;
    parameters `aid.buyout.max_per_year`, `aid.buyout.max_years`. Only within the worker's
    unemployment-insurance period; that check belongs to the case, not to this formula.
    """
    years = as_count(years_granted, "援助年数")
    limit = as_count(max_years, "援助年数上限")
    if not 1 <= years <= limit:
        raise ValueError(f"援助年数应为1至{limit}年，收到 {years} 年")
    amount = as_decimal(per_year_amount, "每年援助金额")
    cap = as_decimal(max_per_year, "每年援助上限")
    if amount <= 0:
        raise ValueError(f"每年援助金额应大于0，收到 {amount} 元")
    if amount > cap:
        raise ValueError(f"每年援助金额 {amount} 元超过上限 {cap} 元")
    return to_fen(amount * years)


def internal_retirement_one_time_aid(
    years_in_internal_retirement: Decimal, table: Sequence[tuple[Decimal, Decimal]]
) -> Decimal:
    """One-time aid for an internally retired worker (内部退养), looked up by years in internal retirement.

    Rule: "视退养时间，按一定标准给予一次性援助", 大工办发〔2017〕28号 第9项（措施七）. The source gives no
    table; the rows are a configurable default (see `internal_retirement_table`). Each row is
    (up to N years inclusive, amount); the first row whose bound is not below the years applies.
    """
    years = as_decimal(years_in_internal_retirement, "退养年限")
    if years < 0:
        raise ValueError(f"退养年限不能为负数：{years}")
    if not table:
        raise ValueError("内退一次性援助标准表为空")
    for bound, amount in sorted(table, key=lambda row: row[0]):
        if years <= bound:
            return to_fen(as_decimal(amount, "援助标准"))
    raise ValueError(f"退养年限 {years} 年超出援助标准表的范围")


def internal_retirement_table(snapshot: Mapping[str, Decimal]) -> list[tuple[Decimal, Decimal]]:
    """Build the lookup table from a snapshot under "aid.internal_retirement.".

    Keys "up_to.N" give the amount for at most N years; one optional "over.N" gives the amount above
    the largest bound, and N must equal that bound so the table has no gap.
    """
    rows: list[tuple[Decimal, Decimal]] = []
    over: list[tuple[Decimal, Decimal]] = []
    for key, amount in snapshot.items():
        kind, _, bound = key.partition(".")
        if kind == "up_to":
            rows.append((as_decimal(bound, f"标准表键“{key}”"), amount))
        elif kind == "over":
            over.append((as_decimal(bound, f"标准表键“{key}”"), amount))
        else:
            raise ValueError(f"内退一次性援助标准表中无法识别的键“{key}”")
    rows.sort()
    if len(over) > 1:
        raise ValueError("内退一次性援助标准表只能有一个“over”档")
    if over:
        if not rows or over[0][0] != rows[-1][0]:
            raise ValueError("内退一次性援助标准表“over”档的起点应等于最高“up_to”档")
        rows.append((UNBOUNDED, over[0][1]))
    return rows


def internal_retirement_aid_table(session: Session, on: date) -> list[tuple[Decimal, Decimal]]:
    """The internal-retirement table in force on `on`, read from the policy parameters."""
    return internal_retirement_table(policy_snapshot(session, on, INTERNAL_RETIREMENT_PREFIX))


def within_annual_budget(total_so_far: Decimal, amount: Decimal, annual_budget: Decimal) -> bool:
    """Whether paying `amount` keeps the year's total within the annual fund.

    Rule: the province arranges 50 million yuan of special aid funds each year, 大工办发〔2017〕28号
    第10项（措施七）, parameter `aid.capacity_reduction.annual_fund` (the hardship fund of 第11项,
    `aid.hardship.annual_fund`, is checked the same way).
    """
    spent = as_decimal(total_so_far, "本年已安排金额")
    extra = as_decimal(amount, "本次金额")
    if spent < 0 or extra < 0:
        raise ValueError("金额不能为负数")
    return spent + extra <= as_decimal(annual_budget, "年度资金")


def months_between(start: date, end: date) -> int:
    """Whole calendar months from `start` to `end` (0 when `end` is before `start`): 2017-06-01 → 2018-05-31 is 11."""
    if end < start:
        return 0
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def years_in_internal_retirement(started_on: date, statutory_retirement_on: date, aid_year: int) -> Decimal:
    """Time in internal retirement (退养时间) that the one-time aid is looked up by, in years to two decimals.

    Counted in whole months from the start of 内退 to the end of the aid year, or to statutory retirement if that
    comes first. Seed 000 item 9 says only "视退养时间"; counting to the end of the aid year is a documented
    default [I] (README, Design), so every worker of one year's list is measured on the same day.
    """
    until = min(date(aid_year, 12, 31), statutory_retirement_on)
    return to_fen(Decimal(months_between(started_on, until)) / 12)


def buyout_aid_months(aid_year: int, benefit_start: date, benefit_end: date, reemployed_on: date | None) -> int:
    """Months of the aid year in which a bought-out worker may be aided: within the unemployment-insurance period and
    before re-employment ("在失业保险期内…视其重新就业情况", seed 000 item 9). A month counts when the worker
    qualified on at least one of its days [I]."""
    first, last = max(benefit_start, date(aid_year, 1, 1)), min(benefit_end, date(aid_year, 12, 31))
    if reemployed_on is not None:
        last = min(last, reemployed_on - timedelta(days=1))
    if last < first:
        return 0
    return (last.year - first.year) * 12 + last.month - first.month + 1


def buyout_aid_for_year(months: int, per_year: Decimal) -> Decimal:
    """One aid year's amount for a bought-out worker: the yearly standard for twelve months, pro rata for fewer [I].

    Rule: "按每年不超过3000元的标准" (seed 000 item 9), parameter `aid.buyout.max_per_year`; the second year of
    "一年或两年" is the worker's listing in the next year's list (MAX_BUYOUT_AID_YEARS at import).
    """
    if not 0 <= months <= 12:
        raise ValueError(f"援助月数应为0至12个月，收到 {months} 个月")
    return to_fen(as_decimal(per_year, "每年援助标准") * months / 12)
