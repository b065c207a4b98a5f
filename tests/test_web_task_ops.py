"""The task-side conventions of issue #4 through the web UI: 转办, 退回, 撤回, 加签, and who sees which operation.

Each operation's success path and its refusals, checked on the page and in the database. The demo database has
cases of its own, so every check is on the case the test starts. 抄送, 催办, 评论 and 附件 are in test_web_case_ops.py.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import complete, open_steps, open_task, start_report, user
from workflows.acting import beijing_date, create_delegation
from workflows.db import utcnow
from workflows.models import (
    ApprovalStep,
    CaseAction,
    ProcessInstance,
    TaskIndexEntry,
    TaskOpening,
    TaskStatus,
)
from workflows.operations import claim_task

TRIAGE = {"triage_level": "一般", "opinion": "一般隐患，请区总工会核查。"}


def registered(app_db: Session, location: str = "三号车间东侧配电箱") -> ProcessInstance:
    """A report by ganjingzi1, registered by them, now waiting for triage at the city's 经济技术和劳动保护部."""
    case = start_report(app_db, "ganjingzi1", location=location)
    complete(app_db, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理。"})
    app_db.commit()
    return case


def claimed_triage(app_db: Session, username: str = "jingji1") -> tuple[ProcessInstance, TaskIndexEntry]:
    case = registered(app_db)
    triage = open_task(app_db, case, "triage")
    claim_task(app_db, user(app_db, username), case.id, triage.task_id)
    app_db.commit()
    return case, triage


def fresh(app_db: Session, entry: TaskIndexEntry) -> TaskIndexEntry | None:
    app_db.expire_all()
    return app_db.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == entry.task_id))


def actions_of(app_db: Session, case: ProcessInstance, kind: str) -> list[CaseAction]:
    app_db.expire_all()
    return list(
        app_db.scalars(
            select(CaseAction).where(CaseAction.instance_id == case.id, CaseAction.kind == kind).order_by(CaseAction.id)
        )
    )


def html_of(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined, no-any-return]


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    end = html.find('<section class="case-section"', start)
    return html[start : end if end > 0 else len(html)]


# --- 转办 ----------------------------------------------------------------------------------------------------------


def test_transfer_hands_the_task_to_a_colleague_with_the_reason_on_record(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    jingji2 = user(app_db, "jingji2")
    auth.login("jingji1")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    transfer = page[page.index('id="op-transfer"') : page.index("</details>", page.index('id="op-transfer"'))]
    assert f'<option value="{jingji2.id}"' in transfer and "李红梅" in transfer
    assert "刘丽娟" not in transfer  # finance is another department: not offered

    done = client.post(
        f"/tasks/{triage.task_id}/transfer", data={"to_user": jingji2.id, "reason": "本人出差，请代办。"}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    entry = fresh(app_db, triage)
    assert entry is not None and entry.claimed_by_id == jingji2.id and entry.status == TaskStatus.READY
    (action,) = actions_of(app_db, case, "transfer")
    assert (action.actor_name, action.target, action.reason) == ("王建国", "李红梅", "本人出差，请代办。")

    records = section(html_of(client.get(f"/cases/{case.id}")), "flow-records")
    for expected in ("转办", "分级研判", "王建国", "李红梅", "本人出差，请代办。"):
        assert expected in records, expected


@pytest.mark.parametrize(
    ("to", "reason", "field_message"),
    [
        ("caiwu1", "请财务部办理。", "转办给：刘丽娟不能办理本环节（须为大连市总工会本部门人员）"),
        ("zhongshan1", "请中山区办理。", "转办给：吴海涛不能办理本环节（须为大连市总工会本部门人员）"),
        ("jingji2", "", "转办理由：必须填写"),
    ],
)
def test_transfer_outside_the_lane_or_without_reason_is_refused_and_changes_nothing(
    client: FlaskClient, auth: AuthActions, app_db: Session, to: str, reason: str, field_message: str
) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("jingji1")
    refused = client.post(f"/tasks/{triage.task_id}/transfer", data={"to_user": user(app_db, to).id, "reason": reason})
    assert refused.status_code == 422
    html = html_of(refused)
    assert re.search(r'class="field-error"[^>]*>' + re.escape(field_message), html), field_message
    assert f">{reason}</textarea>" in html  # what was typed is kept
    entry = fresh(app_db, triage)
    assert entry is not None and entry.claimed_by_id == user(app_db, "jingji1").id
    assert actions_of(app_db, case, "transfer") == []


# --- 退回 ----------------------------------------------------------------------------------------------------------


def test_return_sends_the_case_back_and_the_earlier_holder_reads_the_reason(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    register = app_db.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None
    auth.login("jingji1")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    assert f'<option value="{register.task_id}"' in page and "登记查重（马晓东）" in page

    done = client.post(
        f"/tasks/{triage.task_id}/return",
        data={"target_task_id": register.task_id, "reason": "企业名称与统一社会信用代码不符，请核实后重报。"},
    )
    assert done.status_code == 302
    assert open_steps(app_db, case) == ["register_report"]
    again = open_task(app_db, case, "register_report")
    assert again.claimed_by_id == user(app_db, "ganjingzi1").id
    (action,) = actions_of(app_db, case, "return")
    assert (action.target, action.target_task_id) == ("登记查重", register.task_id)

    client.post("/logout")
    auth.login("ganjingzi1")
    returned = html_of(client.get(f"/tasks/{again.task_id}"))
    box = returned[
        returned.index('id="return-reason"') : returned.index("</section>", returned.index('id="return-reason"'))
    ]
    for expected in ("退回理由", "王建国", "分级研判", "企业名称与统一社会信用代码不符，请核实后重报。"):
        assert expected in box, expected


@pytest.mark.parametrize(
    ("target", "reason", "message"),
    [
        ("forged", "请补充材料。", "退回环节：只能退回到本路径上已办理的环节"),
        ("self", "请补充材料。", "退回环节：只能退回到本路径上已办理的环节"),
        ("register", "  ", "退回理由：必须填写"),
    ],
)
def test_return_to_a_step_off_the_path_or_without_reason_is_refused(
    client: FlaskClient, auth: AuthActions, app_db: Session, target: str, reason: str, message: str
) -> None:
    case, triage = claimed_triage(app_db)
    register = app_db.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None
    target_id = {"forged": str(uuid.uuid4()), "self": triage.task_id, "register": register.task_id}[target]
    auth.login("jingji1")
    refused = client.post(f"/tasks/{triage.task_id}/return", data={"target_task_id": target_id, "reason": reason})
    assert refused.status_code == 422
    assert message in html_of(refused)
    assert 'id="op-return" open' in html_of(refused)  # the refused form is open with its message
    assert open_steps(app_db, case) == ["triage"]
    assert actions_of(app_db, case, "return") == []


# --- 撤回 ----------------------------------------------------------------------------------------------------------


def submitted_register(client: FlaskClient, auth: AuthActions, app_db: Session) -> tuple[ProcessInstance, str]:
    """ganjingzi1 registers a new report through the web; returns the case and the register task id."""
    case = start_report(app_db, "ganjingzi1")
    app_db.commit()
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi1")
    assert (
        client.post(f"/tasks/{register.task_id}", data={"decision": "受理", "opinion": "同意受理。"}).status_code == 302
    )
    assert open_steps(app_db, case) == ["triage"]
    return case, register.task_id


def test_withdraw_before_the_next_holder_opens_the_task(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, register_id = submitted_register(client, auth, app_db)
    task_page = html_of(client.get(f"/tasks/{register_id}"))
    assert 'id="withdraw"' in task_page and f'action="/tasks/{register_id}/withdraw"' in task_page
    assert f'action="/tasks/{register_id}/withdraw"' in section(html_of(client.get(f"/cases/{case.id}")), "withdraw")

    done = client.post(f"/tasks/{register_id}/withdraw", data={"reason": "受理意见写错了"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/tasks/{register_id}")
    assert open_steps(app_db, case) == ["register_report"]
    step = app_db.scalar(select(ApprovalStep).where(ApprovalStep.task_id == register_id))
    assert step is not None and step.withdrawn_at is not None
    (action,) = actions_of(app_db, case, "withdraw")
    assert action.reason == "受理意见写错了"

    timeline = section(html_of(client.get(f"/cases/{case.id}")), "timeline")
    row = re.search(r'<tr data-bpmn-id="register_report"[^>]*class="withdrawn"[^>]*>(.*?)</tr>', timeline, re.S)
    assert row is not None and "已撤回" in row.group(1)


def test_withdraw_after_the_next_holder_opened_the_task_is_refused(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, register_id = submitted_register(client, auth, app_db)
    triage = open_task(app_db, case, "triage")
    client.post("/logout")
    auth.login("jingji1")
    assert client.get(f"/tasks/{triage.task_id}").status_code == 200
    app_db.expire_all()
    assert app_db.scalar(select(TaskOpening).where(TaskOpening.task_id == triage.task_id)) is not None

    client.post("/logout")
    auth.login("ganjingzi1")
    assert 'id="withdraw"' not in html_of(client.get(f"/tasks/{register_id}"))
    refused = client.post(f"/tasks/{register_id}/withdraw", data={"reason": ""})
    assert refused.status_code == 409
    assert "下一环节办理人已查看，不能撤回" in html_of(refused)
    assert open_steps(app_db, case) == ["triage"]
    step = app_db.scalar(select(ApprovalStep).where(ApprovalStep.task_id == register_id))
    assert step is not None and step.withdrawn_at is None
    assert actions_of(app_db, case, "withdraw") == []


def test_an_overlong_withdrawal_note_is_refused_on_the_page_it_came_from(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, register_id = submitted_register(client, auth, app_db)
    refused = client.post(f"/tasks/{register_id}/withdraw", data={"reason": "长" * 501, "back_task": register_id})
    assert refused.status_code == 422
    html = html_of(refused)
    assert "撤回说明：不能超过 500 字" in html and 'id="withdraw"' in html
    assert open_steps(app_db, case) == ["triage"]


def test_an_onlooker_opening_the_next_task_does_not_block_withdrawal(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, register_id = submitted_register(client, auth, app_db)
    client.post("/logout")
    auth.login("shengzong_jingji1")  # the province sees the task read-only: not its next holder
    assert client.get(f"/tasks/{open_task(app_db, case, 'triage').task_id}").status_code == 200
    client.post("/logout")
    auth.login("ganjingzi1")
    assert client.post(f"/tasks/{register_id}/withdraw").status_code == 302
    assert open_steps(app_db, case) == ["register_report"]


# --- 加签 ----------------------------------------------------------------------------------------------------------


def test_signer_added_before_signs_first_then_the_task_returns_to_its_holder(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    head = user(app_db, "jingji_head")
    auth.login("jingji1")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    signers = page[page.index('id="op-add-signer"') : page.index("</details>", page.index('id="op-add-signer"'))]
    assert f'<option value="{head.id}"' in signers
    assert "吴海涛" not in signers  # another district is not above the city
    done = client.post(
        f"/tasks/{triage.task_id}/add-signer",
        data={"signer": head.id, "position": "before", "reason": "涉及重大隐患，请部长把关。"},
    )
    assert done.status_code == 302
    entry = fresh(app_db, triage)
    assert entry is not None and entry.assigned_to_id == head.id and entry.form_name == "added-sign-schema.json"

    client.post("/logout")
    auth.login("jingji_head")
    mine = html_of(client.get(f"/?view=mine&q={case.case_number}"))
    assert f'data-task-id="{triage.task_id}"' in mine
    signing = html_of(client.get(f"/tasks/{triage.task_id}"))
    request_box = signing[signing.index('id="sign-request"') :]
    assert "王建国" in request_box and "张志强（前加签）" in request_box and "涉及重大隐患，请部长把关。" in request_box
    assert "加签意见" in signing and 'name="decision"' in signing
    assert 'id="op-transfer"' not in signing and 'id="op-add-signer"' not in signing and 'id="op-copy"' not in signing
    assert 'class="phrase-picker"' in signing and "请抓紧办理。" in signing

    signed = client.post(f"/tasks/{triage.task_id}", data={"decision": "同意", "opinion": "同意一般隐患定级。"})
    assert signed.status_code == 302
    entry = fresh(app_db, triage)
    assert entry is not None and entry.status == TaskStatus.READY
    assert entry.claimed_by_id == user(app_db, "jingji1").id and entry.assigned_to_id is None
    assert entry.form_name != "added-sign-schema.json"
    step = app_db.scalar(select(ApprovalStep).where(ApprovalStep.task_id == triage.task_id))
    assert step is not None and (step.kind, step.actor_name, step.decision) == ("added_sign", "张志强", "同意")

    timeline = section(html_of(client.get(f"/cases/{case.id}")), "timeline")
    assert re.search(r'data-kind="added_sign"[^>]*>.*?加签.*?张志强', timeline, re.S)


def test_signer_added_after_signs_once_the_holder_decided_then_the_case_moves_on(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("jingji1")
    jingji2 = user(app_db, "jingji2")
    assert (
        client.post(f"/tasks/{triage.task_id}/add-signer", data={"signer": jingji2.id, "position": "after"}).status_code
        == 302
    )
    entry = fresh(app_db, triage)
    assert entry is not None and entry.claimed_by_id == user(app_db, "jingji1").id and entry.assigned_to_id is None

    assert client.post(f"/tasks/{triage.task_id}", data=TRIAGE).status_code == 302
    entry = fresh(app_db, triage)
    assert entry is not None and entry.status == TaskStatus.READY and entry.assigned_to_id == jingji2.id
    assert open_steps(app_db, case) == ["triage"]

    client.post("/logout")
    auth.login("jingji2")
    assert client.post(f"/tasks/{triage.task_id}", data={"decision": "同意", "opinion": "同意。"}).status_code == 302
    assert open_steps(app_db, case) == ["verify"]


def test_adding_oneself_or_someone_from_another_district_is_refused(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("jingji1")
    for username, message in (
        ("jingji1", "加签人：不能加签自己"),
        ("zhongshan1", "加签人：只能选择本单位或上级单位的人员"),
    ):
        refused = client.post(
            f"/tasks/{triage.task_id}/add-signer", data={"signer": user(app_db, username).id, "position": "before"}
        )
        assert refused.status_code == 422 and message in html_of(refused)
    refused = client.post(f"/tasks/{triage.task_id}/add-signer", data={"signer": "", "position": "before"})
    assert refused.status_code == 422 and "加签人：请选择加签人" in html_of(refused)
    entry = fresh(app_db, triage)
    assert entry is not None and entry.assigned_to_id is None
    assert actions_of(app_db, case, "add_signer") == []


def test_an_onlooker_sees_no_operations_and_a_holder_sees_the_phrase_picker(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    _case, triage = claimed_triage(app_db)
    auth.login("jingji2")  # same department, but jingji1 holds the task
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    for op in ("op-transfer", "op-return", "op-add-signer", "op-copy"):
        assert f'id="{op}"' not in page, op
    assert 'id="op-urge"' in page
    refused = client.post(
        f"/tasks/{triage.task_id}/transfer", data={"to_user": user(app_db, "jingji_head").id, "reason": "x"}
    )
    assert refused.status_code == 403

    client.post("/logout")
    auth.login("jingji1")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    picker = page[page.index('class="phrase-picker"') :]
    assert 'data-phrase-for="opinion"' in page and "情况属实，同意。" in picker
    assert '<script src="/static/task-ops.js"></script>' in page


def test_a_delegate_acting_for_the_holder_sees_on_whose_behalf(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    _case, triage = claimed_triage(app_db)
    today = beijing_date(utcnow())  # delegations run on Beijing dates
    create_delegation(
        app_db, user(app_db, "jingji1"), user(app_db, "jingji2"), today, today + timedelta(days=3), "休假", today=today
    )
    app_db.commit()
    auth.login("jingji2")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    assert "代王建国办理" in page and 'id="op-transfer"' in page
