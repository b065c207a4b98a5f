"""Issue #4 at the inbox level, through the test client: 抄送我, 委托 settings and what a delegate sees and does,
常用语 settings, the 催办 badge, and 批量审批 (including what it refuses and what it skips, with the reason)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.conftest import AuthActions
from tests.workflow_helpers import complete, open_task, start_report, user
from workflows.acting import beijing_date, create_delegation
from workflows.copies import copy_case
from workflows.db import utcnow
from workflows.models import ApprovalStep, CommonPhrase, Delegation, ProcessInstance, TaskStatus
from workflows.operations import claim_task
from workflows.reminders import urge_task
from workflows.routing import Action

REGISTER = {"decision": "受理", "opinion": "材料齐全，同意受理。"}


def today() -> date:
    return beijing_date(utcnow())


def reported(app_db: Session, location: str, username: str = "ganjingzi1") -> ProcessInstance:
    case = start_report(app_db, username, location=location)
    app_db.commit()
    return case


def html_of(answer: TestResponse) -> str:
    return answer.get_data(as_text=True)


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-task-id="([^"]+)"', html)


def row_html(html: str, attribute: str, value: object) -> str:
    found = re.search(rf'<tr {attribute}="{value}".*?</tr>', html, re.S)
    assert found is not None, f"no row {attribute}={value}"
    return found.group(0)


def counts(client: FlaskClient) -> dict[str, int]:
    html = html_of(client.get("/"))
    return {view: int(n) for view, n in re.findall(r'data-view="(\w+)">[^<]*<span class="count">(\d+)</span>', html)}


def copy_rows(client: FlaskClient, query: str = "") -> list[int]:
    html = html_of(client.get(f"/?view=copied{query}"))
    return [int(i) for i in re.findall(r'<tr data-copy-id="\d+" data-instance-id="(\d+)"', html)]


# --- 抄送我 -------------------------------------------------------------------------------------------------------


def test_copied_to_me_lists_copies_unread_first_and_opening_the_case_marks_it_read(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    sender, reader = user(app_db, "ganjingzi1"), user(app_db, "ganjingzi2")
    older = reported(app_db, "抄送测试一号车间")
    newer = reported(app_db, "抄送测试二号车间")
    copy_case(app_db, sender, older, [reader], note="请关注此隐患的整改。")
    app_db.commit()
    auth.login("ganjingzi2")
    before = counts(client)["copied"]
    copy_case(app_db, sender, newer, [reader], note="")
    app_db.commit()
    assert counts(client)["copied"] == before + 1

    page = html_of(client.get("/?view=copied"))
    row = row_html(page, r'data-copy-id="\d+" data-instance-id', older.id)
    assert older.case_number in row and older.title in row
    assert "马晓东" in row and "请关注此隐患的整改。" in row and "未读" in row
    assert copy_rows(client)[:2] == [newer.id, older.id]  # both unread: newest first

    # Opening the case reads the copy: the count drops, the badge says 已读, unread-first puts it last.
    assert client.get(f"/cases/{newer.id}").status_code == 200
    assert counts(client)["copied"] == before
    page = html_of(client.get("/?view=copied"))
    assert "已读" in row_html(page, r'data-copy-id="\d+" data-instance-id', newer.id)
    listed = copy_rows(client)
    assert listed.index(older.id) < listed.index(newer.id)
    assert copy_rows(client, "&sort=newest").index(newer.id) < copy_rows(client, "&sort=newest").index(older.id)
    assert older.id in copy_rows(client, "&unread=1") and newer.id not in copy_rows(client, "&unread=1")
    assert copy_rows(client, f"&q={older.case_number}") == [older.id]
    assert "共 1 条" in html_of(client.get(f"/?view=copied&q={older.case_number}"))  # counted like the rows

    # Copies are personal: the sender has none of them.
    client.post("/logout")
    auth.login("ganjingzi1")
    assert older.id not in copy_rows(client) and newer.id not in copy_rows(client)


# --- 委托 ---------------------------------------------------------------------------------------------------------


def delegate_form(delegate_id: int, start: date, end: date, reason: str = "外出参加培训") -> dict[str, str]:
    return {"delegate": str(delegate_id), "starts_on": start.isoformat(), "ends_on": end.isoformat(), "reason": reason}


def test_delegation_settings_create_refuse_and_revoke(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    me, colleague, outsider = (user(app_db, name) for name in ("ganjingzi1", "ganjingzi2", "zhongshan1"))
    auth.login("ganjingzi1")
    page = html_of(client.get("/settings/delegations"))
    assert "/settings/delegations" in html_of(client.get("/"))  # linked from every page
    picker = re.search(r'<select id="f-delegate".*?</select>', page, re.S)
    assert picker is not None
    assert "朱丽" in picker.group(0) and "胡德胜" in picker.group(0)
    assert "马晓东" not in picker.group(0) and "吴海涛" not in picker.group(0)  # not myself, not another unit

    start, end = today(), today() + timedelta(days=3)
    refusals = [
        (delegate_form(me.id, start, end), "受托人：不能委托给自己"),
        (delegate_form(outsider.id, start, end), "受托人：只能委托给本单位的同事"),
        (delegate_form(colleague.id, end, start), "结束日期：不能早于开始日期"),
        (delegate_form(colleague.id, start - timedelta(days=5), start - timedelta(days=1)), "结束日期：不能早于今天"),
        ({**delegate_form(colleague.id, start, end), "starts_on": "2026-13-01"}, "开始日期：不是有效日期"),
        ({**delegate_form(colleague.id, start, end), "delegate": ""}, "受托人：请选择"),
    ]
    for data, message in refusals:
        answer = client.post("/settings/delegations", data=data)
        assert answer.status_code == 422, message
        assert re.search(rf'class="field-error"[^>]*>{message}', html_of(answer)), message
    assert app_db.scalar(select(func.count(Delegation.id)).where(Delegation.principal_id == me.id)) == 0

    created = client.post("/settings/delegations", data=delegate_form(colleague.id, start, end))
    assert created.status_code == 303
    page = html_of(client.get(created.headers["Location"]))
    assert "已委托朱丽代为办理" in page
    delegation = app_db.scalar(select(Delegation).where(Delegation.principal_id == me.id))
    assert delegation is not None and delegation.delegate_id == colleague.id
    assert (delegation.starts_on, delegation.ends_on, delegation.reason) == (start, end, "外出参加培训")
    given = row_html(page, "data-delegation-id", delegation.id)
    assert "朱丽" in given and "生效中" in given

    overlapping = client.post("/settings/delegations", data=delegate_form(colleague.id, end, end))
    assert overlapping.status_code == 422 and "时间重叠" in html_of(overlapping)

    # The delegate sees it as received, and may not revoke it.
    client.post("/logout")
    auth.login("ganjingzi2")
    received = html_of(client.get("/settings/delegations"))
    assert "马晓东" in row_html(received, "data-delegation-id", delegation.id)
    assert client.post(f"/settings/delegations/{delegation.id}/revoke").status_code == 404

    client.post("/logout")
    auth.login("ganjingzi1")
    revoked = client.post(f"/settings/delegations/{delegation.id}/revoke", follow_redirects=True)
    assert "已撤销对朱丽的委托" in html_of(revoked)
    app_db.expire_all()
    assert app_db.get(Delegation, delegation.id).revoked_at is not None  # type: ignore[union-attr]
    assert client.post(f"/settings/delegations/{delegation.id}/revoke").status_code == 404


def claimed_by_principal(app_db: Session, location: str) -> tuple[ProcessInstance, str]:
    case = reported(app_db, location)
    task_id = open_task(app_db, case, "register_report").task_id
    claim_task(app_db, user(app_db, "ganjingzi1"), case.id, task_id)
    app_db.commit()
    return case, task_id


def test_the_delegate_sees_the_principals_task_marked_and_completes_it_in_their_name(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, task_id = claimed_by_principal(app_db, "委托测试一号车间")
    auth.login("ganjingzi2")
    assert task_id not in rows(html_of(client.get(f"/?view=mine&q={case.case_number}")))

    principal, delegate = user(app_db, "ganjingzi1"), user(app_db, "ganjingzi2")
    create_delegation(app_db, principal, delegate, today(), today() + timedelta(days=2), "休假", today=today())
    app_db.commit()
    mine = html_of(client.get(f"/?view=mine&q={case.case_number}"))
    assert rows(mine) == [task_id]
    assert 'data-on-behalf="马晓东"' in row_html(mine, "data-task-id", task_id) and "代马晓东" in mine
    # The principal sees their own task without the mark.
    client.post("/logout")
    auth.login("ganjingzi1")
    assert "代马晓东" not in html_of(client.get(f"/?view=mine&q={case.case_number}"))

    client.post("/logout")
    auth.login("ganjingzi2")
    done = client.post(f"/tasks/{task_id}", data=REGISTER)
    assert done.status_code == 302, html_of(done)
    app_db.expire_all()
    step = app_db.scalar(select(ApprovalStep).where(ApprovalStep.task_id == task_id))
    assert step is not None
    assert (step.actor_name, step.on_behalf_of_name, step.opinion) == ("朱丽", "马晓东", REGISTER["opinion"])


def test_an_expired_or_revoked_delegation_no_longer_shows_the_principals_tasks(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, task_id = claimed_by_principal(app_db, "委托测试二号车间")
    principal, delegate = user(app_db, "ganjingzi1"), user(app_db, "ganjingzi2")
    # Nobody can create a delegation in the past; an old one simply ended yesterday.
    app_db.add(
        Delegation(
            principal_id=principal.id,
            delegate_id=delegate.id,
            starts_on=today() - timedelta(days=7),
            ends_on=today() - timedelta(days=1),
            reason="上周出差",
        )
    )
    app_db.commit()
    auth.login("ganjingzi2")
    assert rows(html_of(client.get(f"/?view=mine&q={case.case_number}"))) == []
    # A colleague of the unit still sees the claimed task, but may not decide it, alone or in a batch.
    client.post("/batch/complete", data={"task_id": [task_id], **REGISTER})
    skipped = row_html(html_of(client.get("/batch/result")), "data-task-id", task_id)
    assert "该任务已由他人认领" in skipped
    assert "已结束" in html_of(client.get("/settings/delegations"))

    # A running one shows it until the principal revokes it.
    running = create_delegation(app_db, principal, delegate, today(), today(), "", today=today())
    app_db.commit()
    assert rows(html_of(client.get(f"/?view=mine&q={case.case_number}"))) == [task_id]
    client.post("/logout")
    auth.login("ganjingzi1")
    assert client.post(f"/settings/delegations/{running.id}/revoke").status_code == 303
    client.post("/logout")
    auth.login("ganjingzi2")
    assert rows(html_of(client.get(f"/?view=mine&q={case.case_number}"))) == []


def test_a_delegate_of_another_department_sees_the_principals_queue_marked(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = reported(app_db, "委托测试三号车间")
    complete(app_db, "ganjingzi1", case, "register_report", REGISTER)
    app_db.commit()
    triage = open_task(app_db, case, "triage").task_id  # waits in the city's 经济技术和劳动保护部 queue
    auth.login("caiwu1")
    assert rows(html_of(client.get(f"/?view=queue&q={case.case_number}"))) == []

    principal, delegate = user(app_db, "jingji1"), user(app_db, "caiwu1")
    create_delegation(app_db, principal, delegate, today(), today() + timedelta(days=1), "出差", today=today())
    app_db.commit()
    queue = html_of(client.get(f"/?view=queue&q={case.case_number}"))
    assert rows(queue) == [triage] and "代王建国" in row_html(queue, "data-task-id", triage)
    # The department's own officials see it as theirs.
    client.post("/logout")
    auth.login("jingji2")
    queue = html_of(client.get(f"/?view=queue&q={case.case_number}"))
    assert rows(queue) == [triage] and "data-on-behalf" not in row_html(queue, "data-task-id", triage)


# --- 常用语 and 催办 ---------------------------------------------------------------------------------------------


def test_phrases_add_refuse_duplicates_and_delete(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    auth.login("ganjingzi1")
    page = html_of(client.get("/settings/phrases"))
    assert "情况属实，同意。" in page  # the defaults are listed, read-only

    added = client.post("/settings/phrases", data={"text": "  请于三日内完成整改。 "})
    assert added.status_code == 303
    page = html_of(client.get("/settings/phrases"))
    phrase = app_db.scalar(select(CommonPhrase).where(CommonPhrase.text == "请于三日内完成整改。"))
    assert phrase is not None and "请于三日内完成整改。" in row_html(page, "data-phrase-id", phrase.id)

    for text, message in (
        ("请于三日内完成整改。", "常用语：已有相同的常用语"),
        ("同意。", "常用语：已有相同的常用语"),
        ("   ", "常用语：必须填写"),
        ("长" * 201, "常用语：不能超过 200 字"),
    ):
        refused = client.post("/settings/phrases", data={"text": text})
        assert refused.status_code == 422 and message in html_of(refused), text

    # Someone else's phrase is not there to delete.
    client.post("/logout")
    auth.login("ganjingzi2")
    assert client.post(f"/settings/phrases/{phrase.id}/delete").status_code == 404
    client.post("/logout")
    auth.login("ganjingzi1")
    assert client.post(f"/settings/phrases/{phrase.id}/delete").status_code == 303
    assert app_db.scalar(select(CommonPhrase).where(CommonPhrase.id == phrase.id)) is None
    assert "请于三日内完成整改。" not in html_of(client.get("/settings/phrases"))


def test_an_urged_task_carries_the_badge_with_its_count(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, task_id = claimed_by_principal(app_db, "催办测试车间")
    entry = open_task(app_db, case, "register_report")
    urge_task(app_db, user(app_db, "ganjingzi2"), entry, frozenset({Action.VIEW}), "请尽快登记。")
    urge_task(app_db, user(app_db, "ganjingzi_head"), entry, frozenset({Action.VIEW, Action.RELEASE}))
    app_db.commit()
    auth.login("ganjingzi1")
    row = row_html(html_of(client.get(f"/?view=mine&q={case.case_number}")), "data-task-id", task_id)
    assert 'data-urged="2"' in row and "催办 2" in row


# --- 批量审批 ----------------------------------------------------------------------------------------------------


def queue_tasks(app_db: Session, *locations: str) -> list[tuple[ProcessInstance, str]]:
    found = []
    for location in locations:
        case = reported(app_db, location)
        found.append((case, open_task(app_db, case, "register_report").task_id))
    return found


def test_batch_approval_completes_each_case_and_reports_the_skipped_ones_with_the_reason(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    # An open, registered report at 批量三号仓库: a second report there needs a reason not to be a duplicate.
    earlier = reported(app_db, "批量测试三号仓库")
    complete(app_db, "ganjingzi1", earlier, "register_report", REGISTER)
    app_db.commit()
    (first, first_task), (second, second_task), (duplicate, duplicate_task) = queue_tasks(
        app_db, "批量测试一号仓库", "批量测试二号仓库", "批量测试三号仓库"
    )
    selected = [first_task, second_task, duplicate_task, "no-such-task"]
    auth.login("ganjingzi2")

    queue = html_of(client.get("/?view=queue"))
    assert 'id="batch-form"' in queue
    assert f'name="task_id" value="{first_task}" form="batch-form"' in queue

    form_page = client.post("/batch", data={"task_id": selected, "view": "queue"})
    assert form_page.status_code == 200
    html = html_of(form_page)
    assert html.count('name="opinion"') == 1 and html.count('name="decision"') == 1  # the form once
    assert all(case.case_number in html for case in (first, second, duplicate))
    assert "另有 1 项任务不存在或无权查看" in html
    assert "情况属实，同意。" in html  # the 常用语 picker

    submitted = client.post("/batch/complete", data={"task_id": selected, "view": "queue", **REGISTER})
    assert submitted.status_code == 303 and submitted.headers["Location"].endswith("/batch/result")
    result = html_of(client.get("/batch/result"))
    done_part, skipped_part = result.split('class="listing batch-skipped"')
    assert f'data-case-number="{first.case_number}"' in done_part
    assert f'data-case-number="{second.case_number}"' in done_part
    assert duplicate.case_number not in done_part
    skipped = row_html(skipped_part, "data-task-id", duplicate_task)
    assert "不属于重复报告的理由：同一企业同一地点已有登记在办的报告" in skipped and earlier.case_number in skipped
    assert "任务不存在或无权查看" in row_html(skipped_part, "data-task-id", "no-such-task")
    assert "已办理 2 件，未办理 2 件" in result

    app_db.expire_all()
    for case in (first, second):
        step = app_db.scalar(
            select(ApprovalStep).where(ApprovalStep.instance_id == case.id, ApprovalStep.bpmn_id == "register_report")
        )
        assert step is not None and (step.actor_name, step.opinion) == ("朱丽", REGISTER["opinion"])
    assert open_task(app_db, duplicate, "register_report").status == TaskStatus.READY
    done = rows(html_of(client.get("/?view=done&q=批量测试")))
    assert set(done) == {first_task, second_task}


def test_batch_skips_a_task_someone_else_handled_in_the_meantime(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    (first, first_task), (second, second_task) = queue_tasks(app_db, "批量测试四号仓库", "批量测试五号仓库")
    auth.login("ganjingzi2")
    assert client.post("/batch", data={"task_id": [first_task, second_task]}).status_code == 200
    complete(app_db, "ganjingzi1", first, "register_report", REGISTER)  # a colleague is quicker
    app_db.commit()
    client.post("/batch/complete", data={"task_id": [first_task, second_task], **REGISTER})
    result = html_of(client.get("/batch/result"))
    _done, skipped_part = result.split('class="listing batch-skipped"')
    assert "已被他人处理" in row_html(skipped_part, "data-task-id", first_task)
    assert f'data-case-number="{second.case_number}"' in _done
    app_db.expire_all()
    step = app_db.scalar(select(ApprovalStep).where(ApprovalStep.task_id == first_task))
    assert step is not None and step.actor_name == "马晓东"  # the colleague's step stands


def test_batch_of_different_steps_or_of_nothing_is_refused_back_on_the_inbox(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    (registering, register_task), (_other, _other_task) = queue_tasks(app_db, "批量测试六号仓库", "批量测试七号仓库")
    at_verify = reported(app_db, "批量测试八号仓库")
    complete(app_db, "ganjingzi1", at_verify, "register_report", REGISTER)
    complete(app_db, "jingji1", at_verify, "triage", {"triage_level": "一般", "opinion": "请区总工会核查。"})
    app_db.commit()
    verify_task = open_task(app_db, at_verify, "verify").task_id
    auth.login("ganjingzi2")

    for path in ("/batch", "/batch/complete"):
        refused = client.post(path, data={"task_id": [register_task, verify_task], "view": "queue", **REGISTER})
        assert refused.status_code == 303 and refused.headers["Location"].endswith("/?view=queue")
        page = html_of(client.get(refused.headers["Location"]))
        assert "所选任务不属于同一环节" in page and "登记查重" in page and "现场核查" in page
    nothing = client.post("/batch", data={"view": "mine"}, follow_redirects=True)
    assert "请至少选择一项任务" in html_of(nothing)

    app_db.expire_all()
    assert open_task(app_db, registering, "register_report").status == TaskStatus.READY
    assert open_task(app_db, at_verify, "verify").status == TaskStatus.READY


def test_batch_without_an_opinion_comes_back_as_the_form_with_422(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    (first, first_task), (second, second_task) = queue_tasks(app_db, "批量测试九号仓库", "批量测试十号仓库")
    auth.login("ganjingzi2")
    answer = client.post("/batch/complete", data={"task_id": [first_task, second_task], "decision": "受理"})
    assert answer.status_code == 422
    html = html_of(answer)
    assert re.search(r'class="field-error"[^>]*>审批意见：', html)
    assert '<option value="受理" selected>' in html  # what was chosen stays
    assert first.case_number in html and second.case_number in html and "batch-skipped" not in html
    app_db.expire_all()
    for case in (first, second):
        assert open_task(app_db, case, "register_report").status == TaskStatus.READY
