"""The official's daily screens through the test client: lists, claim/release, the task form, starting a case."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import complete, intake, open_steps, open_task, start_report, user
from workflows.db import utcnow
from workflows.models import ApprovalStep, ProcessInstance, TaskIndexEntry, TaskStatus

VERIFY_FORM = {
    "inspection_date": "2026-11-20",
    "inspectors": "马晓东、朱丽",
    "verification_result": "属实",
    "hazard_level": "一般",
    "reporter_responsible": ["false", "true"],
    "evidence": "现场照片三张，配电箱门确已损坏。",
    "opinion": "核查属实，建议下达整改通知。",
}


def reported(app_db: Session, **overrides: object) -> ProcessInstance:
    case = start_report(app_db, **overrides)
    app_db.commit()
    return case


def registered_and_triaged(app_db: Session) -> ProcessInstance:
    case = reported(app_db)
    complete(app_db, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理。"})
    complete(app_db, "jingji1", case, "triage", {"triage_level": "一般", "opinion": "一般隐患，请区总核查。"})
    app_db.commit()
    return case


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-task-id="([^"]+)"', html)


def listed(client: FlaskClient, view: str, case: ProcessInstance) -> list[str]:
    """Task ids of `case` in a list (the demo data has cases of its own in the same queues)."""
    return rows(client.get(f"/?view={view}&q={case.case_number}").get_data(as_text=True))


def counts(client: FlaskClient) -> dict[str, int]:
    html = client.get("/").get_data(as_text=True)
    return {view: int(n) for view, n in re.findall(r'data-view="(\w+)">[^<]*<span class="count">(\d+)</span>', html)}


def test_queue_lists_the_new_report_and_claim_moves_it_to_my_tasks(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi2")

    queue = client.get("/?view=queue").get_data(as_text=True)
    assert register.task_id in rows(queue)
    assert case.case_number in queue and "认领" in queue
    assert listed(client, "mine", case) == []

    claimed = client.post(f"/tasks/{register.task_id}/claim")
    assert claimed.status_code == 302 and claimed.headers["Location"].endswith(f"/tasks/{register.task_id}")
    assert listed(client, "mine", case) == [register.task_id]
    assert listed(client, "queue", case) == []

    # Nobody else in the unit can take it now; the queue no longer offers it.
    client.post("/logout")
    auth.login("ganjingzi1")
    assert listed(client, "queue", case) == []
    refused = client.post(f"/tasks/{register.task_id}/claim", follow_redirects=True)
    assert "该任务已由他人认领" in refused.get_data(as_text=True)


def test_release_returns_the_task_to_the_queue(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi2")
    client.post(f"/tasks/{register.task_id}/claim")
    released = client.post(f"/tasks/{register.task_id}/release", follow_redirects=True)
    assert "已退回部门待办" in released.get_data(as_text=True)
    assert listed(client, "queue", case) == [register.task_id]


def test_navigation_shows_counts(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    auth.login("ganjingzi2")
    before = counts(client)
    first = reported(app_db)
    reported(app_db, location="二号仓库北门")
    assert counts(client) == {**before, "queue": before["queue"] + 2}
    client.post(f"/tasks/{open_task(app_db, first, 'register_report').task_id}/claim")
    assert counts(client) == {**before, "queue": before["queue"] + 1, "mine": before["mine"] + 1}


def test_failed_submit_shows_chinese_errors_and_keeps_the_typed_values(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = registered_and_triaged(app_db)
    verify = open_task(app_db, case, "verify")
    auth.login("ganjingzi1")
    bad = dict(VERIFY_FORM, inspection_date="2026-13-40", opinion="")
    answer = client.post(f"/tasks/{verify.task_id}", data=bad)

    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "核查日期" in html and "不是有效日期" in html
    assert "审批意见" in html and re.search(r'class="field-error"[^>]*>审批意见：', html)
    # What the official typed is still there.
    assert 'value="马晓东、朱丽"' in html
    assert '<option value="属实" selected>' in html
    assert "现场照片三张，配电箱门确已损坏。</textarea>" in html
    app_db.expire_all()
    assert open_task(app_db, case, "verify").status == TaskStatus.READY


def test_good_submit_records_the_step_and_returns_to_the_inbox(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = registered_and_triaged(app_db)
    verify = open_task(app_db, case, "verify")
    auth.login("ganjingzi1")
    page = client.get(f"/tasks/{verify.task_id}").get_data(as_text=True)
    # Case on the left (with what was reported and the earlier opinions), form on the right.
    assert "配电箱门损坏" in page and "一般隐患，请区总核查。" in page
    assert 'name="verification_result"' in page and 'name="opinion"' in page
    assert "210211196803150130" not in page  # the reporter's identity never reaches the case page

    done = client.post(f"/tasks/{verify.task_id}", data=VERIFY_FORM)
    assert done.status_code == 302
    app_db.expire_all()
    step = app_db.scalar(select(ApprovalStep).where(ApprovalStep.task_id == verify.task_id))
    assert step is not None
    assert (step.decision, step.opinion, step.actor_name) == ("属实", "核查属实，建议下达整改通知。", "马晓东")
    # The next step (下达整改通知) is also the district's: the official goes straight on to it.
    rectify = open_task(app_db, case, "rectify_notice")
    assert done.headers["Location"].endswith(f"/tasks/{rectify.task_id}")
    followed = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "已提交：现场核查" in followed


def test_after_the_last_step_of_mine_the_inbox_follows(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi1")
    done = client.post(f"/tasks/{register.task_id}", data={"decision": "受理", "opinion": "同意受理，转市总研判。"})
    assert done.status_code == 302 and done.headers["Location"].endswith("/")
    assert "已提交：登记查重" in client.get("/").get_data(as_text=True)
    assert listed(client, "done", case) == [register.task_id]


def test_double_submit_is_refused_with_a_message(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi1")
    form = {"decision": "受理", "opinion": "同意受理。"}
    client.post(f"/tasks/{register.task_id}", data=form)
    again = client.post(f"/tasks/{register.task_id}", data=form)
    assert again.status_code == 302
    assert again.headers["Location"].endswith(f"/cases/{case.id}")
    with client.session_transaction() as flask_session:
        assert ("error", "该任务已被他人处理，请刷新后查看最新状态") in flask_session["_flashes"]
    assert len(app_db.scalars(select(ApprovalStep).where(ApprovalStep.task_id == register.task_id)).all()) == 1


def test_other_district_and_other_department_cannot_open_the_task(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    for username in ("zhongshan1", "baozhang1"):
        auth.login(username)
        assert client.get(f"/tasks/{register.task_id}").status_code == 404
        assert client.post(f"/tasks/{register.task_id}/claim").status_code == 404
        assert client.post(f"/tasks/{register.task_id}", data={"decision": "受理"}).status_code == 404
        client.post("/logout")
    assert client.get(f"/tasks/{register.task_id}").status_code == 302  # anonymous: to the sign-in page


def test_filters_search_and_lights(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    first = reported(app_db, location="试验工段甲")
    second = reported(app_db, location="试验工段乙")
    late = open_task(app_db, first, "register_report")
    late.due_at = utcnow() - timedelta(hours=1)
    soon = open_task(app_db, second, "register_report")
    soon.due_at = utcnow() + timedelta(hours=2)
    app_db.commit()
    auth.login("ganjingzi2")

    def queue(query: str) -> list[str]:
        return rows(client.get(f"/?view=queue&q=试验工段&{query}").get_data(as_text=True))

    assert queue("light=red") == [late.task_id]
    assert queue("light=yellow") == [soon.task_id]
    assert queue("light=green") == []
    assert listed(client, "queue", second) == [soon.task_id]
    assert queue("sort=newest") == [soon.task_id, late.task_id]
    assert queue("sort=oldest") == [late.task_id, soon.task_id]
    assert queue("sort=due") == [late.task_id, soon.task_id]
    assert queue("process=no_such_process") == []
    assert queue("process=hazard_report&light=nonsense") == [late.task_id, soon.task_id]
    html = client.get("/?view=queue&q=试验工段").get_data(as_text=True)
    assert 'data-light="red"' in html and 'data-light="yellow"' in html


def test_pagination_keeps_the_filters(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    for n in range(23):
        start_report(app_db, location=f"分页测试{n}号车间")
    app_db.commit()
    auth.login("ganjingzi2")
    first = client.get("/?view=queue&sort=oldest&q=分页测试").get_data(as_text=True)
    assert len(rows(first)) == 20 and "第 1 / 2 页，共 23 条" in first
    link = re.search(r'<a rel="next" href="([^"]+)"', first)
    assert link is not None
    second = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert len(rows(second)) == 3 and "第 2 / 2 页" in second
    assert set(rows(first)).isdisjoint(rows(second))


def test_started_by_me_lists_my_cases(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = reported(app_db)
    auth.login("ganjingzi1")
    html = client.get("/?view=started").get_data(as_text=True)
    assert case.case_number in html and "办理中" in html
    client.post("/logout")
    auth.login("ganjingzi2")
    assert case.case_number not in client.get("/?view=started").get_data(as_text=True)


def test_start_page_lists_only_what_my_unit_may_start(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("ganjingzi1")
    assert 'data-process="hazard_report"' in client.get("/start").get_data(as_text=True)
    client.post("/logout")
    auth.login("admin")
    assert 'data-process="hazard_report"' not in client.get("/start").get_data(as_text=True)
    assert client.get("/start/hazard_report").status_code == 404


def test_start_a_case_from_the_web_form(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    auth.login("ganjingzi1")
    form = client.get("/start/hazard_report").get_data(as_text=True)
    assert 'name="reporter.mobile"' in form and 'name="enterprise_uscc"' in form
    data = intake()
    reporter = data.pop("reporter")
    posted = {**data, **{f"reporter.{key}": value for key, value in reporter.items()}}

    bad = client.post("/start/hazard_report", data={**posted, "reporter.mobile": "12345"})
    assert bad.status_code == 422
    assert "手机号" in bad.get_data(as_text=True) and 'value="三号车间东侧配电箱"' in bad.get_data(as_text=True)

    good = client.post("/start/hazard_report", data=posted)
    assert good.status_code == 302
    case = app_db.scalar(select(ProcessInstance).order_by(ProcessInstance.id.desc()))
    assert case is not None and case.started_by_id == user(app_db, "ganjingzi1").id
    # The district official who took the report registers it next: straight to that task.
    register = open_task(app_db, case, "register_report")
    assert good.headers["Location"].endswith(f"/tasks/{register.task_id}")


def test_read_only_view_for_a_head_of_another_holder(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi2")
    client.post(f"/tasks/{register.task_id}/claim")
    client.post("/logout")
    auth.login("ganjingzi_head")
    html = client.get(f"/tasks/{register.task_id}").get_data(as_text=True)
    assert "您可以查看此任务，但不能办理" in html and "朱丽" in html
    assert 'name="opinion"' not in html
    # A head may take the claim back for the unit.
    client.post(f"/tasks/{register.task_id}/release")
    app_db.expire_all()
    assert app_db.scalar(select(TaskIndexEntry.claimed_by_id).where(TaskIndexEntry.task_id == register.task_id)) is None


def test_a_lost_race_is_retried_and_a_second_one_keeps_the_typed_form(
    client: FlaskClient, auth: AuthActions, app_db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp import tasks as task_views
    from workflows.errors import CaseChanged

    case = reported(app_db)
    register = open_task(app_db, case, "register_report")
    auth.login("ganjingzi1")
    real = task_views.complete_task
    calls: list[int] = []

    def racing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) <= losses:
            raise CaseChanged()
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(task_views, "complete_task", racing)
    form = {"decision": "受理", "opinion": "同意受理，转市总研判。"}
    losses = 2
    kept = client.post(f"/tasks/{register.task_id}", data=form)
    assert kept.status_code == 409 and "同意受理，转市总研判。</textarea>" in kept.get_data(as_text=True)

    calls.clear()
    losses = 1
    done = client.post(f"/tasks/{register.task_id}", data=form)
    assert done.status_code == 302 and len(calls) == 2
    app_db.expire_all()
    assert open_steps(app_db, case) == ["triage"]


def test_the_task_page_keeps_the_reporter_confidential_and_masks_ids_in_opinions(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = reported(app_db)
    complete(
        app_db,
        "ganjingzi1",
        case,
        "register_report",
        {"decision": "受理", "opinion": "报告人身份证 210211196803150130，已核实"},
    )
    app_db.commit()
    triage = open_task(app_db, case, "triage")
    auth.login("jingji1")
    page = client.get(f"/tasks/{triage.task_id}").get_data(as_text=True)
    assert "配电箱门损坏" in page  # what was reported is shown
    for secret in ("李大勇", "13904111234", "210211196803150130"):
        assert secret not in page, secret
    assert "210211********0130" in page  # the opinion's number, masked


def test_done_lists_newest_first_by_default(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    first, second = reported(app_db, location="排序甲"), reported(app_db, location="排序乙")
    for case in (first, second):
        complete(app_db, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理。"})
    app_db.commit()
    auth.login("ganjingzi1")
    done = rows(client.get("/?view=done&q=排序").get_data(as_text=True))
    assert done == [open_task_id(app_db, second), open_task_id(app_db, first)]


def open_task_id(app_db: Session, case: ProcessInstance) -> str:
    task_id = app_db.scalar(
        select(TaskIndexEntry.task_id).where(
            TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report"
        )
    )
    assert task_id is not None
    return task_id
