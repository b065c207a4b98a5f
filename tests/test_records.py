"""The approval record (审批表): its data and hash, the PDF, the URL fetcher and the verification page (issue #3 §4)."""

from __future__ import annotations

import hashlib
import io
import re
import socket
import uuid
from typing import Any

import pypdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

import forms
from tests.conftest import AuthActions
from tests.workflow_helpers import complete, start_report, user
from webapp import records as web_records
from workflows.models import ApprovalStep, Attachment, ProcessInstance
from workflows.records import (
    Verdict,
    approval_record,
    find_record_by_hash,
    record_matches,
    redact,
    register_issue,
    verify_record_hash,
)

REGISTER_OPINION = "同意受理，转市总研判"
TRIAGE_OPINION = "属一般隐患，请甘井子区总工会组织核查。"
RESIDENT_ID = "210211196803150130"  # the reporter's, from workflow_helpers.intake()
REPORTER_MOBILE = "13904111234"
HASH = re.compile(r"[0-9a-f]{64}")


def registered_and_triaged(session: Session) -> ProcessInstance:
    case = start_report(session, "ganjingzi1")
    complete(session, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": REGISTER_OPINION})
    complete(session, "jingji1", case, "triage", {"triage_level": "一般", "opinion": TRIAGE_OPINION})
    return case


def verify_step(session: Session, case: ProcessInstance) -> None:
    complete(
        session,
        "ganjingzi1",
        case,
        "verify",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": "属实",
            "hazard_level": "一般",
            "reporter_responsible": "false",
            "evidence": "现场照片三张，配电箱门确已损坏。",
            "opinion": "经现场核查，情况属实。",
        },
    )


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def footer_hash(text: str) -> str:
    found = re.search(r"记录哈希 ([0-9a-f]{64})", text)
    assert found, text
    return found.group(1)


# --- The record as data (no Flask) ---------------------------------------------------------------------------------


def test_record_lists_every_step_with_chinese_roles_units_and_departments(world: Session) -> None:
    case = registered_and_triaged(world)
    record = approval_record(world, case)

    assert record.document_number == f"审批表 {case.case_number}"
    assert (record.case_number, record.status_label) == (case.case_number, "办理中")
    assert record.process_title == "安全隐患报告"
    assert record.started_by == user(world, "ganjingzi1").display_name
    assert record.completed_at == ""
    assert [(s.number, s.title, s.decision, s.opinion) for s in record.steps] == [
        (1, "发起：安全隐患报告", "", ""),
        (2, "登记查重", "受理", REGISTER_OPINION),
        (3, "分级研判", "一般", TRIAGE_OPINION),
    ]
    triage = record.steps[2]
    assert (triage.role, triage.unit, triage.department) == ("经办人", "大连市总工会", "经济技术和劳动保护部")
    assert (record.steps[1].unit, record.steps[1].department) == ("甘井子区总工会", "")
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}", triage.time)


def test_record_hash_is_sha256_of_the_canonical_json_of_the_printed_fields(world: Session) -> None:
    case = registered_and_triaged(world)
    record = approval_record(world, case)
    payload = record.payload()

    assert record.record_hash == hashlib.sha256(forms.canonical_json(payload).encode("utf-8")).hexdigest()
    assert payload["case"]["case_number"] == case.case_number
    assert [step["opinion"] for step in payload["steps"]] == ["", REGISTER_OPINION, TRIAGE_OPINION]
    assert approval_record(world, case).record_hash == record.record_hash  # stable while nothing changes


def test_hash_changes_with_a_new_step_or_attachment(world: Session) -> None:
    case = registered_and_triaged(world)
    before = approval_record(world, case)
    world.add(
        Attachment(
            instance_id=case.id,
            filename="配电箱现场.jpg",
            content_type="image/jpeg",
            size=123456,
            sha256="ab" * 32,
        )
    )
    world.flush()
    with_photo = approval_record(world, case)
    assert [(a.filename, a.size, a.sha256) for a in with_photo.attachments] == [("配电箱现场.jpg", 123456, "ab" * 32)]
    assert with_photo.record_hash != before.record_hash

    verify_step(world, case)
    assert approval_record(world, case).record_hash != with_photo.record_hash
    assert record_matches(world, case, approval_record(world, case).record_hash.upper())
    assert not record_matches(world, case, before.record_hash)


def test_identity_and_card_numbers_typed_into_an_opinion_are_masked() -> None:
    text = f"举报人身份证{RESIDENT_ID}，卡号6228480040000123451，文号20261120。"
    assert redact(text) == "举报人身份证210211********0130，卡号6228***********3451，文号20261120。"
    # A run of digits that is not a valid identity or card number is left alone.
    assert redact("编号123456789012345678") == "编号123456789012345678"


def test_verification_tells_current_outdated_and_unknown_apart(world: Session) -> None:
    case = registered_and_triaged(world)
    record = approval_record(world, case)
    assert verify_record_hash(world, record.record_hash).verdict is Verdict.UNKNOWN  # never printed

    assert register_issue(world, record, actor_id=user(world, "ganjingzi1").id)
    assert not register_issue(world, record)  # once per hash
    found = find_record_by_hash(world, record.record_hash)
    assert found is not None and found.case_number == case.case_number

    verify_step(world, case)
    outdated = verify_record_hash(world, record.record_hash)
    assert outdated.verdict is Verdict.OUTDATED
    assert outdated.record is not None and outdated.record.case_number == case.case_number
    assert find_record_by_hash(world, record.record_hash) is None
    assert verify_record_hash(world, "0" * 64).verdict is Verdict.UNKNOWN
    assert verify_record_hash(world, "not a hash").verdict is Verdict.UNKNOWN


# --- The PDF through the web -----------------------------------------------------------------------------------------


def test_record_pdf_prints_steps_opinions_footer_and_hash(
    app_db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    case = registered_and_triaged(app_db)
    app_db.commit()
    auth.login("ganjingzi1")

    response = client.get(f"/cases/{case.id}/record.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("inline;")
    assert f"filename*=UTF-8''%E5%AE%A1%E6%89%B9%E8%A1%A8-{case.case_number}.pdf" in disposition
    pages = pdf_pages(response.data)
    assert len(pages) == 1
    text = pages[0]
    for expected in ("安全隐患报告审批表", f"审批表 {case.case_number}", "登记查重", "分级研判", "经办人"):
        assert expected in text
    assert REGISTER_OPINION in text
    assert "属一般隐患" in text  # long opinions wrap inside their cell
    assert "经济技术" in text  # 经济技术和劳动保护部, wrapped in its narrow column
    assert "第 1 页 / 共 1 页" in text
    assert "附件" in text and "无" in text
    record_hash = approval_record(app_db, case).record_hash
    assert footer_hash(text) == record_hash
    assert f"记录哈希（SHA-256）：{record_hash}" in text
    assert "http://localhost/verify/" in text
    # The reporter's identity number and mobile are in the case data, never in the record.
    assert RESIDENT_ID not in text and REPORTER_MOBILE not in text


def test_verify_page_says_whether_the_printed_record_is_current(
    app_db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    case = registered_and_triaged(app_db)
    app_db.commit()
    auth.login("ganjingzi1")
    old_hash = footer_hash(pdf_pages(client.get(f"/cases/{case.id}/record.pdf").data)[0])
    auth.logout()

    page = client.get(f"/verify/{old_hash}")  # public, no sign-in
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "核验通过" in body and 'data-verdict="current"' in body
    number = str(case.case_number)
    assert number in body and "安全隐患报告" in body and "办理中" in body
    assert "<dd>3</dd>" in body  # number of steps
    for personal in ("李大勇", "马晓东", REGISTER_OPINION, "三号车间"):
        assert personal not in body

    made_up = client.get(f"/verify/{'0' * 64}").get_data(as_text=True)
    assert "核验未通过" in made_up and 'data-verdict="unknown"' in made_up and "没有与该哈希相符" in made_up
    assert number not in made_up

    verify_step(app_db, case)
    app_db.commit()
    changed = client.get(f"/verify/{old_hash}").get_data(as_text=True)
    assert "核验未通过" in changed and 'data-verdict="outdated"' in changed and "已发生变化" in changed

    auth.login("ganjingzi1")
    new_text = pdf_pages(client.get(f"/cases/{case.id}/record.pdf").data)[0]
    new_hash = footer_hash(new_text)
    assert new_hash != old_hash and "现场核查" in new_text
    current = client.get(f"/verify/{new_hash}").get_data(as_text=True)
    assert 'data-verdict="current"' in current and "<dd>4</dd>" in current


def test_record_pdf_is_hidden_from_other_districts_and_anonymous_visitors(
    app_db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    case = registered_and_triaged(app_db)
    app_db.commit()

    anonymous = client.get(f"/cases/{case.id}/record.pdf")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]

    auth.login("zhongshan1")
    assert client.get(f"/cases/{case.id}/record.pdf").status_code == 404
    assert client.get("/cases/999999/record.pdf").status_code == 404


def test_a_long_record_spans_pages_with_numbered_footers_and_repeated_headers(
    app_db: Session, client: FlaskClient, auth: AuthActions
) -> None:
    case = registered_and_triaged(app_db)
    official = user(app_db, "ganjingzi1")
    for number in range(1, 41):
        app_db.add(
            ApprovalStep(
                instance_id=case.id,
                task_id=str(uuid.uuid4()),
                bpmn_id="verify",
                step_title=f"补充核查{number}",
                actor_id=official.id,
                actor_name=official.display_name,
                actor_role=official.role,
                org_unit_id=official.org_unit_id,
                org_unit_name=official.org_unit.name,
                department_code=None,
                decision="属实",
                opinion=f"第{number}次补充核查：现场复核配电箱及周边线路，情况与举报一致。",
                data={},
                data_hash="0" * 64,
            )
        )
    app_db.commit()
    auth.login("ganjingzi1")

    pages = pdf_pages(client.get(f"/cases/{case.id}/record.pdf").data)

    total = len(pages)
    assert total >= 3
    last_step_page = next(n for n, text in enumerate(pages, start=1) if "第40次补充核查" in text)
    assert "补充核查40" in pages[last_step_page - 1]
    for number, text in enumerate(pages, start=1):
        assert f"第 {number} 页 / 共 {total} 页" in text
        assert footer_hash(text) == approval_record(app_db, case).record_hash
        if number <= last_step_page:  # the sections after the steps table may start a page of their own
            assert "审批意见" in text and "审批时间" in text  # the table header repeats on every page
    assert "流转记录" in "".join(pages[last_step_page - 1 :])


def test_render_record_pdf_for_the_api_uses_the_given_base_url_and_registers_the_hash(
    app: Flask, app_db: Session
) -> None:
    case = registered_and_triaged(app_db)
    app_db.commit()
    with app.test_request_context():
        pdf = web_records.render_record_pdf(app_db, case, "https://unionflow.example/")
    app_db.commit()

    text = "".join(pdf_pages(pdf))
    record_hash = approval_record(app_db, case).record_hash
    assert "https://unionflow.example/verify/" in text and footer_hash(text) == record_hash
    assert verify_record_hash(app_db, record_hash).verdict is Verdict.CURRENT


# --- The URL fetcher --------------------------------------------------------------------------------------------------


def test_fetcher_allows_only_static_files_and_data_uris() -> None:
    static_css = web_records.STATIC_DIR / "unionflow.css"
    assert web_records.static_path_for(static_css.as_uri()) == static_css
    assert web_records.static_path_for("data:image/png;base64,AAAA") is None
    for url in (
        "http://127.0.0.1:9/x.png",
        "https://example.com/font.woff2",
        "ftp://example.com/x",
        "file:///etc/passwd",
        web_records.STATIC_DIR.as_uri() + "/../records.py",  # out of static through ..
        web_records.STATIC_DIR.as_uri() + "/missing.png",
        "file://otherhost" + static_css.as_posix(),
    ):
        with pytest.raises(web_records.FetchRefused):
            web_records.static_path_for(url)


def test_pdf_renderer_never_fetches_an_external_url(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[str, bool]] = []
    original = web_records.static_path_for

    def spy(url: str) -> Any:
        try:
            result = original(url)
        except web_records.FetchRefused:
            asked.append((url, False))
            raise
        asked.append((url, True))
        return result

    connections: list[object] = []

    def no_network(self: socket.socket, address: object) -> None:
        connections.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(web_records, "static_path_for", spy)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    html = (
        '<html lang="zh-CN"><head><link rel="stylesheet" href="unionflow.css">'
        '<link rel="stylesheet" href="http://127.0.0.1:9/evil.css"></head>'
        '<body><p>外部图片</p><img src="http://127.0.0.1:9/x.png"><img src="file:///etc/hostname"></body></html>'
    )

    pdf = web_records.html_to_pdf(html)

    assert pdf.startswith(b"%PDF")
    assert "外部图片" in pdf_pages(pdf)[0]
    assert ("http://127.0.0.1:9/x.png", False) in asked
    assert ("http://127.0.0.1:9/evil.css", False) in asked
    assert ("file:///etc/hostname", False) in asked
    assert ((web_records.STATIC_DIR / "unionflow.css").as_uri(), True) in asked  # relative URLs resolve to static
    assert connections == []
