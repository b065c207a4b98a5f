"""Issue #4 at the engine level: transfer, delegation, add signer, return, withdraw, copies, batch, phrases."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.test_hazard_process import OPINION, register_and_triage, report_of, verify
from tests.workflow_helpers import complete, open_steps, open_task, start_report, user
from workflows import queries
from workflows.acting import authority_on, create_delegation, principals_of
from workflows.batch import batch_complete
from workflows.comments import DEFAULT_PHRASES, add_comment, add_phrase, delete_phrase, phrases_for
from workflows.copies import copy_case, mark_copy_read, unread_copies
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow
from workflows.errors import NotFound, OperationRefused, PermissionDenied, TaskAlreadyClaimed
from workflows.handover import transfer_task
from workflows.models import ActionKind, ApprovalStep, CaseAction, Delegation, TaskIndexEntry, TaskStatus
from workflows.operations import claim_task, complete_task
from workflows.rollback import record_opening, return_reason_for, return_targets, return_task, withdraw_task
from workflows.routing import Action, load_routing
from workflows.signing import SignPosition, add_signer
from workflows.steps import engine_task

REGISTER = {"decision": "受理", **OPINION}
SIGN = {"decision": "同意", "opinion": "同意上报。"}


def index_row(session: Session, task_id: str) -> TaskIndexEntry:
    entry = session.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == task_id))
    assert entry is not None
    return entry


def targets_of(session: Session, entry: TaskIndexEntry) -> list[str]:
    workflow = load_workflow(entry.instance)
    return [t.task_spec.bpmn_id for t in return_targets(engine_task(workflow, entry.task_id))]


# 转办 ---------------------------------------------------------------------------------------------------------


def test_transfer_hands_the_task_to_a_colleague_with_the_reason_on_record(world: Session) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    claim_task(world, user(world, "ganjingzi1"), case.id, entry.task_id)
    action = transfer_task(world, user(world, "ganjingzi1"), case.id, entry.task_id, user(world, "ganjingzi2"), "出差")
    assert index_row(world, entry.task_id).claimed_by_id == user(world, "ganjingzi2").id
    assert (action.kind, action.target, action.reason) == ("transfer", "朱丽", "出差")
    with pytest.raises(TaskAlreadyClaimed):
        complete(world, "ganjingzi1", case, "register_report", REGISTER)
    complete(world, "ganjingzi2", case, "register_report", REGISTER)
    assert open_steps(world, case) == ["triage"]


def test_transfer_refuses_someone_who_may_not_hold_the_step_and_a_missing_reason(world: Session) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    official = user(world, "ganjingzi1")
    with pytest.raises(FormValidationError) as refused:
        transfer_task(world, official, case.id, entry.task_id, user(world, "zhongshan1"), "请代办")
    assert "不能办理本环节" in refused.value.errors["to_user"]
    with pytest.raises(FormValidationError) as no_reason:
        transfer_task(world, official, case.id, entry.task_id, user(world, "ganjingzi2"), "  ")
    assert no_reason.value.errors == {"reason": "转办理由：必须填写"}
    assert index_row(world, entry.task_id).claimed_by_id is None


# 委托 ---------------------------------------------------------------------------------------------------------


def test_a_delegate_completes_the_principals_task_and_the_record_says_on_behalf(world: Session) -> None:
    case = start_report(world)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    triage = open_task(world, case, "triage")
    jingji1, caiwu1 = user(world, "jingji1"), user(world, "caiwu1")
    claim_task(world, jingji1, case.id, triage.task_id)
    with pytest.raises(NotFound):
        complete_task(world, caiwu1, case.id, triage.task_id, {"triage_level": "一般", **OPINION})

    today = utcnow().date()
    create_delegation(world, jingji1, caiwu1, today, today + timedelta(days=3), "休假", today=today)
    assert triage in world.scalars(queries.my_tasks_query(caiwu1, principals_of(world, caiwu1))).all()
    authority = authority_on(world, caiwu1, triage, load_routing())
    assert authority.on_behalf and authority.principal == jingji1 and Action.COMPLETE in authority.actions

    done = complete_task(world, caiwu1, case.id, triage.task_id, {"triage_level": "一般", **OPINION})
    assert (done.approval_step.actor_name, done.approval_step.on_behalf_of_name) == ("刘丽娟", "王建国")
    assert index_row(world, triage.task_id).completed_by_id == caiwu1.id


def test_a_delegation_ends_by_itself(world: Session) -> None:
    jingji1, caiwu1 = user(world, "jingji1"), user(world, "caiwu1")
    yesterday = utcnow().date() - timedelta(days=1)
    world.add(Delegation(principal_id=jingji1.id, delegate_id=caiwu1.id, starts_on=yesterday, ends_on=yesterday))
    world.flush()
    assert principals_of(world, caiwu1) == []


@pytest.mark.parametrize(
    ("delegate", "starts", "ends", "field", "message"),
    [
        ("jingji1", 0, 1, "delegate", "不能委托给自己"),
        ("ganjingzi1", 0, 1, "delegate", "只能委托给本单位的同事"),
        ("jingji2", 2, 1, "ends_on", "不能早于开始日期"),
        ("jingji2", -5, -1, "ends_on", "不能早于今天"),
    ],
)
def test_delegation_refusals(world: Session, delegate: str, starts: int, ends: int, field: str, message: str) -> None:
    today = date(2026, 11, 23)
    with pytest.raises(FormValidationError) as refused:
        create_delegation(
            world,
            user(world, "jingji1"),
            user(world, delegate),
            today + timedelta(days=starts),
            today + timedelta(days=ends),
            "",
            today=today,
        )
    assert message in refused.value.errors[field]


def test_overlapping_delegations_are_refused(world: Session) -> None:
    today = date(2026, 11, 23)
    jingji1 = user(world, "jingji1")
    create_delegation(world, jingji1, user(world, "jingji2"), today, today + timedelta(days=5), "", today=today)
    with pytest.raises(FormValidationError) as refused:
        create_delegation(
            world, jingji1, user(world, "caiwu1"), today + timedelta(days=3), today + timedelta(days=9), "", today=today
        )
    assert "时间重叠" in refused.value.errors["starts_on"]


# 加签 ---------------------------------------------------------------------------------------------------------


def test_a_signer_added_before_signs_first_then_the_step_comes_back(world: Session) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    official, head = user(world, "ganjingzi1"), user(world, "ganjingzi_head")
    add_signer(world, official, case.id, entry.task_id, head, SignPosition.BEFORE, "请领导把关")
    row = index_row(world, entry.task_id)
    assert (row.assigned_to_id, row.claimed_by_id, row.form_name) == (head.id, head.id, "added-sign-schema.json")
    assert authority_on(world, head, row, load_routing()).actions == {Action.VIEW, Action.COMPLETE}
    with pytest.raises(PermissionDenied):
        complete(world, "ganjingzi1", case, "register_report", REGISTER)

    signed = complete(world, "ganjingzi_head", case, "register_report", SIGN)
    assert (signed.approval_step.kind, signed.approval_step.step_title) == ("added_sign", "登记查重（前加签）")
    row = index_row(world, entry.task_id)
    assert (row.assigned_to_id, row.claimed_by_id, row.status) == (None, official.id, TaskStatus.READY.value)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    assert open_steps(world, case) == ["triage"]


def test_a_signer_added_after_signs_before_the_case_moves_on(world: Session) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    official, head = user(world, "ganjingzi1"), user(world, "ganjingzi_head")
    add_signer(world, official, case.id, entry.task_id, head, SignPosition.AFTER)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    assert open_steps(world, case) == ["register_report"]
    assert index_row(world, entry.task_id).assigned_to_id == head.id

    complete(world, "ganjingzi_head", case, "register_report", SIGN)
    assert open_steps(world, case) == ["triage"]
    assert index_row(world, entry.task_id).completed_by_id == official.id
    assert report_of(world, case).registered_at is not None


def test_an_after_signer_who_disagrees_sends_the_step_back_to_its_holder(world: Session) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    official, head = user(world, "ganjingzi1"), user(world, "ganjingzi_head")
    add_signer(world, official, case.id, entry.task_id, head, SignPosition.AFTER)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    complete(world, "ganjingzi_head", case, "register_report", {"decision": "不同意", "opinion": "请再核实是否重复。"})
    row = index_row(world, entry.task_id)
    assert (row.status, row.claimed_by_id, row.assigned_to_id) == (TaskStatus.READY.value, official.id, None)
    assert row.form_name == "hazard-register-schema.json"
    assert report_of(world, case).registered_at is None


@pytest.mark.parametrize(("signer", "message"), [("ganjingzi1", "不能加签自己"), ("zhongshan1", "本单位或上级单位")])
def test_add_signer_refusals(world: Session, signer: str, message: str) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    with pytest.raises(FormValidationError) as refused:
        add_signer(world, user(world, "ganjingzi1"), case.id, entry.task_id, user(world, signer), SignPosition.BEFORE)
    assert message in refused.value.errors["signer"]


def test_an_added_signer_cannot_add_another(world: Session) -> None:
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    add_signer(
        world, user(world, "ganjingzi1"), case.id, entry.task_id, user(world, "ganjingzi_head"), SignPosition.BEFORE
    )
    with pytest.raises(PermissionDenied):
        add_signer(
            world,
            user(world, "ganjingzi_head"),
            case.id,
            entry.task_id,
            user(world, "jingji_head"),
            SignPosition.BEFORE,
        )


# 退回 ---------------------------------------------------------------------------------------------------------


def test_return_sends_the_case_back_to_an_earlier_step_and_its_holder_sees_why(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify_entry = open_task(world, case, "verify")
    assert targets_of(world, verify_entry) == ["register_report", "triage"]
    triage_id = next(
        str(t.id)
        for t in return_targets(engine_task(load_workflow(case), verify_entry.task_id))
        if t.task_spec.bpmn_id == "triage"
    )
    action = return_task(world, user(world, "ganjingzi1"), case.id, verify_entry.task_id, triage_id, "分级依据不足")
    assert open_steps(world, case) == ["triage"]
    triage = index_row(world, triage_id)
    assert triage.claimed_by_id == user(world, "jingji1").id and triage.completed_by_id is None
    reason = return_reason_for(world, triage)
    assert reason is not None and (reason.reason, reason.actor_name) == ("分级依据不足", "马晓东")
    assert action.target == "分级研判"
    complete(world, "jingji1", case, "triage", {"triage_level": "可能重大", **OPINION})
    assert open_steps(world, case) == ["verify"]


def test_return_refuses_a_step_not_on_the_path_and_a_missing_reason(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case)
    verify_entry = open_task(world, case, "verify")
    official = user(world, "ganjingzi1")
    with pytest.raises(FormValidationError) as off_path:
        return_task(world, official, case.id, verify_entry.task_id, verify_entry.task_id, "理由")
    assert off_path.value.errors == {"target_task_id": "退回环节：只能退回到本路径上已办理的环节"}
    other = start_report(world, location="二号仓库")
    other_register = open_task(world, other, "register_report")
    with pytest.raises(FormValidationError):
        return_task(world, official, case.id, verify_entry.task_id, other_register.task_id, "理由")
    with pytest.raises(FormValidationError) as no_reason:
        return_task(world, official, case.id, verify_entry.task_id, verify_entry.task_id, "")
    assert "必须填写" in no_reason.value.errors["reason"]
    assert open_steps(world, case) == ["verify"]


def test_return_to_register_undoes_its_business_record(world: Session) -> None:
    case = start_report(world)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    triage = open_task(world, case, "triage")
    (target,) = return_targets(engine_task(load_workflow(case), triage.task_id))
    return_task(world, user(world, "jingji1"), case.id, triage.task_id, str(target.id), "请补充报告人联系方式")
    assert report_of(world, case).registered_at is None
    assert open_task(world, case, "register_report").claimed_by_id == user(world, "ganjingzi1").id


def test_return_inside_a_parallel_branch_resets_only_that_branch(world: Session) -> None:
    case = start_report(world)
    register_and_triage(world, case, "可能重大")
    verify(world, case, "属实", "重大")
    assert open_steps(world, case) == ["notify_regulator", "rectify_notice"]
    from tests.test_hazard_process import rectify

    rectify(world, case)
    reply = open_task(world, case, "enterprise_reply")
    assert targets_of(world, reply) == ["register_report", "triage", "verify", "rectify_notice"]
    notice_id = next(
        str(t.id)
        for t in return_targets(engine_task(load_workflow(case), reply.task_id))
        if t.task_spec.bpmn_id == "rectify_notice"
    )
    return_task(world, user(world, "ganjingzi1"), case.id, reply.task_id, notice_id, "整改期限写错")
    # The other branch (通报) is untouched: still open, not reset.
    assert open_steps(world, case) == ["notify_regulator", "rectify_notice"]


# 撤回 ---------------------------------------------------------------------------------------------------------


def test_withdraw_before_the_next_holder_opens_the_task(world: Session) -> None:
    case = start_report(world)
    done = complete(world, "ganjingzi1", case, "register_report", REGISTER)
    register_id = done.approval_step.task_id
    withdraw_task(world, user(world, "ganjingzi1"), case.id, register_id, "查重有误")
    assert open_steps(world, case) == ["register_report"]
    assert index_row(world, register_id).claimed_by_id == user(world, "ganjingzi1").id
    withdrawn = world.get(ApprovalStep, done.approval_step.id)
    assert withdrawn is not None and withdrawn.withdrawn_at is not None
    assert report_of(world, case).registered_at is None
    kinds = world.scalars(select(CaseAction.kind).where(CaseAction.instance_id == case.id)).all()
    assert kinds == [ActionKind.WITHDRAW.value]


def test_withdraw_is_refused_once_the_next_holder_opened_the_task(world: Session) -> None:
    case = start_report(world)
    done = complete(world, "ganjingzi1", case, "register_report", REGISTER)
    triage = open_task(world, case, "triage")
    record_opening(world, case.id, triage.task_id, user(world, "jingji1"))
    with pytest.raises(OperationRefused, match="已查看"):
        withdraw_task(world, user(world, "ganjingzi1"), case.id, done.approval_step.task_id)
    assert open_steps(world, case) == ["triage"]


def test_withdraw_is_refused_after_the_next_step_was_done_and_for_someone_else(world: Session) -> None:
    case = start_report(world)
    done = complete(world, "ganjingzi1", case, "register_report", REGISTER)
    with pytest.raises(PermissionDenied):
        withdraw_task(world, user(world, "ganjingzi2"), case.id, done.approval_step.task_id)
    complete(world, "jingji1", case, "triage", {"triage_level": "一般", **OPINION})
    with pytest.raises(OperationRefused, match="已办理"):
        withdraw_task(world, user(world, "ganjingzi1"), case.id, done.approval_step.task_id)


# 抄送, comments, 常用语 -----------------------------------------------------------------------------------------


def test_copies_go_up_the_chain_only_and_make_the_case_readable(world: Session) -> None:
    case = start_report(world)
    official, head = user(world, "ganjingzi1"), user(world, "jingji_head")
    with pytest.raises(NotFound):
        queries.visible_case(world, user(world, "caiwu1"), case.id, load_routing())
    copy_case(world, official, case, [user(world, "caiwu1"), head], "请知悉")
    assert unread_copies(world, user(world, "caiwu1")) == 1
    assert queries.visible_case(world, user(world, "caiwu1"), case.id, load_routing()) == case
    assert mark_copy_read(world, user(world, "caiwu1"), case.id)
    assert unread_copies(world, user(world, "caiwu1")) == 0
    with pytest.raises(FormValidationError) as refused:
        copy_case(world, official, case, [user(world, "zhongshan1")])
    assert "不能抄送" in refused.value.errors["recipients"]


def test_comments_and_phrases(world: Session) -> None:
    case = start_report(world)
    official = user(world, "ganjingzi1")
    assert add_comment(world, official, case, "已电话联系企业。").body == "已电话联系企业。"
    with pytest.raises(FormValidationError):
        add_comment(world, official, case, "   ")
    assert phrases_for(world, official) == list(DEFAULT_PHRASES)
    phrase = add_phrase(world, official, "经核实，情况属实。")
    assert phrases_for(world, official)[-1] == "经核实，情况属实。"
    with pytest.raises(FormValidationError):
        add_phrase(world, official, "同意。")
    with pytest.raises(NotFound):
        delete_phrase(world, user(world, "ganjingzi2"), phrase.id)
    delete_phrase(world, official, phrase.id)
    assert phrases_for(world, official) == list(DEFAULT_PHRASES)


# 批量审批 -------------------------------------------------------------------------------------------------------


def test_batch_approval_completes_each_case_and_reports_what_it_skipped(world: Session) -> None:
    first = start_report(world, location="一号车间")
    second = start_report(world, location="二号车间")
    handled = start_report(world, location="三号车间")
    ids = [open_task(world, case, "register_report").task_id for case in (first, second, handled)]
    complete(world, "ganjingzi2", handled, "register_report", REGISTER)

    result = batch_complete(world, user(world, "ganjingzi1"), ids, REGISTER)
    assert {c.instance.id for c in result.completed} == {first.id, second.id}
    assert [(s.case_number, s.reason) for s in result.skipped] == [
        (handled.case_number, "该任务已被他人处理，请刷新后查看最新状态")
    ]
    assert open_steps(world, first) == ["triage"] and open_steps(world, second) == ["triage"]
    steps = world.scalars(select(ApprovalStep).where(ApprovalStep.task_id.in_(ids[:2]))).all()
    assert len(steps) == 2


def test_batch_approval_reports_a_case_its_own_check_refuses(world: Session) -> None:
    earlier = start_report(world, location="四号车间")
    complete(world, "ganjingzi1", earlier, "register_report", REGISTER)
    same_place = start_report(world, location="四号车间")
    fresh = start_report(world, location="五号车间")
    ids = [open_task(world, case, "register_report").task_id for case in (same_place, fresh)]
    result = batch_complete(world, user(world, "ganjingzi1"), ids, REGISTER)
    assert [c.instance.id for c in result.completed] == [fresh.id]
    (skipped,) = result.skipped
    assert skipped.case_number == same_place.case_number and "不属于重复报告的理由" in skipped.reason
    assert open_steps(world, same_place) == ["register_report"]


def test_batch_approval_of_mixed_steps_is_refused_whole(world: Session) -> None:
    one = start_report(world, location="六号车间")
    two = start_report(world, location="七号车间")
    complete(world, "ganjingzi1", two, "register_report", REGISTER)
    complete(world, "jingji1", two, "triage", {"triage_level": "一般", **OPINION})
    ids = [open_task(world, one, "register_report").task_id, open_task(world, two, "verify").task_id]
    with pytest.raises(OperationRefused, match="不属于同一环节"):
        batch_complete(world, user(world, "ganjingzi1"), ids, REGISTER)
    assert open_steps(world, one) == ["register_report"] and open_steps(world, two) == ["verify"]
