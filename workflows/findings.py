"""What the integrity checks report (workflows.integrity, and each import's own check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Finding:
    """One inconsistency: which check found it, what it is about (a case, a step, an event) and what is wrong."""

    check: str
    subject: str
    message: str

    def line(self) -> str:
        return f"[{self.check}] {self.subject}：{self.message}"


Check = Callable[[Session], list[Finding]]
