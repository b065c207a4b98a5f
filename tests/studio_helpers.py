"""Helpers for driving studio applications and honour nominations through the workflow layer in tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.workflow_helpers import complete, user
from workflows.calendar import beijing_today
from workflows.models import ProcessInstance, Studio, StudioCall
from workflows.operations import start_case
from workflows.studio.calls import CallRequest, open_call
from workflows.studio.notice import case_notice

HAICHANG_USCC = "91210211MA0Q3R5K70"  # 大连海昌机械制造有限公司, union 210211-G001 (haichang_gonghui), 甘井子区
XINGHAI_USCC = "91210204MA0TEN001X"  # 大连星海精密仪器有限公司 (tech), union 210204-G001 (xinghai_gonghui), 沙河口区
EXPERTS = ("zhuanjia1", "zhuanjia2", "zhuanjia3")
OPINION = "经研究，同意。"
FULL_SCORES = {"plaque": 5, "site": 9, "facilities": 8, "team": 14, "rules": 9, "funds": 8, "ledger": 9, "results": 26}
# Modules that read "today" for studio and honour rules; the `clock` fixture moves them together.
CLOCKED_MODULES = (
    "workflows.processes.studio",
    "workflows.processes.honour",
    "workflows.processes.nomination",
    "workflows.studio.notice",
    "workflows.studio.registry",
    "workflows.studio.calls",
)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._monkeypatch = monkeypatch
        self.today = beijing_today()

    def set(self, day: date) -> None:
        self.today = day
        for module in CLOCKED_MODULES:
            self._monkeypatch.setattr(f"{module}.beijing_today", lambda: self.today)


def open_studio_call(
    world: Session, year: int | None = None, quotas: dict[str, int | None] | None = None, **extra: Any
) -> StudioCall:
    year = year or beijing_today().year
    deadline = extra.pop("deadline", beijing_today() + timedelta(days=30))
    request = CallRequest(year=year, deadline=deadline, quotas=quotas or {"劳模创新工作室": 3, "职工创新工作室": 5})
    return open_call(world, user(world, "jingji1"), request)


def application(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "studio_name": "于海波劳模创新工作室",
        "studio_type": "劳模创新工作室",
        "enterprise_uscc": HAICHANG_USCC,
        "tech_enterprise": "false",
        "lead_name": "于海波",
        "lead_honour": "省级劳动模范",
        "lead_position": "数控车间主任、高级技师",
        "members": "王强、数控车工、技师\n李娜、工艺员、工程师\n赵刚、钳工、高级工",
        "running_since": "2019-03-01",
        "patents": "4",
        "economic_benefit": "1250000.00",
        "techniques": "6",
        "results_summary": "攻关大型曲轴加工工艺，合格率由92%提高到99.5%；总结“于海波数控操作法”。",
        "training_sessions": "24",
        "trained_workers": "360",
    }
    data.update(overrides)
    return data


def apply(world: Session, username: str = "haichang_gonghui", **overrides: Any) -> ProcessInstance:
    return start_case(world, user(world, username), "studio_naming", application(**overrides))


def recommend(world: Session, case: ProcessInstance, rank: int = 1, username: str = "ganjingzi1") -> None:
    complete(world, username, case, "district_recommend", {"decision": "推荐", "rank": str(rank), "opinion": OPINION})


def review(world: Session, case: ProcessInstance, decision: str = "提交专家评审", **overrides: Any) -> None:
    data: dict[str, Any] = {
        "materials_complete": "true",
        "site_visit_date": beijing_today().isoformat(),
        "scores": {key: str(value) for key, value in FULL_SCORES.items()},
        "experts": " ".join(EXPERTS),
        "decision": decision,
        "opinion": "材料齐全，实地考察情况良好。",
    }
    data.update(overrides)
    complete(world, "jingji1", case, "city_review", data)


def expert_votes(world: Session, case: ProcessInstance, votes: dict[str, tuple[str, str]]) -> None:
    """votes: expert username -> (score, 同意/不同意)."""
    from sqlalchemy import select

    from workflows.models import TaskIndexEntry, TaskStatus
    from workflows.operations import complete_task

    for name, (score, decision) in votes.items():
        expert = user(world, name)
        entry = world.scalar(
            select(TaskIndexEntry).where(
                TaskIndexEntry.instance_id == case.id,
                TaskIndexEntry.assigned_to_id == expert.id,
                TaskIndexEntry.status == TaskStatus.READY.value,
            )
        )
        assert entry is not None, f"{name} has no open panel task"
        complete_task(
            world, expert, case.id, entry.task_id, {"score": score, "decision": decision, "opinion": f"{decision}。"}
        )


def panel_agrees(world: Session, case: ProcessInstance) -> None:
    expert_votes(world, case, {"zhuanjia1": ("92", "同意"), "zhuanjia2": ("88.5", "同意"), "zhuanjia3": ("80", "同意")})


def approve(world: Session, case: ProcessInstance, decision: str = "同意命名") -> None:
    complete(
        world,
        "jingji_head",
        case,
        "leadership",
        {
            "meeting_name": "市总工会主席办公会",
            "meeting_date": beijing_today().isoformat(),
            "decision": decision,
            "opinion": "会议研究决定。",
        },
    )


def close_notice(world: Session, case: ProcessInstance, clock: Clock) -> None:
    clock.set(case_notice(world, case).ends_on + timedelta(days=1))
    complete(world, "jingji1", case, "notice", {"opinion": "公示期满。"})


def to_notice(world: Session, **overrides: Any) -> ProcessInstance:
    case = apply(world, **overrides)
    recommend(world, case)
    review(world, case)
    panel_agrees(world, case)
    approve(world, case)
    return case


def named_studio(world: Session, clock: Clock, year: int = 2025, **overrides: Any) -> Studio:
    """A studio named (and funded) under `year`'s call, through the whole process."""
    from sqlalchemy import select

    from workflows.models import StudioApplication

    open_studio_call(world, year=year)
    case = to_notice(world, **overrides)
    close_notice(world, case, clock)
    complete(world, "jingji1", case, "naming", {"document_number": f"大工发〔{year}〕5号", "named_on": f"{year}-12-01"})
    call_year_funding = world.scalar(select(StudioApplication).where(StudioApplication.instance_id == case.id))
    assert call_year_funding is not None
    amount = str(call_year_funding.call.funding(call_year_funding.studio_type))
    complete(world, "caiwu1", case, "funding", {"amount": amount, "voucher_number": "PZ-1", "paid_on": f"{year}-12-20"})
    studio = world.scalar(select(Studio).where(Studio.application_id == call_year_funding.id))
    assert studio is not None
    return studio
