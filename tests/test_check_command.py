"""`flask --app webapp check` (issue #5, crash safety): passes on a consistent database, names every corruption.

The database is the seeded demo plus two cases worked through the engine's conventions: one closed after its reward
was paid (a step with a masked card number, whose hash only the audit chain can vouch for), and one waiting for the
enterprise's reply behind an overdue timer, after an added signer (后加签) and a return (退回) that made one engine
task complete twice.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from tests.test_hazard_process import (
    OPINION,
    feedback,
    payment_record,
    rectify,
    register_and_triage,
    reply_and_reinspect,
    verify,
)
from tests.workflow_helpers import complete, open_task, start_report, user
from webapp import create_app
from webapp.database import engine
from workflows import integrity
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow
from workflows.findings import Finding
from workflows.models import (
    ApprovalStep,
    Attachment,
    AuditEvent,
    InstanceStatus,
    ProcessInstance,
    TaskStatus,
    TimerEntry,
)
from workflows.rollback import return_targets, return_task
from workflows.signing import SignPosition, add_signer
from workflows.steps import engine_task


@dataclass
class WorkedCases:
    closed: ProcessInstance  # reward paid and case closed
    waiting: ProcessInstance  # waiting for the enterprise's reply, with its overdue timer


def work_cases(session: Session) -> WorkedCases:
    """Two cases driven through the engine as officials would; committed."""
    closed = start_report(session)
    register_and_triage(session, closed)
    verify(session, closed, "属实", "一般")
    rectify(session, closed)
    reply_and_reinspect(session, closed)
    complete(session, "jingji1", closed, "reward_decision", {"decision": "同意", "reward_amount": "300", **OPINION})
    complete(session, "caiwu1", closed, "reward_payment", payment_record("300"))
    feedback(session, closed)
    assert closed.status == InstanceStatus.COMPLETED

    waiting = start_report(session, location="二号车间行车轨道")
    register = open_task(session, waiting, "register_report")
    official, head = user(session, "ganjingzi1"), user(session, "ganjingzi_head")
    add_signer(session, official, waiting.id, register.task_id, head, SignPosition.AFTER, "请领导把关")
    complete(session, "ganjingzi1", waiting, "register_report", {"decision": "受理", **OPINION})
    complete(session, "ganjingzi_head", waiting, "register_report", {"decision": "同意", "opinion": "同意受理。"})
    complete(session, "jingji1", waiting, "triage", {"triage_level": "一般", **OPINION})
    verify_entry = open_task(session, waiting, "verify")
    triage_id = next(
        str(task.id)
        for task in return_targets(engine_task(load_workflow(waiting), verify_entry.task_id))
        if task.task_spec.bpmn_id == "triage"
    )
    return_task(session, official, waiting.id, verify_entry.task_id, triage_id, "分级依据不足")
    complete(session, "jingji1", waiting, "triage", {"triage_level": "一般", **OPINION})
    verify(session, waiting, "属实", "一般")
    rectify(session, waiting)
    assert session.scalar(select(TimerEntry).where(TimerEntry.instance_id == waiting.id)) is not None
    session.commit()
    return WorkedCases(closed, waiting)


def copy_row(row: Any, **changes: Any) -> Any:
    """A new row of the same model with the same values (but its own id), e.g. a duplicated approval step."""
    model = type(row)
    values = {column.key: getattr(row, column.key) for column in model.__table__.columns if column.key != "id"}
    return model(**{**values, **changes})


def run_check(app: Flask, runner: FlaskCliRunner) -> Result:
    # `flask` pushes an app context before running a command; the test runner leaves that to the caller.
    with app.app_context():
        return runner.invoke(args=["check"])


def demo_cases(session: Session) -> list[ProcessInstance]:
    return list(session.scalars(select(ProcessInstance).order_by(ProcessInstance.id).limit(3)))


def test_the_seeded_demo_database_passes(app: Flask, runner: FlaskCliRunner) -> None:
    result = run_check(app, runner)

    assert result.exit_code == 0, result.output
    assert "检查通过：3 个案件的流程状态均可读取，任务索引与流程引擎一致" in result.output
    assert "审计链完整" in result.output


def test_cases_worked_through_every_convention_pass(app: Flask, runner: FlaskCliRunner, app_db: Session) -> None:
    work_cases(app_db)

    result = run_check(app, runner)

    assert result.exit_code == 0, result.output
    assert "检查通过：5 个案件" in result.output
    assert "定时器 1 个" in result.output


def test_every_kind_of_corruption_is_reported_naming_its_case_or_step(
    app: Flask, runner: FlaskCliRunner, app_db: Session
) -> None:
    worked = work_cases(app_db)
    garbled, unindexed, overindexed = demo_cases(app_db)
    closed, waiting = worked.closed, worked.waiting
    steps = {
        (step.instance_id, step.bpmn_id, step.kind): step
        for step in app_db.scalars(select(ApprovalStep).order_by(ApprovalStep.id))
    }

    # An engine state edited to garbage.
    app_db.execute(text("UPDATE process_instance SET state = '{\"tasks\": garbage' WHERE id = :id"), {"id": garbled.id})
    # A task-index row lost, and one invented.
    lost = open_task(app_db, unindexed, "triage")
    app_db.delete(lost)
    invented_task = str(uuid.uuid4())
    app_db.add(copy_row(open_task(app_db, overindexed, "verify"), task_id=invented_task))
    # Approval steps: a hash edited, data edited, a step duplicated, a step deleted.
    rehashed = steps[(closed.id, "reward_decision", "step")]
    rehashed.data_hash = "f" * 64
    reworded = steps[(closed.id, "reinspect", "step")]
    reworded.data = {**reworded.data, "findings": "复查发现未整改。"}
    duplicate = copy_row(steps[(closed.id, "feedback_close", "step")])
    app_db.add(duplicate)
    removed = steps[(waiting.id, "register_report", "added_sign")]
    app_db.delete(removed)
    # An audit event edited (one that records no approval step: the 退回).
    returned = app_db.scalar(select(AuditEvent).where(AuditEvent.action == "task.returned"))
    assert returned is not None
    app_db.execute(
        text("UPDATE audit_event SET payload = :payload WHERE id = :id"),
        {"payload": returned.payload.replace("分级依据不足", "无理由"), "id": returned.id},
    )
    # Timers: one left on a closed case, one for a task the engine does not have, one with the wrong due time.
    app_db.add(TimerEntry(instance_id=closed.id, task_id=str(uuid.uuid4()), bpmn_id="overdue_timer", due_at=utcnow()))
    stray = str(uuid.uuid4())
    app_db.add(TimerEntry(instance_id=waiting.id, task_id=stray, bpmn_id="overdue_timer", due_at=utcnow()))
    real_timer = app_db.scalar(select(TimerEntry).where(TimerEntry.instance_id == waiting.id))
    assert real_timer is not None
    real_timer.due_at = real_timer.due_at + timedelta(days=3)
    # An attachment row whose file is not in the upload folder.
    app_db.add(
        Attachment(instance_id=waiting.id, filename="现场.jpg", content_type="image/jpeg", size=10, sha256="a" * 64)
    )
    app_db.commit()

    result = run_check(app, runner)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()

    def reported(check: str, subject: str, *words: str) -> list[str]:
        return [
            line for line in lines if line.startswith(f"[{check}] {subject}") and all(word in line for word in words)
        ]

    label = integrity.case_label
    assert reported("instance.state", f"{label(garbled)}：", "流程状态无法读取")
    assert reported("task_index", label(unindexed), lost.task_id, "missing from index")
    assert reported("task_index", label(overindexed), invented_task, "stale index row")
    rehashed_label = f"案件 {closed.case_number} 审批记录 #{rehashed.id}（奖励审批）"
    assert reported("approval_step", rehashed_label, "记录内容与其哈希不符")
    assert reported("approval_step", rehashed_label, "没有与之对应的审计事件")
    reworded_label = f"案件 {closed.case_number} 审批记录 #{reworded.id}（整改复查）"
    assert reported("approval_step", reworded_label, "记录内容与其哈希不符")
    duplicate_label = f"案件 {closed.case_number} 审批记录 #{duplicate.id}（反馈报告人并办结）"
    assert reported("approval_step", duplicate_label, "没有与之对应的审计事件")
    assert reported("approval_step", f"案件 {waiting.case_number}", "审计事件 #", "审批记录缺失")
    assert reported("audit", f"审计事件 #{returned.id}", "事件内容与哈希不符")
    assert reported("timer", label(closed), "案件不在办理中")
    assert reported("timer", label(waiting), stray, "引擎中没有对应的等待定时事件")
    assert reported("timer", label(waiting), f"定时器 #{real_timer.id} 的到期时间与流程引擎不一致")
    assert reported("attachment", f"案件 {waiting.case_number} 附件 #", "（现场.jpg）：文件缺失")
    # Nothing else: every line above, and only those (the lost row shows up once, not also as a stale one).
    assert len(lines) == 14, "\n".join(lines)
    assert "检查未通过：发现 14 个问题" in result.output


def test_the_masked_card_step_is_vouched_for_by_its_audit_event(
    app: Flask, runner: FlaskCliRunner, app_db: Session
) -> None:
    """A step stored masked cannot be rehashed; editing its recorded hash still breaks the one-for-one match."""
    worked = work_cases(app_db)
    case_number = worked.closed.case_number
    payment = app_db.scalar(
        select(ApprovalStep).where(
            ApprovalStep.instance_id == worked.closed.id, ApprovalStep.bpmn_id == "reward_payment"
        )
    )
    assert payment is not None and "*" in str(payment.data["card_number"])
    recorded_by = [
        event.id
        for event in app_db.scalars(select(AuditEvent).where(AuditEvent.action == "task.completed"))
        if payment.data_hash in event.payload
    ]
    assert len(recorded_by) == 1
    payment.data_hash = "0" * 64
    app_db.commit()

    result = run_check(app, runner)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"[approval_step] 案件 {case_number} 审批记录 #{payment.id}（奖励通知与发放）："
        "没有与之对应的审计事件（重复写入，或记录的哈希被修改）",
        f"[approval_step] 案件 {case_number}：审计事件 #{recorded_by[0]} 记录的审批记录缺失",
    ]


@pytest.mark.parametrize(
    ("bpmn_id", "field", "forged"), [("reward_payment", "paid_amount", "5000.00"), (None, "location", "别处")]
)
def test_an_edited_masked_record_is_reported_through_its_audit_event(
    app: Flask, runner: FlaskCliRunner, app_db: Session, bpmn_id: str | None, field: str, forged: str
) -> None:
    """The payment (masked card) and the start step (masked mobile) cannot be rehashed from their full data; the
    audit event's record_hash still proves the stored record unchanged, so an edit of any field is reported."""
    worked = work_cases(app_db)
    steps = app_db.scalars(
        select(ApprovalStep).where(ApprovalStep.instance_id == worked.closed.id).order_by(ApprovalStep.id)
    ).all()
    step = next(s for s in steps if s.bpmn_id == bpmn_id) if bpmn_id else steps[0]
    assert "*" in json.dumps(step.data, ensure_ascii=False)  # the record holds a masked number
    step.data = {**step.data, field: forged}
    app_db.commit()

    result = run_check(app, runner)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"[approval_step] 案件 {worked.closed.case_number} 审批记录 #{step.id}（{step.step_title}）："
        "记录内容与审计事件不符（记录被修改）"
    ]


def test_an_open_task_claimed_only_in_the_index_is_reported(
    app: Flask, runner: FlaskCliRunner, app_db: Session
) -> None:
    """The index is derived: a claim written to the index but not to the engine is a difference."""
    case = demo_cases(app_db)[0]
    entry = open_task(app_db, case, "register_report")
    assert entry.status == TaskStatus.READY and entry.claimed_by_id is None
    entry.claimed_by_id = user(app_db, "ganjingzi2").id
    app_db.commit()

    result = run_check(app, runner)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"[task_index] 案件 {case.case_number}：任务索引与流程引擎不一致："
        f"{case.case_number}: task {entry.task_id} claimed_by_id differs"
    ]


def test_import_checks_are_run_and_reported(
    app: Flask, runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The extension point for bulk imports (issue #6): a registered check's findings fail the command."""
    partial = Finding("import.hardship_aid", "导入批次 #7", "导入中断，留下 12 行未完成的数据")
    monkeypatch.setattr(integrity, "IMPORT_CHECKS", (lambda _session: [partial],))

    result = run_check(app, runner)

    assert result.exit_code == 1
    assert result.stdout.splitlines() == ["[import.hardship_aid] 导入批次 #7：导入中断，留下 12 行未完成的数据"]


def test_a_database_without_tables_is_reported_not_crashed_on(fresh_database_url: str) -> None:
    empty = create_app({"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "test"})
    try:
        result = run_check(empty, empty.test_cli_runner())
    finally:
        engine(empty).dispose()

    assert result.exit_code == 1
    assert "数据库尚未建表" in result.output
