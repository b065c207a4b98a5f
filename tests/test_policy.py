"""Policy parameters and calculations: table-driven pure tests, then database tests."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from itertools import pairwise

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflows.models.policy import PolicyParameter
from workflows.policy import as_decimal, to_fen
from workflows.policy.aid import (
    buyout_aid,
    internal_retirement_aid_table,
    internal_retirement_one_time_aid,
    internal_retirement_table,
    within_annual_budget,
)
from workflows.policy.catalogue import CATALOGUE, DEFAULT_SOURCE
from workflows.policy.fees import (
    FeeSplit,
    small_enterprise_refund,
    small_enterprise_refund_eligible,
    split_union_fee,
    union_fee,
)
from workflows.policy.hazard import RewardTier, hazard_reward_tiers, suggest_hazard_reward
from workflows.policy.parameters import (
    MissingParameter,
    parameter_text,
    parameter_value,
    policy_snapshot,
    seed_policy_parameters,
    select_effective,
    specs_snapshot,
)
from workflows.policy.studio import quota_left, studio_funding, studio_parameters

D = Decimal
TIERS = {"general.basically_true": D(300), "general.true": D(500), "major": D(3000)}


# --- catalogue -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", CATALOGUE, ids=lambda s: f"{s.key}@{s.valid_from}")
def test_catalogue_entry_is_complete(spec):
    assert spec.source.strip() and spec.label_zh.strip() and spec.unit.strip()
    assert len(spec.key) <= 100 and len(spec.value) <= 64 and len(spec.unit) <= 16
    assert spec.valid_to is None or spec.valid_from <= spec.valid_to
    if spec.is_default:
        assert spec.source.startswith(DEFAULT_SOURCE)
    else:
        assert DEFAULT_SOURCE not in spec.source
    if spec.key != "measures.start_date":
        assert as_decimal(spec.value) >= 0


def test_catalogue_periods_do_not_overlap():
    by_key = defaultdict(list)
    for spec in CATALOGUE:
        by_key[spec.key].append(spec)
    for key, specs in by_key.items():
        specs.sort(key=lambda s: s.valid_from)
        for earlier, later in pairwise(specs):
            assert earlier.valid_to is not None and earlier.valid_to < later.valid_from, key


@pytest.mark.parametrize(
    ("key", "on", "value"),
    [
        ("studio.model_worker.funding", date(2017, 12, 1), "50000"),
        ("studio.worker.funding", date(2017, 12, 1), "30000"),
        ("studio.model_worker.funding", date(2021, 6, 1), "100000"),
        ("studio.worker.funding", date(2021, 6, 1), "100000"),
        ("fee.small_enterprise_max_employees", date(2018, 5, 1), "25"),
        ("hazard.reward.major", date(2030, 1, 1), "3000"),
    ],
)
def test_select_effective(key, on, value):
    assert select_effective(CATALOGUE, key, on).value == value


@pytest.mark.parametrize(
    ("key", "on"),
    [("fee.small_enterprise_max_employees", date(2021, 1, 1)), ("no.such.key", date(2020, 1, 1))],
)
def test_select_effective_missing(key, on):
    with pytest.raises(MissingParameter) as info:
        select_effective(CATALOGUE, key, on)
    assert key in str(info.value) and on.isoformat() in str(info.value) and "缺少政策参数" in str(info.value)


def test_specs_snapshot_strips_prefix_and_skips_text():
    assert specs_snapshot(CATALOGUE, date(2019, 1, 1), "hazard.reward.") == TIERS
    assert specs_snapshot(CATALOGUE, date(2019, 1, 1), "measures.") == {"duration_years": D(3)}


# --- fees ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payroll", "total", "tax", "retained"),
    [
        ("1000000", "20000.00", "8000.00", "12000.00"),
        ("99000", "1980.00", "792.00", "1188.00"),
        ("12345.67", "246.91", "98.76", "148.15"),
        ("0.25", "0.01", "0.00", "0.01"),
        ("0", "0.00", "0.00", "0.00"),
    ],
)
def test_split_union_fee(payroll, total, tax, retained):
    split = split_union_fee(D(payroll), D(2), D(40), D(60))
    assert split == FeeSplit(D(total), D(tax), D(retained))
    assert split.tax_collected + split.retained == split.total == union_fee(D(payroll), D(2))


@pytest.mark.parametrize(
    ("payroll", "tax_share", "retained_share", "tax", "retained"),
    [
        # 50/50 of 0.05 would round both halves up to 0.03; the remainder rule keeps the sum at 0.05.
        ("2.50", "50", "50", "0.03", "0.02"),
        ("1234.57", "50", "50", "12.35", "12.34"),
        ("1234.57", "33.33", "66.67", "8.23", "16.46"),
    ],
)
def test_split_union_fee_remainder_goes_to_retained(payroll, tax_share, retained_share, tax, retained):
    split = split_union_fee(D(payroll), D(2), D(tax_share), D(retained_share))
    assert (split.tax_collected, split.retained) == (D(tax), D(retained))
    assert split.tax_collected + split.retained == split.total


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((D(1000), D(2), D(40), D(50)), ValueError),
        ((D(-1), D(2), D(40), D(60)), ValueError),
        ((D(1000), D(120), D(40), D(60)), ValueError),
        ((1000.0, D(2), D(40), D(60)), TypeError),
    ],
)
def test_split_union_fee_refuses_bad_input(args, error):
    with pytest.raises(error):
        split_union_fee(*args)


@pytest.mark.parametrize(("count", "eligible"), [(0, True), (24, True), (25, True), (26, False), (500, False)])
def test_small_enterprise_refund_eligible(count, eligible):
    assert small_enterprise_refund_eligible(count, D(25)) is eligible


def test_small_enterprise_refund_eligible_refuses_negative():
    with pytest.raises(ValueError, match="不能为负数"):
        small_enterprise_refund_eligible(-1, 25)


@pytest.mark.parametrize(("paid", "refund"), [("8000", "8000.00"), ("792.005", "792.01"), ("0", "0.00")])
def test_small_enterprise_refund(paid, refund):
    assert small_enterprise_refund(D(paid)) == D(refund)


# --- aid -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("years", "per_year", "total"),
    [(1, "3000", "3000.00"), (2, "3000", "6000.00"), (2, "1500.50", "3001.00"), (1, "0.01", "0.01")],
)
def test_buyout_aid(years, per_year, total):
    assert buyout_aid(years, D(3000), D(2), D(per_year)) == D(total)


@pytest.mark.parametrize(
    ("years", "per_year", "message"),
    [(0, "3000", "援助年数"), (3, "3000", "援助年数"), (1, "3000.01", "超过上限"), (2, "0", "应大于0")],
)
def test_buyout_aid_refuses(years, per_year, message):
    with pytest.raises(ValueError, match=message):
        buyout_aid(years, D(3000), 2, D(per_year))


DEFAULT_TABLE = internal_retirement_table({"up_to.1": D(2000), "up_to.3": D(3000), "over.3": D(4000)})


@pytest.mark.parametrize(
    ("years", "amount"),
    [
        ("0", "2000.00"),
        ("1", "2000.00"),
        ("1.01", "3000.00"),
        ("3", "3000.00"),
        ("3.5", "4000.00"),
        ("30", "4000.00"),
    ],
)
def test_internal_retirement_one_time_aid(years, amount):
    assert internal_retirement_one_time_aid(D(years), DEFAULT_TABLE) == D(amount)


def test_internal_retirement_without_open_tier_refuses_long_service():
    with pytest.raises(ValueError, match="超出"):
        internal_retirement_one_time_aid(D(4), [(D(1), D(2000)), (D(3), D(3000))])
    with pytest.raises(ValueError, match="负数"):
        internal_retirement_one_time_aid(D(-1), DEFAULT_TABLE)


@pytest.mark.parametrize("snapshot", [{"up_to.1": D(1), "over.2": D(2)}, {"over.1": D(1)}, {"bogus": D(1)}])
def test_internal_retirement_table_refuses_gaps(snapshot):
    with pytest.raises(ValueError):
        internal_retirement_table(snapshot)


@pytest.mark.parametrize(
    ("so_far", "amount", "ok"),
    [("49997000", "3000", True), ("49997000", "3000.01", False), ("0", "50000000", True)],
)
def test_within_annual_budget(so_far, amount, ok):
    assert within_annual_budget(D(so_far), D(amount), D(50_000_000)) is ok


# --- studios -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("studio_type", "year", "amount"),
    [
        ("劳模创新工作室", 2017, "50000.00"),
        ("职工创新工作室", 2017, "30000.00"),
        ("劳模创新工作室", 2021, "100000.00"),
        ("职工创新工作室", 2021, "100000.00"),
    ],
)
def test_studio_funding(studio_type, year, amount):
    params = specs_snapshot(CATALOGUE, date(year, 1, 1), "studio.")
    assert studio_funding(studio_type, year, params) == D(amount)


def test_studio_funding_refuses():
    with pytest.raises(ValueError, match="未知的工作室类型"):
        studio_funding("创新工作室", 2017, {})
    with pytest.raises(ValueError, match="2016"):
        studio_funding("劳模创新工作室", 2016, {})
    with pytest.raises(MissingParameter, match=r"studio\.worker\.funding"):
        studio_funding("职工创新工作室", 2017, {"model_worker.funding": D(50000)})


@pytest.mark.parametrize(("quota", "named", "left"), [(30, 0, 30), (30, 29, 1), (30, 30, 0), (50, 51, 0)])
def test_quota_left(quota, named, left):
    assert quota_left(quota, named) == left


# --- hazard rewards ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "level", "duplicate", "responsible", "eligible", "amount", "tier", "reason"),
    [
        ("属实", "一般", False, False, True, "500.00", RewardTier.GENERAL_TRUE, "不超过 500.00"),
        ("基本属实", "一般", False, False, True, "300.00", RewardTier.GENERAL_BASICALLY_TRUE, "300.00"),
        ("属实", "重大", False, False, True, "3000.00", RewardTier.MAJOR, "3000.00"),
        ("基本属实", "重大", False, False, True, "500.00", RewardTier.GENERAL_TRUE, "按一般隐患属实档"),
        ("不属实", "重大", False, False, False, "0", "", "不属实"),
        ("不属实", "一般", True, True, False, "0", "", "不属实"),
        ("属实", "重大", True, False, False, "0", "", "第一报告"),
        ("属实", "一般", False, True, False, "0", "", "责任人"),
    ],
)
def test_suggest_hazard_reward(result, level, duplicate, responsible, eligible, amount, tier, reason):
    suggestion = suggest_hazard_reward(
        result, level, is_duplicate=duplicate, reporter_responsible=responsible, tiers=TIERS
    )
    assert suggestion.eligible is eligible
    assert suggestion.max_amount == D(amount)
    assert suggestion.tier == tier
    assert reason in suggestion.reason


@pytest.mark.parametrize(("result", "level"), [("真实", "一般"), ("属实", "较大")])
def test_suggest_hazard_reward_refuses_unknown_values(result, level):
    with pytest.raises(ValueError):
        suggest_hazard_reward(result, level, is_duplicate=False, reporter_responsible=False, tiers=TIERS)


def test_suggest_hazard_reward_missing_tier():
    with pytest.raises(MissingParameter, match=r"hazard\.reward\.major"):
        suggest_hazard_reward("属实", "重大", is_duplicate=False, reporter_responsible=False, tiers={})


def test_to_fen_rounds_half_up():
    assert to_fen(D("0.005")) == D("0.01") and to_fen(D("2.675")) == D("2.68")


# --- database ------------------------------------------------------------------------------------------


@pytest.fixture
def seeded(session: Session) -> Session:
    seed_policy_parameters(session)
    return session


def test_seed_is_idempotent(session: Session):
    first = seed_policy_parameters(session)
    assert first == len(CATALOGUE)
    assert seed_policy_parameters(session) == 0
    assert session.scalar(select(func.count()).select_from(PolicyParameter)) == len(CATALOGUE)


def test_seed_keeps_administrator_edits(seeded: Session):
    row = seeded.scalars(select(PolicyParameter).where(PolicyParameter.key == "notice.working_days")).one()
    row.value = "7"
    assert seed_policy_parameters(seeded) == 0
    assert parameter_value(seeded, "notice.working_days", date(2024, 1, 1)) == D(7)


@pytest.mark.parametrize(
    ("key", "on", "value"),
    [
        ("studio.model_worker.funding", date(2017, 11, 1), D(50000)),
        ("studio.model_worker.funding", date(2020, 12, 31), D(50000)),
        ("studio.model_worker.funding", date(2021, 1, 1), D(100000)),
        ("studio.worker.funding", date(2017, 11, 1), D(30000)),
        ("studio.worker.funding", date(2021, 7, 1), D(100000)),
        ("fee.rate", date(2024, 3, 1), D(2)),
        ("aid.buyout.max_per_year", date(2019, 1, 1), D(3000)),
    ],
)
def test_parameter_value_picks_period(seeded: Session, key, on, value):
    assert parameter_value(seeded, key, on) == value


def test_missing_parameter_is_chinese_and_names_key(seeded: Session):
    with pytest.raises(MissingParameter) as info:
        parameter_value(seeded, "aid.buyout.max_per_year", date(2016, 1, 1))
    message = str(info.value)
    assert "缺少政策参数" in message and "aid.buyout.max_per_year" in message and "2016-01-01" in message
    assert isinstance(info.value, LookupError)


def test_parameter_text_and_non_numeric_value(seeded: Session):
    assert parameter_text(seeded, "measures.start_date", date(2018, 1, 1)) == "2017-10-01"
    with pytest.raises(ValueError, match="不是数值"):
        parameter_value(seeded, "measures.start_date", date(2018, 1, 1))


def test_snapshots(seeded: Session):
    on = date(2019, 6, 1)
    assert hazard_reward_tiers(seeded, on) == TIERS
    assert policy_snapshot(seeded, on, "fee.") == specs_snapshot(CATALOGUE, on, "fee.")
    assert policy_snapshot(seeded, on, "fee.")["retained_share"] == D(60)
    assert studio_parameters(seeded, 2021) == {
        "model_worker.funding": D(100000),
        "worker.funding": D(100000),
        "min_team_size": D(3),
        "panel.min_experts": D(3),
    }
    assert internal_retirement_aid_table(seeded, on) == DEFAULT_TABLE
    # "_" must not act as a LIKE wildcard.
    assert policy_snapshot(seeded, on, "studio.model_") == {"worker.funding": D(50000), "worker.quota": D(30)}


def test_snapshot_feeds_the_calculations(seeded: Session):
    on = date(2018, 3, 1)
    fee = policy_snapshot(seeded, on, "fee.")
    split = split_union_fee(D(1_000_000), fee["rate"], fee["tax_collected_share"], fee["retained_share"])
    assert split == FeeSplit(D("20000.00"), D("8000.00"), D("12000.00"))
    assert small_enterprise_refund_eligible(25, fee["small_enterprise_max_employees"])
    buyout = policy_snapshot(seeded, on, "aid.buyout.")
    assert buyout_aid(2, buyout["max_per_year"], buyout["max_years"], D(3000)) == D("6000.00")
