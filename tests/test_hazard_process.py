"""The hazard-report process end to end through the workflow layer, without Flask (issue #2 §7, §8)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.workflow_helpers import complete, open_steps, open_task, start_report
from workflows.db import utcnow
from workflows.models import ApprovalStep, CaseLink, HazardReport, InstanceStatus, ProcessInstance, TimerEntry
from workflows.timers import fire_due_timers

OPINION = {"opinion": "经研究，同意。"}


def report_of(session: Session, case: ProcessInstance) -> HazardReport:
    found = session.scalar(select(HazardReport).where(HazardReport.instance_id == case.id))
    assert found is not None
    return found


def register_and_triage(session: Session, case: ProcessInstance, triage_level: str = "一般") -> None:
    complete(session, "ganjingzi1", case, "register_report", {"decision": "受理", **OPINION})
    complete(session, "jingji1", case, "triage", {"triage_level": triage_level, **OPINION})


def verify(session: Session, case: ProcessInstance, result: str, level: str, responsible: bool = False) -> None:
    complete(
        session,
        "ganjingzi1",
        case,
        "verify",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": result,
            "hazard_level": level,
            "reporter_responsible": "true" if responsible else "false",
            "evidence": "现场照片三张，配电箱门确已损坏。",
            **OPINION,
        },
    )


def rectify(session: Session, case: ProcessInstance, deadline: str | None = None) -> None:
    deadline = deadline or (utcnow() + timedelta(days=14)).date().isoformat()
    complete(
        session,
        "ganjingzi1",
        case,
        "rectify_notice",
        {
            "rectification_mode": "限期整改",
            "notice_number": "甘工整改〔2026〕3号",
            "rectification_deadline": deadline,
            "requirements": "更换配电箱门并加锁，设置警示标识。",
            "responsible_person": "安全科王科长",
        },
    )


def reply_and_reinspect(session: Session, case: ProcessInstance, result: str = "整改合格") -> None:
    complete(
        session,
        "ganjingzi1",
        case,
        "enterprise_reply",
        {"reply_date": "2026-11-28", "measures": "已更换配电箱门并加锁。"},
    )
    complete(
        session,
        "ganjingzi2",
        case,
        "reinspect",
        {
            "reinspection_date": "2026-12-01",
            "reinspection_result": result,
            "findings": "复查确认已整改。",
            **OPINION,
        },
    )


def payment_record(amount: str) -> dict[str, str]:
    return {
        "notice_date": "2026-12-02",
        "payee_name": "李大勇",
        "bank_name": "中国农业银行大连甘井子支行",
        "card_number": "6228480040000123451",
        "paid_amount": amount,
        "paid_date": "2026-12-02",
        "voucher_number": "付2026-1201",
    }


def feedback(session: Session, case: ProcessInstance) -> None:
    complete(
        session,
        "ganjingzi1",
        case,
        "feedback_close",
        {
            "feedback_date": "2026-12-03",
            "feedback_channel": "电话",
            "feedback_content": "已告知处理结果。",
            **OPINION,
        },
    )


def test_tasks_land_in_the_lane_of_the_unit_that_does_the_work(world: Session) -> None:
    case = start_report(world, "haichang_gonghui")  # reported through the enterprise's grassroots union
    register = open_task(world, case, "register_report")
    assert register.org_unit.code == "210211" and register.department_code is None
    assert register.due_at is not None and register.due_at > register.ready_at
    complete(world, "ganjingzi1", case, "register_report", {"decision": "受理", **OPINION})
    triage = open_task(world, case, "triage")
    assert (triage.org_unit.code, triage.department_code) == ("210200", "econ-labour")


def test_false_report_is_closed_with_feedback_and_no_reward(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "不属实", "一般")
    assert open_steps(world, case) == ["feedback_close"]
    feedback(world, case)
    assert case.status == InstanceStatus.COMPLETED
    assert report_of(world, case).reward_amount is None
    steps = world.scalars(select(ApprovalStep).where(ApprovalStep.instance_id == case.id).order_by(ApprovalStep.id))
    assert [(s.bpmn_id, s.decision) for s in steps] == [
        ("start", None),
        ("register_report", "受理"),
        ("triage", "一般"),
        ("verify", "不属实"),
        ("feedback_close", None),
    ]


def test_general_hazard_is_rectified_and_the_first_reporter_rewarded(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "属实", "一般")
    assert open_steps(world, case) == ["rectify_notice"]  # no regulator notice for a general hazard
    rectify(world, case)
    reply_and_reinspect(world, case)
    assert open_steps(world, case) == ["reward_decision"]
    with pytest.raises(FormValidationError) as too_much:
        complete(world, "jingji1", case, "reward_decision", {"decision": "同意", "reward_amount": "501", **OPINION})
    assert "500" in too_much.value.errors["reward_amount"]
    complete(world, "jingji1", case, "reward_decision", {"decision": "同意", "reward_amount": "500.00", **OPINION})
    payment = open_task(world, case, "reward_payment")
    assert (payment.org_unit.code, payment.department_code) == ("210200", "finance")
    paid = payment_record("500")
    with pytest.raises(FormValidationError) as wrong_amount:
        complete(world, "caiwu1", case, "reward_payment", {**paid, "paid_amount": "400"})
    assert "paid_amount" in wrong_amount.value.errors
    complete(world, "caiwu1", case, "reward_payment", paid)
    feedback(world, case)
    assert case.status == InstanceStatus.COMPLETED
    report = report_of(world, case)
    assert report.reward_amount == Decimal("500.00") and str(report.reward_paid_on) == "2026-12-02"


def test_major_hazard_notifies_the_regulator_in_parallel_with_rectification(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case, "可能重大")
    verify(world, case, "属实", "重大")
    assert open_steps(world, case) == ["notify_regulator", "rectify_notice"]
    rectify(world, case)
    reply_and_reinspect(world, case)
    # The rectification branch is done, but the join waits for the regulator notice.
    assert open_steps(world, case) == ["notify_regulator"]
    complete(
        world,
        "ganjingzi2",
        case,
        "notify_regulator",
        {
            "regulator_name": "甘井子区应急管理局",
            "notified_on": "2026-11-21",
            "document_number": "甘工通〔2026〕7号",
            "summary": "配电箱带电部位裸露，属重大事故隐患。",
        },
    )
    assert open_steps(world, case) == ["reward_decision"]
    assert report_of(world, case).regulator_document_number == "甘工通〔2026〕7号"
    complete(world, "jingji2", case, "reward_decision", {"decision": "同意", "reward_amount": "3000", **OPINION})
    assert open_steps(world, case) == ["reward_payment"]


def test_major_hazard_is_verified_faster_than_a_general_one(world: Session) -> None:
    general, major = start_report(world), start_report(world, location="锅炉房")
    register_and_triage(world, general, "一般")
    register_and_triage(world, major, "可能重大")
    general_due, major_due = (
        open_task(world, general, "verify").due_at,
        open_task(world, major, "verify").due_at,
    )
    assert general_due is not None and major_due is not None and major_due < general_due


def test_duplicate_report_is_linked_to_the_first_and_closed(world: Session) -> None:
    first = start_report(world)
    complete(world, "ganjingzi1", first, "register_report", {"decision": "受理", **OPINION})
    second = start_report(world, location="三号车间 东侧 配电箱")  # same place, written differently
    register = open_task(world, second, "register_report")
    assert register.instance.case_number != first.case_number
    with pytest.raises(FormValidationError) as bad:
        complete(
            world,
            "ganjingzi1",
            second,
            "register_report",
            {"decision": "重复报告", "duplicate_of": "YH-1999-000001", **OPINION},
        )
    assert "duplicate_of" in bad.value.errors
    complete(
        world,
        "ganjingzi1",
        second,
        "register_report",
        {"decision": "重复报告", "duplicate_of": first.case_number, **OPINION},
    )
    assert open_steps(world, second) == ["feedback_close"]
    feedback(world, second)
    link = world.scalar(select(CaseLink).where(CaseLink.instance_id == second.id))
    assert link is not None and link.linked_instance_id == first.id and link.kind == "duplicate_of"
    assert report_of(world, second).duplicate_of_id == first.id
    assert open_steps(world, first) == ["triage"]  # the first report goes on


def test_system_suggests_the_earlier_open_report_when_registering(world: Session) -> None:
    first = start_report(world)
    second = start_report(world, location="三号车间东侧配电箱。")
    from workflows.engine.runtime import load_workflow

    data = load_workflow(second).get_tasks(spec_name="register_report")[0].data
    assert data["duplicate_candidates"] == [first.case_number]


def test_overdue_rectification_escalates_to_the_city_department(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "属实", "一般")
    deadline = (utcnow() + timedelta(days=10)).date().isoformat()
    rectify(world, case, deadline)
    timer = world.scalar(select(TimerEntry).where(TimerEntry.instance_id == case.id))
    assert timer is not None and timer.bpmn_id == "rectify_overdue"
    assert fire_due_timers(world, utcnow()) == 0
    assert fire_due_timers(world, utcnow() + timedelta(days=12)) == 1
    escalation = open_task(world, case, "escalate_overdue")
    assert (escalation.org_unit.code, escalation.department_code) == ("210200", "econ-labour")
    assert open_steps(world, case) == ["enterprise_reply", "escalate_overdue"]  # the reply is still awaited
    assert world.scalar(select(TimerEntry).where(TimerEntry.instance_id == case.id)) is None
    assert fire_due_timers(world, utcnow() + timedelta(days=30)) == 0  # fired once, never again
    complete(
        world,
        "jingji1",
        case,
        "escalate_overdue",
        {"urge_measures": "电话督促企业负责人限期完成。", **OPINION},
    )
    reply_and_reinspect(world, case)
    assert open_steps(world, case) == ["reward_decision"]


def test_failed_reinspection_sends_the_case_back_to_a_new_rectification_notice(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "基本属实", "一般")
    rectify(world, case)
    reply_and_reinspect(world, case, "整改不合格")
    assert open_steps(world, case) == ["rectify_notice"]


def test_reporter_responsible_for_the_hazard_gets_no_reward(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "属实", "重大", responsible=True)
    complete(
        world,
        "ganjingzi1",
        case,
        "notify_regulator",
        {
            "regulator_name": "甘井子区应急管理局",
            "notified_on": "2026-11-21",
            "document_number": "甘工通〔2026〕8号",
            "summary": "重大隐患通报内容。",
        },
    )
    rectify(world, case)
    reply_and_reinspect(world, case)
    assert open_steps(world, case) == ["feedback_close"]
    from workflows.engine.runtime import load_workflow

    data = load_workflow(case).get_tasks(spec_name="feedback_close")[0].data
    assert data["reward_eligible"] is False and "责任" in data["reward_reason"]


def test_unknown_enterprise_is_registered_with_the_named_district_union(world: Session) -> None:
    with pytest.raises(FormValidationError) as missing:
        start_report(world, enterprise_uscc="91110000101623741K")
    assert set(missing.value.errors) == {"enterprise_name", "enterprise_district_code"}
    case = start_report(
        world,
        enterprise_uscc="91110000101623741K",
        enterprise_name="大连测试化工有限公司",
        enterprise_district_code="210204",
    )
    assert open_task(world, case, "register_report").org_unit.code == "210204"


def test_invalid_intake_reports_every_field_in_chinese(world: Session) -> None:
    with pytest.raises(FormValidationError) as bad:
        start_report(world, enterprise_uscc="91210211MA0Q3R5K71", reporter={"name": "李", "mobile": "12345"})
    errors = bad.value.errors
    assert "enterprise_uscc" in errors and "reporter.mobile" in errors and "reporter.name" in errors
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in message) for message in errors.values())
    assert world.scalar(select(ProcessInstance)) is None  # nothing half-created


def test_a_report_can_only_be_a_duplicate_of_a_registered_accepted_one(world: Session) -> None:
    first, second = start_report(world), start_report(world)
    # The first report is not registered yet, so it cannot be what the second duplicates (no mutual marking).
    with pytest.raises(FormValidationError) as refused:
        complete(
            world,
            "ganjingzi1",
            second,
            "register_report",
            {"decision": "重复报告", "duplicate_of": first.case_number, **OPINION},
        )
    assert "已登记受理" in refused.value.errors["duplicate_of"]


def test_accepting_a_second_report_of_the_same_place_needs_a_reason(world: Session) -> None:
    first = start_report(world)
    complete(world, "ganjingzi1", first, "register_report", {"decision": "受理", **OPINION})
    second = start_report(world)
    with pytest.raises(FormValidationError) as refused:
        complete(world, "ganjingzi2", second, "register_report", {"decision": "受理", **OPINION})
    assert first.case_number in refused.value.errors["not_duplicate_reason"]
    complete(
        world,
        "ganjingzi2",
        second,
        "register_report",
        {"decision": "受理", "not_duplicate_reason": "同一配电箱的另一处隐患：接地线断开。", **OPINION},
    )
    assert open_steps(world, second) == ["triage"]


def test_identity_and_card_numbers_stay_out_of_case_data_and_are_masked_in_records(world: Session) -> None:
    from workflows.engine.runtime import load_workflow

    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "属实", "一般")
    rectify(world, case)
    reply_and_reinspect(world, case)
    complete(world, "jingji1", case, "reward_decision", {"decision": "同意", "reward_amount": "300", **OPINION})
    complete(world, "caiwu1", case, "reward_payment", payment_record("300"))
    assert "210211196803150130" not in case.state and "6228480040000123451" not in case.state
    assert "13904111234" not in case.state  # the reporter's contact stays in the hazard record
    case_data = load_workflow(case).get_tasks(spec_name="feedback_close")[0].data
    assert case_data["reporter_anonymous"] is False and "reporter" not in case_data
    steps = {s.bpmn_id: s for s in world.scalars(select(ApprovalStep).where(ApprovalStep.instance_id == case.id))}
    assert steps["reward_payment"].data["card_number"] == "6228***********3451"
    assert steps["start"].data["reporter"]["resident_id"] == "210211********0130"
    report = report_of(world, case)
    assert report.reward_card_number == "6228480040000123451" and report.reporter_resident_id == "210211196803150130"


def test_a_rectification_deadline_in_the_past_is_refused(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify(world, case, "属实", "一般")
    with pytest.raises(FormValidationError) as refused:
        rectify(world, case, (utcnow() - timedelta(days=2)).date().isoformat())
    assert "rectification_deadline" in refused.value.errors
