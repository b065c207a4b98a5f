"""The public hazard-report page and the mobile-app endpoint (issue #3 §2): workers without accounts."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.workflow_helpers import ENTERPRISE_USCC, user
from webapp import csrf, public_api
from workflows.attachments import JPEG, PNG
from workflows.db import utcnow
from workflows.engine.deployment import latest_version
from workflows.engine.runtime import new_workflow
from workflows.inbox import InboxFilter, View, near_due_limit, task_page
from workflows.models import Attachment, Enterprise, HazardReport, ProcessInstance, Role, TaskIndexEntry, User
from workflows.operations import start_form
from workflows.organisation import set_password
from workflows.passwords import check_password
from workflows.public_intake import INTAKE_FORM, PUBLIC_CHANNEL, SERVICE_USERNAME, ensure_service_account
from workflows.routing import load_routing, task_actions

NEW_USCC = "91210211MA0Q9X7Y1F"  # valid, and no demo enterprise has it
RECEIPT_PATH = re.compile(r"/report/receipt/([^/?#]+)$")


def image(kind: str, size: tuple[int, int] = (12, 8), color: str = "orange") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=kind)
    return buffer.getvalue()


def noisy_png(side: int) -> bytes:
    """A PNG that does not compress: about 3 * side² bytes."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), hashlib.shake_256(b"noise").digest(3 * side * side)).save(buffer, "PNG")
    return buffer.getvalue()


def form_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "enterprise_uscc": ENTERPRISE_USCC,
        "enterprise_name": "",
        "enterprise_district_code": "",
        "location": "二号库房西门叉车通道",
        "category": "物的不安全状态",
        "description": "叉车通道照明损坏，夜班时看不清行人，已有险情。",
        "possible_consequence": "车辆伤害",
        "reporter.name": "王秀兰",
        "reporter.mobile": "13904112345",
        "reporter.resident_id": "",
        "reporter.anonymous": "false",
        "reporter.employee_of_reported_unit": "true",
    }
    fields.update(overrides)
    return fields


def post_report(
    client: FlaskClient, fields: dict[str, str], photos: Sequence[tuple[bytes, str]] = (), address: str = "10.0.0.1"
) -> TestResponse:
    payload: dict[str, Any] = dict(fields)
    payload["photos"] = [(io.BytesIO(data), name) for data, name in photos]
    return client.post(
        "/report", data=payload, content_type="multipart/form-data", environ_base={"REMOTE_ADDR": address}
    )


@pytest.fixture
def upload_dir(tmp_path: Path) -> Path:
    return tmp_path / "uploads"


@pytest.fixture
def public_app(app: Flask, upload_dir: Path) -> Flask:
    app.config.update(UPLOAD_DIR=str(upload_dir), PUBLIC_REPORTS_PER_HOUR=2)
    # Until webapp/__init__.py registers the mobile-app blueprint, register it here the same way.
    if "public_api" not in app.blueprints:
        csrf.exempt(public_api.bp)
        app.register_blueprint(public_api.bp)
    return app


@pytest.fixture
def worker(public_app: Flask) -> FlaskClient:
    """A browser with no account."""
    return public_app.test_client()


def counts(db: Session) -> tuple[int, int]:
    db.expire_all()
    instances = db.scalar(select(func.count()).select_from(ProcessInstance)) or 0
    attachments = db.scalar(select(func.count()).select_from(Attachment)) or 0
    return instances, attachments


def files_in(directory: Path) -> list[Path]:
    return sorted(path for path in directory.rglob("*") if path.is_file()) if directory.exists() else []


def receipt_of(response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    match = RECEIPT_PATH.search(response.headers["Location"])
    assert match, response.headers["Location"]
    return match.group(0)


def queue_numbers(db: Session, username: str) -> set[str]:
    now = utcnow()
    page = task_page(db, user(db, username), View.QUEUE, InboxFilter(), now=now, near_limit=near_due_limit(now))
    return {entry.case_number for entry in page.items if entry.bpmn_id == "register_report"}


def field_error(html: str, field: str) -> str:
    block = re.search(rf'data-field="{re.escape(field)}">(.*?)</div>', html, re.S)
    assert block, f"no field {field}"
    error = re.search(r'class="field-error"[^>]*>([^<]*)<', block.group(1))
    assert error, f"no error shown for {field}"
    return error.group(1)


def test_worker_files_a_report_with_photos_and_gets_only_a_receipt(
    worker: FlaskClient, app_db: Session, upload_dir: Path
) -> None:
    page = worker.get("/report")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert '<input type="file" id="f-photos" name="photos" multiple accept="image/jpeg,image/png">' in html
    assert '<option value="210211" >甘井子区总工会（210211）</option>' in html
    assert 'name="channel"' not in html

    jpeg, png = image("JPEG"), image("PNG", color="blue")
    response = post_report(worker, form_fields(), [(jpeg, "叉车通道.jpg"), (png, "DCIM/照明.png")])
    receipt = worker.get(receipt_of(response))
    assert receipt.status_code == 200
    assert receipt.headers["Cache-Control"] == "no-store"
    text = receipt.get_data(as_text=True)
    number = re.search(r'class="receipt-number">([^<]+)<', text)
    assert number
    case = app_db.scalar(select(ProcessInstance).where(ProcessInstance.case_number == number.group(1)))
    assert case is not None and case.process_key == "hazard_report"
    # Nothing of other reports, nor of this one beyond its number.
    others = set(app_db.scalars(select(ProcessInstance.case_number))) - {case.case_number}
    assert others and not any(other in text for other in others if other)
    assert "王秀兰" not in text and "叉车通道照明" not in text

    starter = app_db.get(User, case.started_by_id)
    assert starter is not None and (starter.username, starter.role) == (SERVICE_USERNAME, Role.SERVICE)
    report = app_db.scalar(select(HazardReport).where(HazardReport.instance_id == case.id))
    assert report is not None and report.channel == PUBLIC_CHANNEL and report.reporter_name == "王秀兰"
    assert case.case_number in queue_numbers(app_db, "ganjingzi2")
    assert case.case_number not in queue_numbers(app_db, "zhongshan1")

    stored = app_db.scalars(select(Attachment).where(Attachment.instance_id == case.id).order_by(Attachment.id)).all()
    assert [(item.filename, item.content_type, item.task_id, item.uploaded_by_id) for item in stored] == [
        ("叉车通道.jpg", JPEG, None, None),
        ("照明.png", PNG, None, None),
    ]
    for item, data in zip(stored, (jpeg, png), strict=True):
        assert item.sha256 == hashlib.sha256(data).hexdigest() and item.size == len(data)
        assert (upload_dir / item.sha256[:2] / item.sha256).read_bytes() == data
    assert len(files_in(upload_dir)) == 2


@pytest.mark.parametrize(
    ("photos", "message"),
    [
        ([(image("GIF"), "动图.gif")], "现场照片：文件“动图.gif”不是 JPEG 或 PNG 图片"),
        (
            [(image("JPEG"), "ok.jpg"), ("只是文字".encode(), "伪装.jpg")],
            "现场照片：文件“伪装.jpg”不是 JPEG 或 PNG 图片",
        ),
        ([(noisy_png(64), "大图.png")], "现场照片：文件“大图.png”超过 8 KB"),
        ([(image("PNG", color=color), f"{color}.png") for color in ("red", "green", "blue")], "最多上传 2 个文件"),
    ],
    ids=["gif", "text-renamed-jpg", "too-big", "too-many"],
)
def test_refused_photos_leave_nothing_behind(
    worker: FlaskClient, public_app: Flask, app_db: Session, upload_dir: Path, photos: Any, message: str
) -> None:
    public_app.config.update(PUBLIC_PHOTO_MAX_BYTES=8 * 1024, PUBLIC_PHOTO_MAX_COUNT=2)
    before = counts(app_db)
    response = post_report(worker, form_fields(location="锅炉房北侧"), photos)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, "photos")
    assert 'value="锅炉房北侧"' in html
    assert "请重新选择" in html
    assert counts(app_db) == before
    assert files_in(upload_dir) == []


def test_invalid_intake_is_shown_again_with_chinese_errors_and_typed_values(
    worker: FlaskClient, app_db: Session
) -> None:
    before = counts(app_db)
    fields = form_fields(**{"enterprise_uscc": "91210211MA0Q3R5K71", "reporter.mobile": "", "category": "环境因素"})
    response = post_report(worker, fields, [(image("JPEG"), "a.jpg")])
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "enterprise_uscc").startswith("被报告企业统一社会信用代码：")
    assert field_error(html, "reporter.mobile") == "报告人手机号：必填"
    assert 'value="91210211MA0Q3R5K71"' in html and 'value="王秀兰"' in html
    assert '<option value="环境因素" selected>' in html
    assert 'name="reporter.employee_of_reported_unit" value="true" checked' in html
    assert "请重新选择" in html
    assert counts(app_db) == before


def test_enterprise_not_on_file_needs_its_name_and_district(worker: FlaskClient, app_db: Session) -> None:
    response = post_report(worker, form_fields(enterprise_uscc=NEW_USCC))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "请填写企业名称" in field_error(html, "enterprise_name")
    assert "区级工会代码" in field_error(html, "enterprise_district_code")

    fields = form_fields(
        enterprise_uscc=NEW_USCC, enterprise_name="大连新港物流有限公司", enterprise_district_code="210211"
    )
    receipt = worker.get(receipt_of(post_report(worker, fields)))
    number = re.search(r'class="receipt-number">([^<]+)<', receipt.get_data(as_text=True))
    assert number and number.group(1) in queue_numbers(app_db, "ganjingzi2")
    enterprise = app_db.scalar(select(Enterprise).where(Enterprise.uscc == NEW_USCC))
    assert enterprise is not None and enterprise.supervising_unit.code == "210211"


def test_rate_limit_per_address(worker: FlaskClient, public_app: Flask, app_db: Session) -> None:
    # A refused submission does not use up the allowance.
    assert post_report(worker, form_fields(**{"reporter.mobile": "12"})).status_code == 422
    for location in ("一号仓库", "二号仓库"):
        receipt_of(post_report(worker, form_fields(location=location)))
    before = counts(app_db)
    over = post_report(worker, form_fields(location="三号仓库"))
    assert over.status_code == 429
    assert "提交过于频繁" in over.get_data(as_text=True)
    assert over.headers["Retry-After"] == "3600"
    # The forwarded-for header is the client's own claim unless a trusted proxy is configured.
    spoofed = worker.post(
        "/report",
        data=form_fields(location="三号仓库"),
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
        headers={"X-Forwarded-For": "192.0.2.7"},
    )
    assert spoofed.status_code == 429
    assert counts(app_db) == before

    receipt_of(post_report(worker, form_fields(location="三号仓库"), address="10.0.0.2"))
    public_app.config["TRUST_PROXY"] = 1
    proxied = worker.post(
        "/report",
        data=form_fields(location="四号仓库"),
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
        headers={"X-Forwarded-For": "10.0.0.1, 198.51.100.9"},
    )
    receipt_of(proxied)


def test_receipt_page_needs_the_signed_token(worker: FlaskClient, public_app: Flask, app_db: Session) -> None:
    path = receipt_of(post_report(worker, form_fields()))
    assert worker.get(path).status_code == 200
    token = path.rsplit("/", 1)[1]
    other_case = app_db.scalar(select(ProcessInstance.case_number).order_by(ProcessInstance.id).limit(1))
    assert other_case
    assert worker.get(f"/report/receipt/{other_case}").status_code == 404
    assert worker.get(f"/report/receipt/{token[:-2]}xx").status_code == 404
    with public_app.app_context():
        public_app.config["SECRET_KEY"] = "another secret"
        assert worker.get(path).status_code == 404


def test_service_account_cannot_sign_in_and_holds_no_tasks(
    worker: FlaskClient, public_app: Flask, app_db: Session
) -> None:
    receipt_of(post_report(worker, form_fields()))
    service = user(app_db, SERVICE_USERNAME)
    assert service.role == Role.SERVICE and service.org_unit.code == "210200"
    set_password(app_db, service, "known-password-123")
    app_db.commit()
    login = worker.post("/login", data={"username": SERVICE_USERNAME, "password": "known-password-123"})
    assert login.status_code == 200 and "用户名或密码错误" in login.get_data(as_text=True)
    assert worker.get("/", follow_redirects=False).status_code in (302, 303)

    now = utcnow()
    for view in (View.MINE, View.QUEUE, View.DONE):
        page = task_page(app_db, service, view, InboxFilter(), now=now, near_limit=near_due_limit(now))
        assert page.total == 0
    routing = load_routing()
    assert all(not task_actions(service, entry, routing) for entry in app_db.scalars(select(TaskIndexEntry)))


def test_service_account_is_created_once_and_follows_the_configured_unit(world: Session) -> None:
    first = ensure_service_account(world, "210200")
    assert (first.display_name, first.role, first.department_id) == ("公众上报", Role.SERVICE, None)
    assert not check_password(first.password_hash, "") and not check_password(first.password_hash, "demo12345")
    again = ensure_service_account(world, "210200")
    assert again.id == first.id
    moved = ensure_service_account(world, "210000")
    assert moved.id == first.id and moved.org_unit.code == "210000"
    assert world.scalar(select(func.count()).select_from(User).where(User.username == SERVICE_USERNAME)) == 1


def test_public_form_is_the_start_form_of_the_hazard_process(world: Session) -> None:
    version = latest_version(world, "hazard_report")
    assert version is not None
    form = start_form(new_workflow(version))
    assert form is not None and form.name == INTAKE_FORM


def api_post(client: FlaskClient, address: str = "10.1.0.1", **kwargs: Any) -> TestResponse:
    return client.post("/api/v1/public/hazard-reports", environ_base={"REMOTE_ADDR": address}, **kwargs)


def intake_json(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "enterprise_uscc": ENTERPRISE_USCC,
        "location": "装卸平台",
        "category": "管理缺陷",
        "description": "装卸平台无人指挥，车辆倒车时职工在后方作业。",
        "reporter": {"mobile": "13904119876", "anonymous": True},
    }
    data.update(overrides)
    return data


def test_api_files_reports_from_the_mobile_app(worker: FlaskClient, app_db: Session, upload_dir: Path) -> None:
    plain = api_post(worker, json={"data": intake_json()})
    assert plain.status_code == 201, plain.get_json()
    number = plain.get_json()["receipt"]
    assert number in queue_numbers(app_db, "ganjingzi2")

    jpeg = image("JPEG", color="green")
    with_photo = api_post(
        worker,
        address="10.1.0.2",
        data={"data": json.dumps(intake_json(location="二号装卸平台")), "photos": [(io.BytesIO(jpeg), "平台.jpg")]},
        content_type="multipart/form-data",
    )
    assert with_photo.status_code == 201, with_photo.get_json()
    case = app_db.scalar(select(ProcessInstance).where(ProcessInstance.case_number == with_photo.get_json()["receipt"]))
    assert case is not None
    (attachment,) = app_db.scalars(select(Attachment).where(Attachment.instance_id == case.id))
    assert attachment.sha256 == hashlib.sha256(jpeg).hexdigest()
    assert (upload_dir / attachment.sha256[:2] / attachment.sha256).read_bytes() == jpeg


def test_api_answers_422_with_field_errors_and_429_over_the_limit(
    worker: FlaskClient, app_db: Session, upload_dir: Path
) -> None:
    before = counts(app_db)
    bad = api_post(worker, json={"data": intake_json(reporter={"anonymous": False, "mobile": "123"})})
    assert bad.status_code == 422
    errors = bad.get_json()["errors"]
    assert errors["reporter.mobile"].startswith("报告人手机号：") and errors["reporter.name"] == "报告人姓名：必填"
    assert api_post(worker, json={"intake": intake_json()}).get_json() == {
        "errors": {"data": "data：应为隐患报告登记表的 JSON 对象"}
    }
    gif = api_post(
        worker,
        data={"data": json.dumps(intake_json()), "photos": [(io.BytesIO(image("GIF")), "x.gif")]},
        content_type="multipart/form-data",
    )
    assert gif.status_code == 422
    assert gif.get_json()["errors"] == {"photos": "现场照片：文件“x.gif”不是 JPEG 或 PNG 图片"}
    assert counts(app_db) == before and files_in(upload_dir) == []

    for location in ("东门", "西门"):
        assert api_post(worker, json={"data": intake_json(location=location)}).status_code == 201
    over = api_post(worker, json={"data": intake_json(location="南门")})
    assert over.status_code == 429 and "提交过于频繁" in over.get_json()["error"]


def test_csrf_is_enforced_on_the_html_form_but_not_on_the_api(worker: FlaskClient, public_app: Flask) -> None:
    public_app.config["WTF_CSRF_ENABLED"] = True
    assert post_report(worker, form_fields()).status_code == 400
    page = worker.get("/report").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    receipt_of(post_report(worker, {**form_fields(), "csrf_token": token.group(1)}))
    assert api_post(worker, json={"data": intake_json()}).status_code == 201
