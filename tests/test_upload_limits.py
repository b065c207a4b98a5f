"""Upload and body limits on every endpoint that accepts a body (issue #5, webapp.edge).

Each upload endpoint accepts its files plus REQUEST_FORM_MAX_BYTES of form fields, every other endpoint the form
fields alone. A body over the limit is refused with 413 before any view runs: a Chinese page for the web, the
API's JSON error shape under /api/ (the public mobile-app endpoint included), and nothing is stored (no case, no
attachment row, no file). A file only a little over its per-file limit still reaches the view and is named in a
field error. Limits are lowered through the configuration so that the bodies stay small and the tests fast.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.conftest import AuthActions
from tests.workflow_helpers import ENTERPRISE_USCC, start_report, user
from webapp import create_app
from webapp import database as webapp_database
from webapp.edge import body_limit, largest_body
from workflows.models import Attachment, ProcessInstance
from workflows.tokens import create_token

KB = 1024
FILE_LIMIT = 4 * KB  # per file, on the case page, in the API and for each public photo
FORM_LIMIT = 8 * KB  # the form fields of one request
PHOTOS = 2
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 16


def jpeg(size: int) -> bytes:
    """Bytes a sniffer takes for a JPEG, `size` long."""
    return (JPEG + b"\x01" * size)[:size]


@pytest.fixture
def limited(app: Flask) -> Flask:
    app.config.update(
        CASE_UPLOAD_MAX_BYTES=FILE_LIMIT,
        PUBLIC_PHOTO_MAX_BYTES=FILE_LIMIT,
        PUBLIC_PHOTO_MAX_COUNT=PHOTOS,
        REQUEST_FORM_MAX_BYTES=FORM_LIMIT,
        PUBLIC_REPORTS_PER_HOUR=1000,
    )
    return app


@pytest.fixture
def case_id(app_db: Session) -> int:
    case = start_report(app_db, "ganjingzi1")
    app_db.commit()
    return case.id


def stored(db: Session, upload_dir: Path) -> tuple[int, int, list[Path]]:
    db.expire_all()
    cases = db.scalar(select(func.count()).select_from(ProcessInstance)) or 0
    attachments = db.scalar(select(func.count()).select_from(Attachment)) or 0
    files = sorted(path for path in upload_dir.rglob("*") if path.is_file()) if upload_dir.exists() else []
    return cases, attachments, files


def upload_dir(app: Flask) -> Path:
    return Path(app.config["UPLOAD_DIR"])


def assert_page_413(answer: TestResponse) -> None:
    assert answer.status_code == 413 and answer.mimetype == "text/html"
    text = answer.get_data(as_text=True)
    assert "文件过大" in text and "上传的内容超过大小限制" in text and "KB" in text


def assert_json_413(answer: TestResponse) -> None:
    assert answer.status_code == 413 and answer.mimetype == "application/json"
    body = answer.get_json()
    assert body["error"] == "request_entity_too_large"
    assert body["message"].startswith("上传的内容超过大小限制（本次提交最多 ")


# --- The limits themselves ------------------------------------------------------------------------------------


def test_each_endpoint_gets_its_files_plus_one_forms_fields(limited: Flask) -> None:
    config = limited.config
    case_upload = FILE_LIMIT + FORM_LIMIT
    public = PHOTOS * FILE_LIMIT + FORM_LIMIT
    assert body_limit(config, "task_ops.upload") == case_upload
    assert body_limit(config, "api.upload_attachment") == case_upload
    assert body_limit(config, "public.report") == public
    assert body_limit(config, "public_api.create_hazard_report") == public
    # Files come only in multipart bodies: a JSON report without photos gets the form's allowance.
    assert body_limit(config, "public_api.create_hazard_report", multipart=False) == FORM_LIMIT
    for endpoint in ("tasks.complete", "api.complete", "auth.login", None):
        assert body_limit(config, endpoint) == FORM_LIMIT


def test_the_defaults_derive_the_ceiling_from_the_upload_settings(fresh_database_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "x"})
    config = app.config
    # 5 photos of 5 MB on the public page are the largest legitimate body: 25 MB, plus 1 MB of form fields.
    assert config["MAX_CONTENT_LENGTH"] == largest_body(config) == 26 * 1024 * 1024
    assert body_limit(config, "api.upload_attachment") == 11 * 1024 * 1024
    assert (config["MAX_FORM_MEMORY_SIZE"], config["MAX_FORM_PARTS"]) == (500_000, 1_000)
    configured = create_app(
        {"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "x", "MAX_CONTENT_LENGTH": 2 * KB}
    )
    # A configured MAX_CONTENT_LENGTH is a hard ceiling over every endpoint's own limit.
    assert body_limit(configured.config, "public.report") == 2 * KB
    for application in (app, configured):
        webapp_database.engine(application).dispose()


# --- The web page's attachment upload -----------------------------------------------------------------------


def test_web_upload_over_the_limit_is_413_and_stores_nothing(
    limited: Flask, client: FlaskClient, auth: AuthActions, app_db: Session, case_id: int
) -> None:
    auth.login("ganjingzi1")
    before = stored(app_db, upload_dir(limited))
    answer = client.post(f"/cases/{case_id}/attachments", data={"file": (io.BytesIO(jpeg(20 * KB)), "大图.jpg")})
    assert_page_413(answer)
    assert "12 KB" in answer.get_data(as_text=True)  # the limit this request had: one file plus the form
    assert stored(app_db, upload_dir(limited)) == before

    # A little over the per-file limit, within the request's: the view names the file in a field error.
    refused = client.post(f"/cases/{case_id}/attachments", data={"file": (io.BytesIO(jpeg(FILE_LIMIT + 1)), "a.jpg")})
    assert refused.status_code == 422 and "超过 4 KB" in refused.get_data(as_text=True)
    assert stored(app_db, upload_dir(limited)) == before

    accepted = client.post(f"/cases/{case_id}/attachments", data={"file": (io.BytesIO(jpeg(FILE_LIMIT)), "a.jpg")})
    assert accepted.status_code in (302, 303)
    assert stored(app_db, upload_dir(limited))[1] == before[1] + 1


def test_web_upload_over_the_limit_is_413_even_with_csrf_protection(
    limited: Flask, client: FlaskClient, auth: AuthActions, app_db: Session, case_id: int
) -> None:
    auth.login("ganjingzi1")
    limited.config["WTF_CSRF_ENABLED"] = True
    before = stored(app_db, upload_dir(limited))
    # The limit is set before CSRF protection reads the form: the answer is the size, not a missing token.
    answer = client.post(f"/cases/{case_id}/attachments", data={"file": (io.BytesIO(jpeg(20 * KB)), "大图.jpg")})
    assert_page_413(answer)
    assert stored(app_db, upload_dir(limited)) == before


# --- The API's attachment upload ----------------------------------------------------------------------------


@pytest.fixture
def bearer(app_db: Session) -> dict[str, str]:
    token = create_token(app_db, user(app_db, "ganjingzi1"), "limits")
    app_db.commit()
    return {"Authorization": f"Bearer {token}"}


def test_api_upload_over_the_limit_is_json_413_and_stores_nothing(
    limited: Flask, client: FlaskClient, app_db: Session, case_id: int, bearer: dict[str, str]
) -> None:
    before = stored(app_db, upload_dir(limited))
    answer = client.post(
        f"/api/v1/instances/{case_id}/attachments",
        data={"file": (io.BytesIO(jpeg(20 * KB)), "大图.jpg")},
        headers=bearer,
    )
    assert_json_413(answer)
    assert stored(app_db, upload_dir(limited)) == before


def test_api_json_bodies_get_the_forms_allowance_only(
    limited: Flask, client: FlaskClient, app_db: Session, case_id: int, bearer: dict[str, str]
) -> None:
    before = stored(app_db, upload_dir(limited))
    url = f"/api/v1/instances/{case_id}/comments"
    assert_json_413(client.post(url, json={"body": "长" * (3 * KB)}, headers=bearer))  # 9 KB of UTF-8
    start = "/api/v1/processes/hazard_report/instances"
    assert_json_413(client.post(start, json={"data": {"description": "x" * (FORM_LIMIT + 1)}}, headers=bearer))
    assert stored(app_db, upload_dir(limited)) == before
    assert client.post(url, json={"body": "长" * KB}, headers=bearer).status_code == 201


# --- The public report page and the mobile app's endpoint ---------------------------------------------------


def report_fields(**overrides: str) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "enterprise_uscc": ENTERPRISE_USCC,
        "location": "二号库房西门叉车通道",
        "category": "物的不安全状态",
        "description": "叉车通道照明损坏，夜班时看不清行人。",
        "possible_consequence": "车辆伤害",
        "reporter.name": "王秀兰",
        "reporter.mobile": "13904112345",
        "reporter.anonymous": "false",
        "reporter.employee_of_reported_unit": "true",
    }
    return {**fields, **overrides}


def test_public_page_over_the_limit_is_413_and_starts_no_case(
    limited: Flask, client: FlaskClient, app_db: Session
) -> None:
    before = stored(app_db, upload_dir(limited))
    photos = [(io.BytesIO(jpeg(FILE_LIMIT)), f"{n}.jpg") for n in range(4)]  # twice the photos allowed
    payload = {**report_fields(), "photos": photos, "description": "长" * (3 * KB)}
    assert_page_413(client.post("/report", data=payload, content_type="multipart/form-data"))
    assert stored(app_db, upload_dir(limited)) == before

    within = {**report_fields(), "photos": [(io.BytesIO(jpeg(FILE_LIMIT)), f"{n}.jpg") for n in range(PHOTOS)]}
    assert client.post("/report", data=within, content_type="multipart/form-data").status_code == 303
    cases, attachments, files = stored(app_db, upload_dir(limited))
    assert (cases, attachments) == (before[0] + 1, before[1] + 1)  # two identical photos are one piece of evidence
    assert len(files) == len(before[2]) + 1


def test_public_api_over_the_limit_is_json_413_and_starts_no_case(
    limited: Flask, client: FlaskClient, app_db: Session
) -> None:
    before = stored(app_db, upload_dir(limited))
    url = "/api/v1/public/hazard-reports"
    data = {"data": json.dumps({"location": "x"}), "photos": [(io.BytesIO(jpeg(5 * FILE_LIMIT)), "大图.jpg")]}
    assert_json_413(client.post(url, data=data, content_type="multipart/form-data"))
    # A JSON body carries no photo, so it gets the form's allowance, not the photos'.
    assert_json_413(client.post(url, json={"data": {"description": "x" * (FORM_LIMIT + 1)}}))
    assert stored(app_db, upload_dir(limited)) == before


# --- Other bodies and the multipart bounds -------------------------------------------------------------------


def test_a_page_form_over_the_limit_is_413(limited: Flask, client: FlaskClient, auth: AuthActions) -> None:
    answer = client.post("/login", data={"username": "ganjingzi1", "password": "x" * (FORM_LIMIT + 1)})
    assert_page_413(answer)
    auth.login("ganjingzi1")
    assert_page_413(client.post("/settings/phrases", data={"text": "长" * (3 * KB)}))


def test_too_many_parts_or_an_oversized_text_part_is_413(
    limited: Flask, client: FlaskClient, app_db: Session, case_id: int, bearer: dict[str, str]
) -> None:
    limited.config.update(MAX_FORM_PARTS=20, MAX_FORM_MEMORY_SIZE=2 * KB)
    before = stored(app_db, upload_dir(limited))
    url = f"/api/v1/instances/{case_id}/attachments"
    parts: dict[str, Any] = {f"field{n}": "x" for n in range(30)}
    parts["file"] = (io.BytesIO(jpeg(KB)), "a.jpg")
    assert_json_413(client.post(url, data=parts, headers=bearer))
    text_part = {"task_id": "x" * (3 * KB), "file": (io.BytesIO(jpeg(KB)), "a.jpg")}
    assert_json_413(client.post(url, data=text_part, headers=bearer))
    assert stored(app_db, upload_dir(limited)) == before
