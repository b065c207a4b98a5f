"""Honour nominations (honour_nomination, seed 000 item 5): the year's quotas, notice and objections, award."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.studio_helpers import HAICHANG_USCC, XINGHAI_USCC, Clock
from tests.workflow_helpers import complete, open_steps, user
from workflows.calendar import beijing_today
from workflows.models import (
    ApplicationStatus,
    HonourNomination,
    InstanceStatus,
    OrgUnit,
    PolicyParameter,
    ProcessInstance,
)
from workflows.operations import start_case
from workflows.processes import hooks_for
from workflows.studio.notice import ObjectionInput, case_notice, register_objection
from workflows.studio.quotas import honour_quota_usage, honour_tech_share

OPINION = "经研究，同意。"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def nominate(world: Session, username: str = "haichang_gonghui", **overrides: Any) -> ProcessInstance:
    data: dict[str, Any] = {
        "honour_type": "五一劳动奖章",
        "nominee_name": "王强",
        "nominee_position": "数控车工、技师",
        "enterprise_uscc": HAICHANG_USCC,
        "tech_enterprise": "false",
        "project_name": "大连湾海底隧道配套装备制造",
        "deeds": "牵头攻关大型曲轴加工工艺，合格率提高7.5个百分点。",
    }
    data.update(overrides)
    return start_case(world, user(world, username), "honour_nomination", data)


def nomination_of(world: Session, case: ProcessInstance) -> HonourNomination:
    found = world.scalar(select(HonourNomination).where(HonourNomination.instance_id == case.id))
    assert found is not None
    return found


def to_notice(world: Session, case: ProcessInstance, district_user: str = "ganjingzi1", rank: int = 1) -> None:
    complete(
        world, district_user, case, "district_recommend", {"decision": "推荐", "rank": str(rank), "opinion": OPINION}
    )
    complete(world, "jingji1", case, "city_review", {"decision": "同意授予", "opinion": OPINION})


def close(world: Session, case: ProcessInstance, clock: Clock) -> None:
    clock.set(case_notice(world, case).ends_on + timedelta(days=1))
    complete(world, "jingji1", case, "notice", {"opinion": "公示期满。"})


def city(world: Session) -> OrgUnit:
    found = world.scalar(select(OrgUnit).where(OrgUnit.code == "210200"))
    assert found is not None
    return found


def test_nomination_is_awarded_after_the_notice(world: Session, clock: Clock) -> None:
    case = nominate(world)
    nomination = nomination_of(world, case)
    assert (nomination.nominee_kind, nomination.year) == ("个人", beijing_today().year)
    to_notice(world, case)
    usage = honour_quota_usage(world, city(world), nomination.year, "五一劳动奖章")
    assert (usage.quota, usage.used, usage.left) == (30, 1, 29)  # seed 000 item 5
    close(world, case, clock)
    complete(world, "jingji1", case, "award", {"document_number": "大工发〔2026〕30号", "awarded_on": "2026-12-28"})
    assert case.status == InstanceStatus.COMPLETED
    assert (nomination.status, nomination.document_number) == (ApplicationStatus.AWARDED, "大工发〔2026〕30号")


def test_quota_exhausted_and_an_upheld_objection_frees_the_place(world: Session, clock: Clock) -> None:
    world.execute(
        update(PolicyParameter).where(PolicyParameter.key == "award.key_project.may_day_certificate").values(value="1")
    )
    first = nominate(world, honour_type="五一劳动奖状", nominee_name="大连海昌机械制造有限公司", nominee_position="")
    to_notice(world, first)
    second = nominate(
        world,
        "xinghai_gonghui",
        honour_type="五一劳动奖状",
        nominee_name="大连星海精密仪器有限公司",
        enterprise_uscc=XINGHAI_USCC,
        tech_enterprise="true",
    )
    complete(world, "shahekou1", second, "district_recommend", {"decision": "推荐", "rank": "1", "opinion": OPINION})
    with pytest.raises(FormValidationError) as refused:
        complete(world, "jingji1", second, "city_review", {"decision": "同意授予", "opinion": OPINION})
    assert "名额 1 个已全部使用" in refused.value.errors["decision"]

    notice = case_notice(world, first)
    objection = ObjectionInput(notice.starts_on, "来电", "该企业本年度发生一起工伤事故。", "匿名")
    register_objection(world, notice, user(world, "jingji1"), objection)
    close(world, first, clock)
    complete(
        world, "jingji1", first, "verify_objection", {"conclusion": "异议成立", "finding": "经核实，确有工伤事故。"}
    )
    assert nomination_of(world, first).status == ApplicationStatus.OBJECTION_UPHELD
    complete(world, "jingji1", second, "city_review", {"decision": "同意授予", "opinion": OPINION})
    tech, total, share = honour_tech_share(world, city(world), nomination_of(world, second).year)
    assert (tech, total, share) == (1, 1, Decimal("100.0"))


def test_returned_by_the_city_and_corrected(world: Session) -> None:
    case = nominate(world)
    complete(world, "ganjingzi1", case, "district_recommend", {"decision": "推荐", "rank": "1", "opinion": OPINION})
    complete(world, "jingji1", case, "city_review", {"decision": "退回修改", "opinion": "请补充事迹中的量化成果。"})
    assert open_steps(world, case) == ["revise"]
    values = hooks_for("honour_nomination").form_values(world, case, "revise")
    assert values["nominee_name"] == "王强"
    complete(
        world,
        "haichang_gonghui",
        case,
        "revise",
        {
            **values,
            "tech_enterprise": "false",
            "deeds": "牵头攻关大型曲轴加工工艺，合格率由92%提高到99.5%，年创效益125万元。",
        },
    )
    assert "125万元" in nomination_of(world, case).deeds
    assert open_steps(world, case) == ["district_recommend"]


@pytest.mark.parametrize(
    ("step", "user_name", "decision", "status"),
    [
        ("district_recommend", "ganjingzi1", "不予推荐", ApplicationStatus.NOT_RECOMMENDED),
        ("city_review", "jingji1", "不予通过", ApplicationStatus.NOT_PASSED),
    ],
)
def test_rejected_at_each_level(
    world: Session, step: str, user_name: str, decision: str, status: ApplicationStatus
) -> None:
    case = nominate(world)
    if step == "city_review":
        complete(world, "ganjingzi1", case, "district_recommend", {"decision": "推荐", "rank": "1", "opinion": OPINION})
    complete(world, user_name, case, step, {"decision": decision, "opinion": "条件不足。"})
    assert case.status == InstanceStatus.COMPLETED
    assert nomination_of(world, case).status == status


def test_nomination_rules(world: Session) -> None:
    with pytest.raises(FormValidationError) as person:
        nominate(world, honour_type="优秀班组长", nominee_position="")
    assert "授予个人" in person.value.errors["nominee_position"]
    nominate(world)
    with pytest.raises(FormValidationError) as twice:
        nominate(world)
    assert "已推荐" in twice.value.errors["nominee_name"]
