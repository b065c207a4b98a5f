"""Studio naming (studio_naming) through every branch: return, rejection at each level, quota, notice, objections."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.studio_helpers import (
    Clock,
    apply,
    approve,
    close_notice,
    expert_votes,
    open_studio_call,
    panel_agrees,
    recommend,
    review,
    to_notice,
)
from tests.workflow_helpers import complete, open_steps, user
from workflows.models import (
    ApplicationStatus,
    InstanceStatus,
    Studio,
    StudioApplication,
    StudioExpertScore,
    StudioStanding,
)
from workflows.processes import hooks_for
from workflows.studio.notice import ObjectionInput, case_notice, register_objection
from workflows.studio.quotas import studio_quota_usage


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def application_of(world: Session, case) -> StudioApplication:  # type: ignore[no-untyped-def]
    found = world.scalar(select(StudioApplication).where(StudioApplication.instance_id == case.id))
    assert found is not None
    return found


def object_to(world: Session, case, content: str = "该工作室申报的经济效益数据与企业年报不符。") -> None:  # type: ignore[no-untyped-def]
    notice = case_notice(world, case)
    register_objection(world, notice, user(world, "jingji1"), ObjectionInput(notice.starts_on, "来信", content, "张某"))


def test_application_is_named_and_funded_by_the_years_rule(world: Session, clock: Clock) -> None:
    open_studio_call(world)
    case = apply(world)
    assert open_steps(world, case) == ["district_recommend"]
    recommend(world, case)
    review(world, case)
    assert open_steps(world, case) == ["expert_review"] * 3
    panel_agrees(world, case)
    application = application_of(world, case)
    scores = world.scalars(select(StudioExpertScore.score).where(StudioExpertScore.application_id == application.id))
    assert sorted(scores) == [Decimal("80.0"), Decimal("88.5"), Decimal("92.0")]
    assert application.site_score == Decimal("88.0")
    approve(world, case)
    assert application.status == ApplicationStatus.ON_NOTICE
    assert studio_quota_usage(world, application.call, "劳模创新工作室").used == 1

    with pytest.raises(FormValidationError) as early:
        complete(world, "jingji1", case, "notice", {"opinion": "公示期满。"})
    assert "届满后" in early.value.errors["opinion"]
    close_notice(world, case, clock)
    assert open_steps(world, case) == ["naming"]
    complete(world, "jingji1", case, "naming", {"document_number": "大工发〔2026〕12号", "named_on": "2026-12-10"})
    studio = world.scalar(select(Studio).where(Studio.application_id == application.id))
    assert (
        studio is not None and studio.standing == StudioStanding.GOOD and studio.document_number == "大工发〔2026〕12号"
    )

    with pytest.raises(FormValidationError) as wrong:
        complete(
            world, "caiwu1", case, "funding", {"amount": "50000", "voucher_number": "PZ-001", "paid_on": "2026-12-20"}
        )
    assert "100,000.00" in wrong.value.errors["amount"]  # 2021 onwards: 100,000 yuan (seed 004)
    complete(
        world, "caiwu1", case, "funding", {"amount": "100000", "voucher_number": "PZ-001", "paid_on": "2026-12-20"}
    )
    assert case.status == InstanceStatus.COMPLETED
    assert application.status == ApplicationStatus.FUNDED
    assert [(f.year, f.amount) for f in studio.fundings] == [(2026, Decimal("100000.00"))]


def test_funding_follows_the_2017_rule_for_a_2017_call(world: Session, clock: Clock) -> None:
    call = open_studio_call(world, year=2017)
    assert (call.model_worker_quota, call.worker_quota) == (30, 50)  # seed 000 item 4
    assert (call.model_worker_funding, call.worker_funding) == (Decimal("50000.00"), Decimal("30000.00"))
    assert "第4项" in call.quota_source
    case = to_notice(world, studio_type="职工创新工作室", studio_name="王强职工创新工作室", lead_honour="无")
    close_notice(world, case, clock)
    complete(world, "jingji1", case, "naming", {"document_number": "大工发〔2017〕88号", "named_on": "2017-12-01"})
    complete(world, "caiwu1", case, "funding", {"amount": "30000", "voucher_number": "PZ-17", "paid_on": "2017-12-20"})
    assert application_of(world, case).status == ApplicationStatus.FUNDED


def test_district_returns_for_correction_and_the_form_is_prefilled(world: Session) -> None:
    open_studio_call(world)
    case = apply(world)
    complete(world, "ganjingzi1", case, "district_recommend", {"decision": "退回修改", "opinion": "请补充培训记录。"})
    assert open_steps(world, case) == ["revise"]
    assert application_of(world, case).status == ApplicationStatus.RETURNED
    prefilled = hooks_for("studio_naming").form_values(world, case, "revise")
    assert prefilled["studio_name"] == "于海波劳模创新工作室" and prefilled["enterprise_uscc"] == "91210211MA0Q3R5K70"
    revised = {key: str(value) for key, value in prefilled.items()} | {
        "training_sessions": "30",
        "tech_enterprise": "false",
    }
    complete(world, "haichang_gonghui", case, "revise", revised)
    assert application_of(world, case).training_sessions == 30
    assert application_of(world, case).status == ApplicationStatus.APPLIED
    assert open_steps(world, case) == ["district_recommend"]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("district", ApplicationStatus.NOT_RECOMMENDED),
        ("city", ApplicationStatus.NOT_PASSED),
        ("panel", ApplicationStatus.PANEL_REJECTED),
        ("leadership", ApplicationStatus.NOT_APPROVED),
    ],
)
def test_rejected_at_each_level(world: Session, where: str, expected: ApplicationStatus) -> None:
    open_studio_call(world)
    case = apply(world)
    if where == "district":
        complete(world, "ganjingzi1", case, "district_recommend", {"decision": "不予推荐", "opinion": "条件不足。"})
    else:
        recommend(world, case)
        if where == "city":
            review(world, case, decision="不予通过")
        else:
            review(world, case)
            if where == "panel":
                # Two of three disagree: below the two-thirds rule.
                votes = {"zhuanjia1": ("75", "同意"), "zhuanjia2": ("58", "不同意"), "zhuanjia3": ("60", "不同意")}
                expert_votes(world, case, votes)
            else:
                panel_agrees(world, case)
                approve(world, case, decision="不同意")
    assert case.status == InstanceStatus.COMPLETED
    assert application_of(world, case).status == expected
    assert world.scalar(select(Studio).where(Studio.application_id == application_of(world, case).id)) is None


def test_two_of_three_experts_pass_the_panel(world: Session) -> None:
    open_studio_call(world)
    case = apply(world)
    recommend(world, case)
    review(world, case)
    expert_votes(world, case, {"zhuanjia1": ("90", "同意"), "zhuanjia2": ("85", "同意"), "zhuanjia3": ("59", "不同意")})
    assert open_steps(world, case) == ["leadership"]


def test_quota_exhausted_refuses_approval_and_an_upheld_objection_frees_the_name(world: Session, clock: Clock) -> None:
    open_studio_call(world, quotas={"劳模创新工作室": 1, "职工创新工作室": 0})  # 2026: no quota source, entered by hand
    first = to_notice(world)
    second = apply(
        world,
        username="xinghai_gonghui",
        studio_name="钱丽萍劳模创新工作室",
        enterprise_uscc="91210204MA0TEN001X",
        lead_name="钱丽萍",
    )
    recommend(world, second, username="shahekou1")
    review(world, second)
    panel_agrees(world, second)
    with pytest.raises(FormValidationError) as refused:
        approve(world, second)
    assert "名额 1 个已全部使用" in refused.value.errors["decision"]

    object_to(world, first)
    close_notice(world, first, clock)
    assert open_steps(world, first) == ["verify_objection"]
    complete(
        world, "jingji1", first, "verify_objection", {"conclusion": "异议成立", "finding": "经核实，经济效益数据虚报。"}
    )
    assert application_of(world, first).status == ApplicationStatus.OBJECTION_UPHELD
    assert first.status == InstanceStatus.COMPLETED
    objection = case_notice(world, first).objections[0]
    assert objection.upheld is True and objection.verified_by_id == user(world, "jingji1").id
    approve(world, second)  # the name is free again
    assert application_of(world, second).status == ApplicationStatus.ON_NOTICE


def test_objection_rejected_goes_on_to_naming(world: Session, clock: Clock) -> None:
    open_studio_call(world)
    case = to_notice(world)
    object_to(world, case)
    close_notice(world, case, clock)
    complete(
        world,
        "jingji1",
        case,
        "verify_objection",
        {"conclusion": "异议不成立", "finding": "经核实，数据有审计报告佐证。"},
    )
    assert open_steps(world, case) == ["naming"]
    assert case_notice(world, case).objections[0].upheld is False


def test_objections_only_during_the_notice(world: Session, clock: Clock) -> None:
    open_studio_call(world)
    case = to_notice(world)
    notice = case_notice(world, case)
    late = ObjectionInput(notice.ends_on + timedelta(days=1), "来信", "超过公示期的来信。")
    with pytest.raises(FormValidationError) as refused:
        register_objection(world, notice, user(world, "jingji1"), late)
    assert "应在公示期内" in refused.value.errors["received_on"]
    close_notice(world, case, clock)
    assert open_steps(world, case) == ["naming"]


def test_application_rules(world: Session) -> None:
    with pytest.raises(FormValidationError) as no_call:
        apply(world)
    assert "尚未开启" in no_call.value.errors["studio_type"]
    open_studio_call(world)
    with pytest.raises(FormValidationError) as rules:
        apply(world, lead_honour="无", members="王强、数控车工")
    assert "市级以上劳动模范" in rules.value.errors["lead_honour"]
    assert "不少于3人" in rules.value.errors["members"]
    apply(world)
    with pytest.raises(FormValidationError) as twice:
        apply(world)
    assert "同名" in twice.value.errors["studio_name"]


def test_rank_and_panel_rules(world: Session) -> None:
    open_studio_call(world)
    first = apply(world)
    recommend(world, first, rank=1)
    second = apply(world, studio_name="王强职工创新工作室", studio_type="职工创新工作室", lead_honour="无")
    with pytest.raises(FormValidationError) as rank:
        recommend(world, second, rank=1)
    assert "第1位" in rank.value.errors["rank"]
    recommend(world, second, rank=2)
    with pytest.raises(FormValidationError) as few:
        review(world, first, experts="zhuanjia1 zhuanjia2")
    assert "至少指定3名" in few.value.errors["experts"]
    with pytest.raises(FormValidationError) as unknown:
        review(world, first, experts="zhuanjia1,zhuanjia2,nobody")
    assert "nobody" in unknown.value.errors["experts"]
    with pytest.raises(FormValidationError) as conflict:
        review(world, first, experts="zhuanjia1 zhuanjia2 haichang_gonghui")
    assert "haichang_gonghui" in conflict.value.errors["experts"]
    with pytest.raises(FormValidationError) as incomplete:
        review(world, first, materials_complete="false")
    assert "退回补正" in incomplete.value.errors["materials_complete"]


def test_no_return_once_on_notice(world: Session) -> None:
    """The meeting's decision is public once on notice: objections go through verification, never a return."""
    from SpiffWorkflow.util.task import TaskState

    from workflows.engine.runtime import load_workflow
    from workflows.rollback import return_targets

    open_studio_call(world)
    case = to_notice(world)
    workflow = load_workflow(case)
    [notice] = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "notice"]
    assert return_targets(notice) == []


def test_demo_studio_data_is_idempotent(world: Session) -> None:
    from workflows.demo_studio import seed_demo_studio
    from workflows.models import ProcessInstance

    assert seed_demo_studio(world) == 3
    assert seed_demo_studio(world) == 0
    panel_case = world.scalar(select(ProcessInstance).where(ProcessInstance.title.startswith("钱丽萍职工创新工作室")))
    assert panel_case is not None and open_steps(world, panel_case) == ["expert_review"] * 3
