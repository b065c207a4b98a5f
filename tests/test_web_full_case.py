"""The README's promise, through the web UI alone: a grassroots union files a hazard report, the district, the
city's departments and finance carry it to closure, and its approval record prints."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import intake
from workflows.db import utcnow
from workflows.models import InstanceStatus, ProcessInstance

OPINION = "经研究，同意。"
STEPS: list[tuple[str, str, dict[str, str]]] = [
    ("ganjingzi1", "登记查重", {"decision": "受理", "opinion": "同意受理，转市总研判。"}),
    ("jingji1", "分级研判", {"triage_level": "一般", "opinion": "一般隐患，请区总核查。"}),
    (
        "ganjingzi1",
        "现场核查",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": "属实",
            "hazard_level": "一般",
            "reporter_responsible": "false",
            "evidence": "现场照片三张，配电箱门确已损坏。",
            "opinion": "核查属实。",
        },
    ),
    (
        "ganjingzi1",
        "下达整改通知",
        {
            "rectification_mode": "限期整改",
            "notice_number": "甘工整改〔2026〕3号",
            "rectification_deadline": (utcnow() + timedelta(days=14)).date().isoformat(),
            "requirements": "更换配电箱门并加锁，设置警示标识。",
            "responsible_person": "安全科王科长",
        },
    ),
    ("ganjingzi1", "登记企业整改回复", {"reply_date": "2026-11-28", "measures": "已更换配电箱门并加锁。"}),
    (
        "ganjingzi2",
        "整改复查",
        {
            "reinspection_date": "2026-12-01",
            "reinspection_result": "整改合格",
            "findings": "复查确认已整改。",
            "opinion": OPINION,
        },
    ),
    ("jingji1", "奖励审批", {"decision": "同意", "reward_amount": "500.00", "opinion": "同意奖励500元。"}),
    (
        "caiwu1",
        "奖励通知与发放",
        {
            "notice_date": "2026-12-02",
            "payee_name": "李大勇",
            "bank_name": "中国农业银行大连甘井子支行",
            "card_number": "6228480040000123451",
            "paid_amount": "500",
            "paid_date": "2026-12-02",
            "voucher_number": "付2026-1201",
        },
    ),
    (
        "ganjingzi1",
        "反馈报告人并办结",
        {
            "feedback_date": "2026-12-03",
            "feedback_channel": "电话",
            "feedback_content": "已告知处理结果。",
            "opinion": "办结。",
        },
    ),
]


def sign_in_as(client: FlaskClient, auth: AuthActions, username: str) -> None:
    client.post("/logout")
    assert auth.login(username).status_code == 302, username


def take_step(client: FlaskClient, case: ProcessInstance, title: str, data: dict[str, str]) -> None:
    queue = client.get(f"/?view=queue&q={case.case_number}").get_data(as_text=True)
    found = re.search(r'<tr data-task-id="([^"]+)">(?:(?!</tr>).)*?' + re.escape(title), queue, re.S)
    assert found is not None, f"{title} not in the queue"
    task_id = found.group(1)
    assert client.post(f"/tasks/{task_id}/claim").status_code == 302
    page = client.get(f"/tasks/{task_id}").get_data(as_text=True)
    for name in data:
        assert f'name="{name}"' in page, f"{title}: the form has no field {name}"
    done = client.post(f"/tasks/{task_id}", data=data)
    assert done.status_code == 302, f"{title}: {done.get_data(as_text=True)[-2000:]}"


def test_a_hazard_report_from_filing_to_closure_and_its_printed_record(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    sign_in_as(client, auth, "haichang_gonghui")
    data = intake()
    reporter = data.pop("reporter")
    filed = client.post(
        "/start/hazard_report", data={**data, **{f"reporter.{key}": value for key, value in reporter.items()}}
    )
    assert filed.status_code == 302
    case = app_db.scalar(select(ProcessInstance).order_by(ProcessInstance.id.desc()))
    assert case is not None

    for username, title, form in STEPS:
        sign_in_as(client, auth, username)
        take_step(client, case, title, form)

    app_db.expire_all()
    assert app_db.get(ProcessInstance, case.id).status == InstanceStatus.COMPLETED  # type: ignore[union-attr]

    sign_in_as(client, auth, "haichang_gonghui")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "已办结" in page
    pdf = client.get(f"/cases/{case.id}/record.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    compact = re.sub(r"\s+", "", text)
    for _username, title, _form in STEPS:
        assert title in compact, title
    assert "同意奖励500元。" in compact and case.case_number in compact
    assert "6228480040000123451" not in compact and "210211196803150130" not in compact
