"""Provincial innovation studios (劳模创新工作室 / 职工创新工作室, measure 四): funding and quotas."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from workflows.policy import as_count, as_decimal, to_fen
from workflows.policy.parameters import MissingParameter, policy_snapshot

STUDIO_PREFIX = "studio."
# The Chinese names are what forms and diagrams carry; the keys are the parameter segments.
STUDIO_KINDS: dict[str, str] = {"劳模创新工作室": "model_worker", "职工创新工作室": "worker"}
FIRST_RULE_YEAR = 2017


def _kind(studio_type: str) -> str:
    try:
        return STUDIO_KINDS[studio_type]
    except KeyError:
        raise ValueError(f"未知的工作室类型“{studio_type}”，应为“劳模创新工作室”或“职工创新工作室”") from None


def studio_parameters(session: Session, year: int) -> dict[str, Decimal]:
    """The studio snapshot for a naming year, keyed relative to "studio." (e.g. "worker.funding").

    Funding is decided per naming year (年度命名), so the figure in force on 1 January of that year
    applies; the catalogue's studio periods follow calendar years.
    """
    return policy_snapshot(session, date(year, 1, 1), STUDIO_PREFIX)


def studio_funding(studio_type: str, year: int, params: Mapping[str, Decimal]) -> Decimal:
    """The funding for one provincial studio named in `year`.

    Rules: 2017 — model-worker studio 50,000 yuan, worker studio 30,000 yuan, 大工办发〔2017〕28号
    第4项（措施四）; 2021 — 100,000 yuan each, 2021 article (seed 004), whose scope (all studios or only
    those in tech enterprises) is ambiguous. `params` is `studio_parameters(session, year)`; keys
    "model_worker.funding" / "worker.funding".
    """
    kind = _kind(studio_type)
    if year < FIRST_RULE_YEAR:
        raise ValueError(f"{year}年无工作室资金标准：现有来源最早为{FIRST_RULE_YEAR}年")
    key = f"{kind}.funding"
    if key not in params:
        raise MissingParameter(STUDIO_PREFIX + key, date(year, 1, 1))
    amount = as_decimal(params[key], "工作室资金标准")
    if amount < 0:
        raise ValueError(f"工作室资金标准不能为负数：{amount}")
    return to_fen(amount)


def quota_left(quota: int, named_so_far: int) -> int:
    """Names still available this year under an annual quota (never negative).

    Rule: annual quotas of 30 model-worker and 50 worker studios, 大工办发〔2017〕28号 第4项（措施四）;
    parameters `studio.model_worker.quota`, `studio.worker.quota`.
    """
    limit = as_count(quota, "年度名额")
    named = as_count(named_so_far, "已命名数")
    if limit < 0 or named < 0:
        raise ValueError("名额与已命名数不能为负数")
    return max(limit - named, 0)
