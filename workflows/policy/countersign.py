"""会签 / 或签 / 比例通过 / 一票否决: when a step signed by several people in parallel is decided, and its outcome.

The conventions are those of Chinese OA systems (research bpm-anchors §3: 会签 all must agree; 或签 any one
agreement is enough; 比例通过 the step passes once a ratio of signers agree; 一票否决 one 不同意 rejects the step).
They are not policy numbers of the seeds: a diagram chooses its rule per step.

A multi-instance user task in BPMN uses them as
    completionCondition: countersign_decided(sign_tally, len(signers), "all", True)
    outgoing gateway:    countersign_passed(signatures, len(signers), "all", True)
where `sign_tally` is every decision so far (UnionFlow puts it into the finishing instance's data, since a completion
condition sees only that instance) and `signatures` is the multi-instance output collection.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

AGREE = "同意"
DISAGREE = "不同意"


@dataclass(frozen=True)
class SignRule:
    kind: str  # "all" (会签), "any" (或签) or "ratio" (比例通过)
    ratio: Fraction = Fraction(1)

    @classmethod
    def parse(cls, text: str) -> SignRule:
        """`all`, `any`, or `ratio:2/3` (also `ratio:0.6`)."""
        if text in ("all", "any"):
            return cls(text)
        if text.startswith("ratio:"):
            ratio = Fraction(text.removeprefix("ratio:"))
            if not 0 < ratio <= 1:
                raise ValueError(f"比例必须在 0 到 1 之间：{text}")
            return cls("ratio", ratio)
        raise ValueError(f"未知的会签规则：{text}")


@dataclass(frozen=True)
class Tally:
    agree: int
    disagree: int
    total: int

    @property
    def pending(self) -> int:
        return self.total - self.agree - self.disagree


def tally(decisions: Iterable[object], total: int) -> Tally:
    values = [d for d in decisions if d is not None]
    return Tally(sum(v == AGREE for v in values), sum(v == DISAGREE for v in values), total)


def _outcome(count: Tally, rule: SignRule, veto: bool) -> bool | None:
    """True passed, False rejected, None not decided yet."""
    if veto and count.disagree:
        return False
    if rule.kind == "all":
        if count.disagree:
            return False if count.pending == 0 else None
        return True if count.pending == 0 else None
    needed = Fraction(1, count.total) if rule.kind == "any" else rule.ratio
    if Fraction(count.agree, count.total) >= needed:
        return True
    if Fraction(count.agree + count.pending, count.total) < needed:
        return False
    return None


def countersign_outcome(decisions: Iterable[object], total: int, rule: str, veto: bool = False) -> bool | None:
    if total <= 0:
        raise ValueError("会签人数必须大于 0")
    return _outcome(tally(decisions, total), SignRule.parse(rule), veto)


def countersign_decided(decisions: Iterable[object], total: int, rule: str, veto: bool = False) -> bool:
    """Whether the step can stop waiting for the remaining signers (their instances are then cancelled)."""
    return countersign_outcome(decisions, total, rule, veto) is not None


def countersign_passed(
    decisions: Iterable[object] | dict[str, object], total: int, rule: str, veto: bool = False
) -> bool:
    """The step's outcome once decided (a step that ran out of signers without passing is rejected)."""
    values = decisions.values() if isinstance(decisions, dict) else decisions
    return countersign_outcome(values, total, rule, veto) is True
