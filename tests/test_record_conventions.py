"""The approval record (审批表) shows every approval convention of issue #4: 转办, 退回, 撤回, 加签, 抄送, 催办,
委托, comments and the attachments of a step, both as data (and in its hash) and in the printed PDF."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.test_records import pdf_pages
from tests.workflow_helpers import complete, open_task, start_report, user
from workflows.acting import beijing_date, create_delegation
from workflows.attachments import UploadPolicy, store_attachment
from workflows.comments import add_comment
from workflows.copies import copy_case
from workflows.db import utcnow
from workflows.engine.runtime import load_workflow
from workflows.handover import transfer_task
from workflows.models import ProcessInstance
from workflows.records import ApprovalRecord, approval_record
from workflows.reminders import urge_task
from workflows.rollback import return_targets, return_task, withdraw_task
from workflows.signing import SignPosition, add_signer

TRANSFER_REASON = "本人外出培训，转朱丽办理"
URGE_MESSAGE = "请尽快登记，企业已多次反映"
WITHDRAW_REASON = "受理意见有误，撤回修改"
FIRST_OPINION = "同意受理"
DELEGATED_OPINION = "同意受理，转市总研判"
COPY_NOTE = "请经济技术和劳动保护部负责人知悉"
SIGN_REASON = "请胡德胜主席先行审核"
SIGN_OPINION = "情况清楚，同意受理"
TRIAGE_OPINION = "属一般隐患，请甘井子区总工会组织核查。"
RETURN_REASON = "研判依据不足，请补充企业整改记录"
SECOND_TRIAGE_OPINION = "已补充整改记录，维持一般隐患。"
RESIDENT_ID = "210211196803150130"
COMMENT = f"举报人（身份证{RESIDENT_ID}）来电询问进度，已答复。"
MASKED_COMMENT = "举报人（身份证210211********0130）来电询问进度，已答复。"
PHOTO_NAME = "配电箱整改前.png"
NOTICE_NAME = "整改通知书.png"  # uploaded on the verify task that the return then removed
POLICY = UploadPolicy(max_bytes=1024 * 1024)


def png(color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Scenario:
    case: ProcessInstance
    verify_task_id: str


def build_case(session: Session, upload_dir: Path) -> Scenario:
    """A hazard report that went through every convention, each done as the web layer would call it."""
    ganjingzi1, ganjingzi2 = user(session, "ganjingzi1"), user(session, "ganjingzi2")
    case = start_report(session, "ganjingzi1")

    register = open_task(session, case, "register_report")
    transfer_task(session, ganjingzi1, case.id, register.task_id, ganjingzi2, TRANSFER_REASON)
    # The city department's head oversees the case but does not hold the task: he urges its holder.
    urge_task(
        session, user(session, "jingji_head"), open_task(session, case, "register_report"), frozenset(), URGE_MESSAGE
    )
    complete(session, "ganjingzi2", case, "register_report", {"decision": "受理", "opinion": FIRST_OPINION})
    withdraw_task(session, ganjingzi2, case.id, register.task_id, WITHDRAW_REASON)
    # 朱丽 is away: 马晓东 acts on her (transferred, withdrawn) step on her authority, first adding a signer.
    today = beijing_date(utcnow())
    create_delegation(session, ganjingzi2, ganjingzi1, today, today + timedelta(days=3), "外出开会", today=today)
    head = user(session, "ganjingzi_head")
    add_signer(session, ganjingzi1, case.id, register.task_id, head, SignPosition.BEFORE, SIGN_REASON)
    complete(session, "ganjingzi_head", case, "register_report", {"decision": "同意", "opinion": SIGN_OPINION})
    complete(session, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": DELEGATED_OPINION})
    copy_case(session, ganjingzi1, case, [user(session, "jingji_head")], COPY_NOTE)

    complete(session, "jingji1", case, "triage", {"triage_level": "一般", "opinion": TRIAGE_OPINION})
    verify = open_task(session, case, "verify")
    attach(session, upload_dir, case, verify.task_id, NOTICE_NAME, "blue")
    engine_verify = load_workflow(case).get_task_from_id(UUID(verify.task_id))
    (target,) = [t for t in return_targets(engine_verify) if t.task_spec.bpmn_id == "triage"]
    return_task(session, ganjingzi1, case.id, verify.task_id, str(target.id), RETURN_REASON)
    complete(session, "jingji1", case, "triage", {"triage_level": "一般", "opinion": SECOND_TRIAGE_OPINION})

    verify = open_task(session, case, "verify")
    attach(session, upload_dir, case, verify.task_id, PHOTO_NAME, "red")
    return Scenario(case, verify.task_id)


def attach(session: Session, upload_dir: Path, case: ProcessInstance, task_id: str, name: str, color: str) -> None:
    uploader = user(session, "ganjingzi1").id
    data = png(color)
    store_attachment(
        session, upload_dir, case.id, task_id, filename=name, data=data, uploaded_by_id=uploader, policy=POLICY
    )


def comment(session: Session, scenario: Scenario) -> None:
    add_comment(session, user(session, "ganjingzi1"), scenario.case, COMMENT, task_id=scenario.verify_task_id)


# --- The record as data ------------------------------------------------------------------------------------------


def test_record_steps_show_delegation_added_signers_and_withdrawn_steps(world: Session, tmp_path: Path) -> None:
    record = approval_record(world, build_case(world, tmp_path).case)

    rows = [(s.title, s.person, s.decision, s.opinion, bool(s.withdrawn_at)) for s in record.steps]
    assert rows == [
        ("发起：安全隐患报告", "马晓东", "", "", False),
        ("登记查重", "朱丽", "受理", FIRST_OPINION, True),  # withdrawn, and kept on the record
        ("登记查重（前加签）", "胡德胜", "同意", SIGN_OPINION, False),
        ("登记查重", "马晓东（代朱丽）", "受理", DELEGATED_OPINION, False),
        ("分级研判", "王建国", "一般", TRIAGE_OPINION, False),
        ("分级研判", "王建国", "一般", SECOND_TRIAGE_OPINION, False),
    ]
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", record.steps[1].withdrawn_at)
    assert record.payload()["steps"][1]["withdrawn_at"] == record.steps[1].withdrawn_at
    assert "withdrawn_at" not in record.payload()["steps"][3]
    assert record.payload()["steps"][3]["person"] == "马晓东（代朱丽）"


def test_record_lists_every_action_in_order_with_reasons(world: Session, tmp_path: Path) -> None:
    record = approval_record(world, build_case(world, tmp_path).case)

    assert [(a.number, a.kind, a.step, a.actor, a.target, a.reason) for a in record.actions] == [
        (1, "转办", "登记查重", "马晓东", "朱丽", TRANSFER_REASON),
        (2, "催办", "登记查重", "张志强", "朱丽", URGE_MESSAGE),
        (3, "撤回", "登记查重", "朱丽", "登记查重", WITHDRAW_REASON),
        (4, "加签", "登记查重", "马晓东（代朱丽）", "胡德胜（前加签）", SIGN_REASON),
        (5, "抄送", "", "马晓东", "张志强", COPY_NOTE),
        (6, "退回", "现场核查", "马晓东", "分级研判", RETURN_REASON),
    ]
    assert all(a.time for a in record.actions)
    assert record.payload()["actions"][5] == {
        "number": 6,
        "time": record.actions[5].time,
        "kind": "退回",
        "step": "现场核查",
        "actor": "马晓东",
        "target": "分级研判",
        "reason": RETURN_REASON,
    }


def test_record_names_the_step_of_an_attachment_and_masks_numbers_in_comments(world: Session, tmp_path: Path) -> None:
    scenario = build_case(world, tmp_path)
    comment(world, scenario)
    record = approval_record(world, scenario.case)

    assert [(a.filename, a.step, a.size) for a in record.attachments] == [
        (NOTICE_NAME, "现场核查", len(png("blue"))),  # its task is gone from the engine; the return names it
        (PHOTO_NAME, "现场核查", len(png("red"))),
    ]
    assert [a["step"] for a in record.payload()["attachments"]] == ["现场核查", "现场核查"]
    (remark,) = record.comments
    assert (remark.number, remark.author, remark.step, remark.body) == (1, "马晓东", "现场核查", MASKED_COMMENT)
    assert RESIDENT_ID not in str(record.payload())


def test_hash_changes_with_a_comment_an_action_or_a_withdrawal(world: Session, tmp_path: Path) -> None:
    scenario = build_case(world, tmp_path)
    before = approval_record(world, scenario.case)

    comment(world, scenario)
    with_comment = approval_record(world, scenario.case)
    assert with_comment.record_hash != before.record_hash
    assert with_comment.payload()["comments"][0]["body"] == MASKED_COMMENT

    verify = open_task(world, scenario.case, "verify")
    urge_task(world, user(world, "jingji_head"), verify, frozenset(), "请按期核查")
    assert approval_record(world, scenario.case).record_hash != with_comment.record_hash


def test_a_record_without_any_convention_keeps_the_original_payload_layout(world: Session) -> None:
    """Keys added for issue #4 appear only when used, so records printed before them still verify."""
    case = start_report(world, "ganjingzi1")
    complete(world, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": FIRST_OPINION})

    payload = approval_record(world, case).payload()

    assert set(payload) == {"document_number", "case", "steps", "attachments"}
    assert all("withdrawn_at" not in step for step in payload["steps"])


# --- The PDF -----------------------------------------------------------------------------------------------------


@pytest.fixture
def printed(app_db: Session, client: FlaskClient, auth: AuthActions, tmp_path: Path) -> tuple[ApprovalRecord, str]:
    scenario = build_case(app_db, tmp_path / "uploads")
    comment(app_db, scenario)
    app_db.commit()
    auth.login("ganjingzi1")
    response = client.get(f"/cases/{scenario.case.id}/record.pdf")
    assert response.status_code == 200
    return approval_record(app_db, scenario.case), "".join(pdf_pages(response.data))


def test_pdf_prints_the_action_log_comments_and_step_attachments(printed: tuple[ApprovalRecord, str]) -> None:
    record, text = printed
    # pypdf breaks lines inside narrow cells; compare without line breaks.
    flat = text.replace("\n", "").replace(" ", "")
    for heading in ("审批环节", "流转记录", "备注/评论", "附件", "所属环节"):
        assert heading in flat
    for kind in ("转办", "催办", "撤回", "加签", "抄送", "退回"):
        assert kind in flat
    for reason in (TRANSFER_REASON, URGE_MESSAGE, WITHDRAW_REASON, COPY_NOTE, SIGN_REASON, RETURN_REASON):
        assert reason in flat, reason
    assert "马晓东（代朱丽）" in flat
    assert "（已撤回）" in flat and "撤回于" in flat
    assert "登记查重（前加签）" in flat and SIGN_OPINION in flat
    assert MASKED_COMMENT in flat and RESIDENT_ID not in flat
    assert PHOTO_NAME in flat and NOTICE_NAME in flat and record.attachments[1].sha256 in flat
    assert record.record_hash in flat
