"""The case page and its diagram data (issue #3 §3), through the test client."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import complete, open_task, start_report, user
from workflows.db import utcnow
from workflows.models import ProcessInstance, TaskIndexEntry
from workflows.operations import claim_task

OPINION = {"opinion": "材料齐全，同意受理。"}


def registered_case(app_db: Session) -> ProcessInstance:
    """A report by ganjingzi1, registered, now waiting for triage at the city's 经济技术和劳动保护部."""
    case = start_report(app_db, "ganjingzi1")
    complete(app_db, "ganjingzi1", case, "register_report", {"decision": "受理", **OPINION})
    app_db.commit()
    return case


def triaged_case(app_db: Session) -> ProcessInstance:
    case = registered_case(app_db)
    complete(app_db, "jingji1", case, "triage", {"triage_level": "一般", "opinion": "一般隐患，请区总工会核查。"})
    app_db.commit()
    return case


def page_of(client: FlaskClient, auth: AuthActions, username: str, case: ProcessInstance) -> str:
    auth.login(username)
    response = client.get(f"/cases/{case.id}")
    assert response.status_code == 200, f"{username}: {response.status_code}"
    return response.get_data(as_text=True)


def row(html: str, bpmn_id: str) -> str:
    match = re.search(rf'<tr data-bpmn-id="{bpmn_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert match is not None, f"no row for {bpmn_id}"
    return match.group(1)


def test_district_official_sees_summary_open_task_and_timeline(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = registered_case(app_db)
    html = page_of(client, auth, "ganjingzi1", case)

    assert case.case_number is not None and case.case_number in html
    summary = html[html.index('id="case-summary"') : html.index('id="current-tasks"')]
    for expected in ("安全隐患报告", "办理中", "甘井子区总工会", "马晓东", case.title):
        assert expected in summary, expected
    assert f'href="/cases/{case.id}/record.pdf"' in summary

    triage = row(html[html.index('id="current-tasks"') :], "triage")
    for expected in ("分级研判", "大连市总工会", "经济技术和劳动保护部", "未认领"):
        assert expected in triage, expected
    # Not this official's department: the task is listed but not linked.
    assert "/tasks/" not in triage

    timeline = html[html.index('id="timeline"') :]
    register = row(timeline, "register_report")
    for expected in ("登记查重", "马晓东", "经办人", "甘井子区总工会", "受理", "材料齐全，同意受理。"):
        assert expected in register, expected
    assert timeline.index('data-bpmn-id="start"') < timeline.index('data-bpmn-id="register_report"')


def test_open_task_shows_its_holder_and_red_light_when_overdue(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = registered_case(app_db)
    triage = open_task(app_db, case, "triage")
    claim_task(app_db, user(app_db, "jingji1"), case.id, triage.task_id)
    app_db.execute(
        update(TaskIndexEntry).where(TaskIndexEntry.id == triage.id).values(due_at=utcnow() - timedelta(days=1))
    )
    app_db.commit()

    html = page_of(client, auth, "jingji1", case)
    cells = row(html, "triage")
    assert "王建国" in cells and "未认领" not in cells
    assert 'data-light="red"' in cells and "已逾期" in cells
    assert f'href="/tasks/{triage.task_id}"' in cells  # the holder can open it from here


def test_yellow_light_for_a_task_due_soon(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = registered_case(app_db)  # triage is due within one working day
    assert 'data-light="yellow"' in row(page_of(client, auth, "jingji1", case), "triage")


@pytest.mark.parametrize("username", ["ganjingzi_head", "jingji_head", "shengzong_jingji1", "jingji2"])
def test_heads_the_owning_department_and_the_province_may_view(
    client: FlaskClient, auth: AuthActions, app_db: Session, username: str
) -> None:
    case = registered_case(app_db)
    assert case.case_number is not None and case.case_number in page_of(client, auth, username, case)


@pytest.mark.parametrize("username", ["zhongshan1", "baozhang1", "caiwu1", "shengzong_baozhang1"])
def test_other_districts_and_departments_get_404(
    client: FlaskClient, auth: AuthActions, app_db: Session, username: str
) -> None:
    case = registered_case(app_db)
    auth.login(username)
    for url in (f"/cases/{case.id}", f"/cases/{case.id}/diagram"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert case.title not in response.get_data(as_text=True)


def test_unknown_case_is_404(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("ganjingzi1")
    assert client.get("/cases/999999").status_code == 404
    assert client.get("/cases/999999/diagram").status_code == 404


def test_anonymous_visitor_is_sent_to_sign_in(client: FlaskClient, app_db: Session) -> None:
    case = registered_case(app_db)
    for url in (f"/cases/{case.id}", f"/cases/{case.id}/diagram"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"]


def test_diagram_json_marks_current_and_completed_steps(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = triaged_case(app_db)
    auth.login("ganjingzi1")
    response = client.get(f"/cases/{case.id}/diagram")
    assert response.status_code == 200 and response.is_json
    data = response.get_json()
    assert data["current"] == ["verify"]
    assert data["completed"] == ["start", "register_report", "triage"]
    xml = data["xml"]
    assert xml == case.process_version.bpmn_xml
    # The viewer needs the diagram interchange section, with a shape for every step it highlights.
    for bpmn_id in ("verify", "start", "register_report", "triage"):
        assert f'bpmnElement="{bpmn_id}"' in xml, bpmn_id


def test_case_page_loads_the_viewer_from_our_static_files(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = registered_case(app_db)
    html = page_of(client, auth, "ganjingzi1", case)
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    styles = re.findall(r'<link[^>]*href="([^"]+)"', html)
    assert "/static/vendor/bpmn-js/bpmn-navigated-viewer.production.min.js" in scripts
    assert "/static/vendor/bpmn-js/diagram-js.css" in styles
    assert all(url.startswith("/static/") for url in scripts + styles), "no CDN"
    assert f'data-diagram-url="/cases/{case.id}/diagram"' in html
    for url in scripts + styles:
        assert client.get(url).status_code == 200, url


def test_duplicate_report_links_both_cases(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    first = registered_case(app_db)
    second = start_report(app_db, "ganjingzi1", location="三号车间 东侧 配电箱")
    complete(
        app_db,
        "ganjingzi1",
        second,
        "register_report",
        {"decision": "重复报告", "duplicate_of": first.case_number, **OPINION},
    )
    app_db.commit()

    second_page = page_of(client, auth, "ganjingzi1", second)
    related = second_page[second_page.index('id="related-cases"') :]
    assert "重复于" in related and f'href="/cases/{first.id}"' in related
    assert first.case_number is not None and first.case_number in related

    first_page = client.get(f"/cases/{first.id}").get_data(as_text=True)
    related = first_page[first_page.index('id="related-cases"') :]
    assert "被重复报告" in related and f'href="/cases/{second.id}"' in related


def test_case_without_links_has_no_related_section(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = registered_case(app_db)
    assert 'id="related-cases"' not in page_of(client, auth, "ganjingzi1", case)


def test_identity_number_typed_into_an_opinion_is_masked(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = start_report(app_db, "ganjingzi1")
    complete(
        app_db,
        "ganjingzi1",
        case,
        "register_report",
        {"decision": "受理", "opinion": "报告人身份证号 210211196803150130，已核对。"},
    )
    app_db.commit()
    html = page_of(client, auth, "ganjingzi1", case)
    assert "210211196803150130" not in html
    assert "已核对" in row(html[html.index('id="timeline"') :], "register_report")


def test_completed_case_shows_no_open_task(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case = triaged_case(app_db)
    complete(
        app_db,
        "ganjingzi1",
        case,
        "verify",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": "不属实",
            "hazard_level": "一般",
            "reporter_responsible": "false",
            "evidence": "现场核查，配电箱完好。",
            "opinion": "经核查不属实。",
        },
    )
    complete(
        app_db,
        "ganjingzi1",
        case,
        "feedback_close",
        {"feedback_date": "2026-12-03", "feedback_channel": "电话", "feedback_content": "已告知处理结果。", **OPINION},
    )
    app_db.commit()
    html = page_of(client, auth, "ganjingzi1", case)
    assert "已办结" in html and "没有待办环节" in html
    auth.login("ganjingzi1")
    data = client.get(f"/cases/{case.id}/diagram").get_json()
    assert data["current"] == []
    assert data["completed"][-2:] == ["verify", "feedback_close"]
    assert app_db.scalar(select(ProcessInstance.status).where(ProcessInstance.id == case.id)) == "completed"
