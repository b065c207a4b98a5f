"""No user text is rendered unescaped (issue #5).

UnionFlow has no Markdown and no template marks user text safe (no `|safe`, no `Markup(`, no `autoescape false` in
webapp/: checked below), so Jinja's autoescaping covers every page. This proves it end to end with the two classic
payloads, a script element and an attribute break-out, typed where people type: a public report's location (which
becomes the case title) and description, an opinion on a step, and a comment. Each page shows the ones it lists
(the case page: title, opinion, comment; the next holder's task page: all four; the inbox: the title; the approval
record's HTML and the PDF printed from it: title, opinion, comment), escaped, and never the markup. In the PDF
the payload is printed literally: WeasyPrint received text, not an element it would have swallowed.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import ENTERPRISE_USCC
from webapp.records import RECORD_LOCALE
from workflows.models import ProcessInstance, TaskIndexEntry, TaskStatus
from workflows.records import approval_record
from workflows.routing import load_routing

SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '" onmouseover="alert(2)'
WEBAPP = Path(__file__).resolve().parent.parent / "webapp"

LOCATION = f"三号车间{SCRIPT}"
DESCRIPTION = f"配电箱门损坏{BREAKOUT}，{SCRIPT}带电部位裸露。"
OPINION = f"同意受理{SCRIPT}{BREAKOUT}"
COMMENT = f"请注意{BREAKOUT}{SCRIPT}"


def test_no_template_or_view_marks_text_safe() -> None:
    unsafe = re.compile(r"\|\s*safe\b|Markup\(|autoescape\s+false|Markup\b", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(WEBAPP)}:{number}"
        for path in sorted([*WEBAPP.rglob("*.html"), *WEBAPP.rglob("*.py")])
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if unsafe.search(line)
    ]
    assert offenders == []


def escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;")


def assert_escaped(html: str, where: str, *shown: str) -> None:
    """No payload as markup anywhere in `html`, and each text in `shown` present, escaped."""
    assert SCRIPT not in html, f"{where}: a script element from user text"
    assert BREAKOUT not in html and 'onmouseover="alert' not in html, f"{where}: an attribute break-out"
    for text in shown:
        assert escaped(text) in html, f"{where}: {text!r} is not shown (escaped)"


@pytest.fixture
def hostile_case(app: Flask, client: FlaskClient, auth: AuthActions, app_db: Session) -> ProcessInstance:
    """A public report with hostile location and description, registered with a hostile opinion and commented."""
    report = {
        "enterprise_uscc": ENTERPRISE_USCC,
        "location": LOCATION,
        "category": "物的不安全状态",
        "description": DESCRIPTION,
        "possible_consequence": "触电",
        "reporter.name": "王秀兰",
        "reporter.mobile": "13904112345",
        "reporter.anonymous": "false",
        "reporter.employee_of_reported_unit": "true",
    }
    filed = client.post("/report", data=report, content_type="multipart/form-data")
    assert filed.status_code == 303, filed.get_data(as_text=True)
    case = app_db.scalars(select(ProcessInstance).order_by(ProcessInstance.id.desc())).first()
    assert case is not None and SCRIPT in case.title

    register = app_db.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None
    auth.login("ganjingzi2")  # the report's district queue: 甘井子区总工会
    done = client.post(f"/tasks/{register.task_id}", data={"decision": "受理", "opinion": OPINION})
    assert done.status_code in (302, 303), done.get_data(as_text=True)
    commented = client.post(f"/cases/{case.id}/comments", data={"body": COMMENT})
    assert commented.status_code in (302, 303), commented.get_data(as_text=True)
    auth.logout()
    return case


def test_case_page_task_page_and_inbox_show_user_text_escaped(
    hostile_case: ProcessInstance, client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    triage = app_db.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == hostile_case.id,
            TaskIndexEntry.bpmn_id == "triage",
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    assert triage is not None
    auth.login("jingji1")  # the city's triage: the next holder reads the district's opinion and the comment
    case_page = client.get(f"/cases/{hostile_case.id}").get_data(as_text=True)
    assert_escaped(case_page, "case page", LOCATION, OPINION, COMMENT)
    task_page = client.get(f"/tasks/{triage.task_id}").get_data(as_text=True)
    assert_escaped(task_page, "task page", LOCATION, DESCRIPTION, OPINION, COMMENT)
    inbox = client.get("/?view=queue").get_data(as_text=True)
    assert_escaped(inbox, "inbox", LOCATION)  # the inbox lists the case title (enterprise·location)
    search = client.get("/?view=queue&q=" + "<script>").get_data(as_text=True)
    assert_escaped(search, "inbox search", LOCATION)
    assert 'value="&lt;script&gt;"' in search  # the search box echoes the query escaped as well


def test_approval_record_html_and_pdf_carry_the_text_not_the_markup(
    hostile_case: ProcessInstance, app: Flask, client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    from flask import render_template
    from flask_babel import force_locale

    record = approval_record(app_db, hostile_case, routing=load_routing())
    with app.test_request_context(), force_locale(RECORD_LOCALE):
        html = render_template("record/record.html", record=record, verify_url="http://x/verify/0", qr="data:,")
    assert_escaped(html, "record HTML", LOCATION, OPINION, COMMENT)

    auth.login("ganjingzi2")
    answer = client.get(f"/cases/{hostile_case.id}/record.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    text = "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(answer.data)).pages)
    flat = re.sub(r"\s+", "", text)
    # Printed literally, as text (tables wrap lines: compare without white space).
    assert re.sub(r"\s+", "", SCRIPT) in flat and "onmouseover=" in flat, text[:2000]
