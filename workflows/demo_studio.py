"""Demo innovation-studio call and applications, and an honour nomination, so the studio pages and the expert
panel can be tried at once after `./dev.sh run`. Not part of `seed-demo`: the test databases stay without it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.calendar import beijing_today
from workflows.models import ProcessInstance, StudioCall, TaskIndexEntry, TaskStatus, User
from workflows.operations import complete_task, start_case
from workflows.studio.calls import CallRequest, open_call

_OPINION = "经审查，材料真实，同意推荐。"
_STUDIO_A: dict[str, Any] = {
    "studio_name": "于海波劳模创新工作室",
    "studio_type": "劳模创新工作室",
    "enterprise_uscc": "91210211MA0Q3R5K70",
    "tech_enterprise": "false",
    "lead_name": "于海波",
    "lead_honour": "省级劳动模范",
    "lead_position": "数控车间主任、高级技师",
    "members": "王强、数控车工、技师\n李娜、工艺员、工程师\n赵刚、钳工、高级工",
    "running_since": "2019-03-01",
    "patents": "4",
    "economic_benefit": "1250000.00",
    "techniques": "6",
    "results_summary": "攻关大型曲轴加工工艺，合格率由92%提高到99.5%；总结推广“于海波数控操作法”。",
    "training_sessions": "24",
    "trained_workers": "360",
}
_STUDIO_B: dict[str, Any] = {
    **_STUDIO_A,
    "studio_name": "钱丽萍职工创新工作室",
    "studio_type": "职工创新工作室",
    "enterprise_uscc": "91210204MA0TEN001X",
    "tech_enterprise": "true",
    "lead_name": "钱丽萍",
    "lead_honour": "其他荣誉",
    "lead_position": "精密装配班组长、高级工",
    "members": "孙伟、装配工、高级工\n周敏、质检员、助理工程师\n陈亮、调试工、技师",
    "running_since": "2020-06-01",
    "patents": "7",
    "economic_benefit": "860000.00",
    "results_summary": "研制精密仪器自动校准工装，装配效率提高40%，获国家实用新型专利7项。",
}
_NOMINATION: dict[str, Any] = {
    "honour_type": "五一劳动奖章",
    "nominee_name": "王强",
    "nominee_position": "数控车工、技师",
    "enterprise_uscc": "91210211MA0Q3R5K70",
    "tech_enterprise": "false",
    "project_name": "大连湾海底隧道配套装备制造",
    "deeds": "牵头攻关大型曲轴加工工艺，合格率由92%提高到99.5%，年创效益125万元。",
}


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, "run seed-demo first"
    return user


def _complete(session: Session, username: str, case: ProcessInstance, data: dict[str, Any]) -> None:
    entry = session.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id, TaskIndexEntry.status == TaskStatus.READY.value
        )
    )
    assert entry is not None
    complete_task(session, _user(session, username), case.id, entry.task_id, data)


def seed_demo_studio(session: Session) -> int:
    """Open this year's Dalian call with two applications (one awaiting the district, one before the expert panel)
    and one honour nomination, unless the call exists; returns the number of cases started."""
    today = beijing_today()
    city_official = _user(session, "jingji1")
    if session.scalar(select(StudioCall.id).where(StudioCall.year == today.year)) is not None:
        return 0
    # The years after 2020 have no quota source: the demo repeats 2017's 30 / 50, entered by hand as the call allows.
    request = CallRequest(
        today.year,
        today + timedelta(days=40),
        {"劳模创新工作室": 30, "职工创新工作室": 50},
        "演示：名额沿用2017年标准（30个、50个），实际名额以省总通知为准。",
    )
    open_call(session, city_official, request)
    start_case(session, _user(session, "haichang_gonghui"), "studio_naming", _STUDIO_A)
    panel_case = start_case(session, _user(session, "xinghai_gonghui"), "studio_naming", _STUDIO_B)
    _complete(session, "shahekou1", panel_case, {"decision": "推荐", "rank": "1", "opinion": _OPINION})
    scores = {"plaque": "5", "site": "9", "facilities": "8", "team": "14", "rules": "9", "funds": "8", "ledger": "9",
              "results": "27"}  # fmt: skip
    review = {"materials_complete": "true", "site_visit_date": today.isoformat(), "scores": scores,
              "experts": "zhuanjia1 zhuanjia2 zhuanjia3", "decision": "提交专家评审",
              "opinion": "材料齐全，实地考察情况良好，提交专家评审。"}  # fmt: skip
    _complete(session, "jingji1", panel_case, review)
    start_case(session, _user(session, "haichang_gonghui"), "honour_nomination", _NOMINATION)
    return 3
