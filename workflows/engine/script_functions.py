"""The functions BPMN scripts and expressions may call, by name (DESIGN §5).

Each adapts a pure policy function to values that live in task data (str, bool, int, dict), so scripts never
put objects the serializer cannot store into a case. The contract test checks every script against this table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def hazard_reward_suggestion(
    verification_result: str,
    hazard_level: str,
    is_duplicate: bool,
    reporter_responsible: bool,
    tiers: Mapping[str, str],
) -> dict[str, Any]:
    """The reward ceiling for a hazard report; see `workflows.policy.hazard.suggest_hazard_reward`."""
    from workflows.policy.hazard import suggest_hazard_reward

    suggestion = suggest_hazard_reward(
        verification_result,
        hazard_level,
        is_duplicate=is_duplicate,
        reporter_responsible=reporter_responsible,
        tiers={key: Decimal(value) for key, value in tiers.items()},
    )
    return {
        "eligible": suggestion.eligible,
        "max_amount": str(suggestion.max_amount),
        "reason": suggestion.reason,
    }


def end_of_day(day: str) -> str:
    """ISO timestamp (UTC) of 23:59:59 Beijing time on `day` (YYYY-MM-DD): a deadline for a timer event."""
    moment = datetime.combine(date.fromisoformat(day), time(23, 59, 59), tzinfo=SHANGHAI)
    return moment.astimezone(ZoneInfo("UTC")).isoformat()


def countersign_decided(tally: list[Any], total: int, rule: str, veto: bool = False) -> bool:
    """Completion condition of a 会签 step; see `workflows.policy.countersign`."""
    from workflows.policy.countersign import countersign_decided as decided

    return decided(tally, total, rule, veto)


def countersign_passed(signatures: Any, total: int, rule: str, veto: bool = False) -> bool:
    """Outcome of a 会签 step from its output collection; see `workflows.policy.countersign`."""
    from workflows.policy.countersign import countersign_passed as passed

    return passed(signatures, total, rule, veto)


SCRIPT_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "hazard_reward_suggestion": hazard_reward_suggestion,
    "countersign_decided": countersign_decided,
    "countersign_passed": countersign_passed,
    "end_of_day": end_of_day,
    "Decimal": Decimal,
}
