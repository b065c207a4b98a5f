"""Union rewards for hazard reports (事故隐患报告、举报奖励, measure 九 item 13).

The seed sets the principle (reward the first reporter of a report verified as true) but no amounts.
The tier table and the handling of edge cases here are a configurable default (领域调研 §2.b, R1),
not a Liaoning rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.orm import Session

from workflows.policy import as_decimal, to_fen
from workflows.policy.parameters import MissingParameter, policy_snapshot

TIER_PREFIX = "hazard.reward."
VERIFICATION_RESULTS = ("属实", "基本属实", "不属实")
# The results that make a report count as verified (seed 000 item 13's target counts reports found true).
VERIFIED_RESULTS = ("属实", "基本属实")
HAZARD_LEVELS = ("一般", "重大")


class RewardTier(StrEnum):
    """Tier names: the parameter keys relative to "hazard.reward."."""

    GENERAL_BASICALLY_TRUE = "general.basically_true"  # 一般隐患，基本属实
    GENERAL_TRUE = "general.true"  # 一般隐患，属实
    MAJOR = "major"  # 重大隐患，属实


RewardTierTable = Mapping[str, Decimal]  # tier name → maximum amount in yuan


@dataclass(frozen=True, slots=True)
class RewardSuggestion:
    eligible: bool
    max_amount: Decimal  # a ceiling for the approver, not the amount itself
    reason: str
    tier: str = ""  # the RewardTier applied, empty when not eligible


def _tier_for(verification_result: str, hazard_level: str) -> RewardTier:
    if hazard_level == "重大":
        # Configurable default: the major tier (R1: "重大隐患…" with a confirmed finding) needs the report
        # to be fully true; a major hazard only basically confirmed is paid as a true general hazard.
        return RewardTier.MAJOR if verification_result == "属实" else RewardTier.GENERAL_TRUE
    if verification_result == "属实":
        return RewardTier.GENERAL_TRUE
    return RewardTier.GENERAL_BASICALLY_TRUE


def suggest_hazard_reward(
    verification_result: str,
    hazard_level: str,
    *,
    is_duplicate: bool,
    reporter_responsible: bool,
    tiers: RewardTierTable,
) -> RewardSuggestion:
    """Suggest whether a hazard report earns a union reward, and its ceiling.

    Rules: only a report verified as true, and only its first reporter, is rewarded
    (大工办发〔2017〕28号 第13项（措施九）“对经核查属实的第一报告、举报人给予奖励”). Excluding a
    reporter who is responsible for the hazard, and the tier table itself, are configurable defaults
    (领域调研 §2.b).
    """
    if verification_result not in VERIFICATION_RESULTS:
        raise ValueError(f"核查结论应为“属实”“基本属实”或“不属实”，收到“{verification_result}”")
    if hazard_level not in HAZARD_LEVELS:
        raise ValueError(f"隐患等级应为“一般”或“重大”，收到“{hazard_level}”")
    zero = Decimal("0.00")
    if verification_result == "不属实":
        return RewardSuggestion(False, zero, "经核查不属实，不予奖励（大工办发〔2017〕28号 第13项）")
    if is_duplicate:
        return RewardSuggestion(False, zero, "重复报告：只奖励第一报告、举报人（大工办发〔2017〕28号 第13项）")
    if reporter_responsible:
        return RewardSuggestion(False, zero, "报告人是该隐患的责任人，不予奖励（可配置的默认规则）")
    tier = _tier_for(verification_result, hazard_level)
    if tier.value not in tiers:
        raise MissingParameter(TIER_PREFIX + tier.value)
    ceiling = to_fen(as_decimal(tiers[tier.value], "奖励档次金额"))
    reason = f"{hazard_level}隐患，核查{verification_result}：奖励不超过 {ceiling} 元（默认档次表，可配置）"
    if hazard_level == "重大" and tier is not RewardTier.MAJOR:
        reason += "；重大隐患仅基本属实，按一般隐患属实档"
    return RewardSuggestion(True, ceiling, reason, tier.value)


def hazard_reward_tiers(session: Session, on: date) -> dict[str, Decimal]:
    """The tier table in force on `on`, keyed by tier name ("major", "general.true", ...)."""
    return policy_snapshot(session, on, TIER_PREFIX)
