"""Union fees (工会经费): the 2% fee, its 40/60 split and the small/micro-enterprise refund.

Rates and shares are percent numbers, exactly as stored in `policy_parameter` with unit "%" (2 means
2%), so a script can pass a snapshot value straight through.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from workflows.policy import as_count, as_decimal, to_fen

HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class FeeSplit:
    total: Decimal  # 工会经费 = 工资总额 × 2%
    tax_collected: Decimal  # 税务（原地税）代收，上解上级工会
    retained: Decimal  # 基层工会留成，企业直接拨付同级工会


def _percent(value: Decimal, name: str) -> Decimal:
    number = as_decimal(value, name)
    if not Decimal(0) <= number <= HUNDRED:
        raise ValueError(f"{name}应为0至100之间的百分数，收到 {number}")
    return number


def _non_negative(value: Decimal, name: str) -> Decimal:
    number = as_decimal(value, name)
    if number < 0:
        raise ValueError(f"{name}不能为负数：{number}")
    return number


def union_fee(payroll: Decimal, rate: Decimal) -> Decimal:
    """The union fee for one payroll: payroll × rate%, rounded to the fen.

    Rule: 2% of total payroll (工资总额2%), 大工办发〔2017〕28号 第1项（措施一）; parameter `fee.rate`.
    """
    base = _non_negative(payroll, "工资总额")
    return to_fen(base * _percent(rate, "拨缴比例") / HUNDRED)


def split_union_fee(payroll: Decimal, rate: Decimal, tax_share: Decimal, retained_share: Decimal) -> FeeSplit:
    """Split the fee into the tax-collected part and the part the enterprise pays its own union.

    Rule: the tax authority collects 40% of the 2%; the grassroots union's 60% is paid by the enterprise
    directly, 大工办发〔2017〕28号 第1项（措施一）; parameters `fee.tax_collected_share`,
    `fee.retained_share`.

    Invariant: tax_collected + retained == total. The tax-collected part is rounded on its own because
    it is the figure on the tax declaration and receipt; any rounding remainder goes to the retained
    part, which the enterprise transfers itself, so the two payments always add up to the fee.
    (With 40/60 the remainder is always zero; other shares, e.g. 50/50, can leave one fen.)
    """
    tax = _percent(tax_share, "代收比例")
    retained_pct = _percent(retained_share, "留成比例")
    if tax + retained_pct != HUNDRED:
        raise ValueError(f"代收比例与留成比例之和应为100%，收到 {tax}% + {retained_pct}%")
    total = union_fee(payroll, rate)
    tax_collected = to_fen(total * tax / HUNDRED)
    return FeeSplit(total=total, tax_collected=tax_collected, retained=total - tax_collected)


def small_enterprise_refund_eligible(employee_count: int, max_employees: Decimal | int) -> bool:
    """Whether a small/micro enterprise qualifies for the full refund, by headcount.

    Rule: "从业人员25人以下的小微企业" are refunded in full, 大工办发〔2017〕28号 第2项（措施二）;
    parameter `fee.small_enterprise_max_employees`. In Chinese legal drafting "以下" includes the
    number itself (民法典第1259条: "以上、以下、以内、届满，包括本数"; 刑法第99条 likewise), so an
    enterprise with exactly 25 employees is eligible and 26 is not.
    """
    count = as_count(employee_count, "从业人员数")
    if count < 0:
        raise ValueError(f"从业人员数不能为负数：{count}")
    return count <= as_count(max_employees, "从业人员上限")


def small_enterprise_refund(tax_collected_paid: Decimal) -> Decimal:
    """The refund owed to an eligible small/micro enterprise: all of the tax-collected 40% it paid.

    Rule: "全额返还" on the principle "先征后返", 大工办发〔2017〕28号 第2项（措施二）. Only the 40% passes
    through the tax authority; the 60% never leaves the enterprise's own union (领域调研 §2.d, R35).
    """
    return to_fen(_non_negative(tax_collected_paid, "已缴代收经费"))
