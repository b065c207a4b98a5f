"""Privacy (issue #5): identity, mobile and bank card numbers are masked except where a step needs them, every full
view is audited, and no full number reaches a log or any table but the hazard record.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.conftest import AuthActions
from tests.test_check_command import work_cases
from tests.workflow_helpers import ENTERPRISE_USCC, HAZARD_STEPS_TO_REWARD, intake, open_task, start_report, user
from webapp.database import engine, session_factory
from workflows.db import Base
from workflows.models import AuditEvent, HazardReport, ProcessInstance
from workflows.operations import claim_task
from workflows.privacy import REVEAL_ACTION
from workflows.tokens import create_token

# The reporter of workflow_helpers.intake() and the payee of test_hazard_process.payment_record().
NAME, MOBILE, RESIDENT_ID, CARD = "李大勇", "13904111234", "210211196803150130", "6228480040000123451"
MASKED = {"reporter_name": "李**", "reporter_mobile": "139****1234", "reporter_resident_id": "210211********0130"}


def page(client: FlaskClient, case: ProcessInstance) -> TestResponse:
    return client.get(f"/cases/{case.id}")


def reveal(client: FlaskClient, case: ProcessInstance) -> TestResponse:
    return client.post(f"/cases/{case.id}/reporter")


def reveal_events(db: Session) -> list[AuditEvent]:
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == REVEAL_ACTION).order_by(AuditEvent.id)))


def offers_reveal(html: str, case: ProcessInstance) -> bool:
    return f'action="/cases/{case.id}/reporter"' in html


def field_value(html: str, name: str) -> str | None:
    marker = f'data-field="{name}">'
    if marker not in html:
        return None
    return html.split(marker, 1)[1].split("<", 1)[0]


@pytest.fixture
def case(app_db: Session) -> ProcessInstance:
    """A hazard report waiting for 甘井子区's registration, with the reporter's name, mobile and resident ID."""
    started = start_report(app_db)
    app_db.commit()
    return started


# --- the 举报人信息 panel ------------------------------------------------------------------------------------------


def test_the_reporter_is_masked_and_a_holder_of_the_registration_may_reveal_once_audited(
    client: FlaskClient, auth: AuthActions, app_db: Session, case: ProcessInstance
) -> None:
    auth.login("ganjingzi1")
    html = page(client, case).get_data(as_text=True)
    assert {name: field_value(html, name) for name in MASKED} == MASKED
    assert MOBILE not in html and RESIDENT_ID not in html and NAME not in html
    assert not offers_reveal(html, case)  # may see the case, holds no contact step yet
    assert reveal(client, case).status_code == 403

    entry = open_task(app_db, case, "register_report")
    claim_task(app_db, user(app_db, "ganjingzi1"), case.id, entry.task_id)
    app_db.commit()
    html = page(client, case).get_data(as_text=True)
    assert offers_reveal(html, case) and "查看完整信息</button>" in html

    shown = reveal(client, case)

    assert shown.status_code == 200 and "no-store" in shown.headers["Cache-Control"]
    html = shown.get_data(as_text=True)
    assert (field_value(html, "reporter_mobile"), field_value(html, "reporter_resident_id")) == (MOBILE, RESIDENT_ID)
    assert field_value(html, "reporter_name") == NAME and "已记入审计日志" in html
    (event,) = reveal_events(app_db)
    assert (event.actor_id, event.object_type, event.object_id) == (
        user(app_db, "ganjingzi1").id,
        "case",
        case.case_number,
    )
    assert json.loads(event.payload) == {"fields": ["reporter_name", "reporter_mobile", "reporter_resident_id"]}
    # The next plain view is masked again.
    assert field_value(page(client, case).get_data(as_text=True), "reporter_mobile") == MASKED["reporter_mobile"]


def test_a_colleague_who_never_held_a_contact_step_sees_only_masked_numbers(
    client: FlaskClient, auth: AuthActions, app_db: Session, case: ProcessInstance
) -> None:
    entry = open_task(app_db, case, "register_report")
    claim_task(app_db, user(app_db, "ganjingzi1"), case.id, entry.task_id)
    app_db.commit()
    auth.login("ganjingzi2")

    html = page(client, case).get_data(as_text=True)

    assert field_value(html, "reporter_mobile") == MASKED["reporter_mobile"] and not offers_reveal(html, case)
    refused = reveal(client, case)
    assert refused.status_code == 403 and MOBILE not in refused.get_data(as_text=True)
    assert reveal_events(app_db) == []


def test_someone_who_may_not_see_the_case_gets_404_for_the_page_and_the_reveal(
    client: FlaskClient, auth: AuthActions, app_db: Session, case: ProcessInstance
) -> None:
    auth.login("zhongshan1")

    assert page(client, case).status_code == 404
    assert reveal(client, case).status_code == 404
    assert reveal_events(app_db) == []


def test_an_administrator_sees_the_masked_panel_and_is_refused_the_full_view(
    client: FlaskClient, auth: AuthActions, app_db: Session, case: ProcessInstance
) -> None:
    auth.login("admin")

    html = page(client, case).get_data(as_text=True)

    assert field_value(html, "reporter_resident_id") == MASKED["reporter_resident_id"] and not offers_reveal(html, case)
    refused = reveal(client, case)
    assert refused.status_code == 403 and RESIDENT_ID not in refused.get_data(as_text=True)
    assert reveal_events(app_db) == []


def test_an_anonymous_report_shows_no_identity_at_all(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    reporter = {"mobile": MOBILE, "anonymous": "true", "employee_of_reported_unit": "false"}
    anonymous = start_report(app_db, reporter=reporter)
    entry = open_task(app_db, anonymous, "register_report")
    claim_task(app_db, user(app_db, "ganjingzi1"), anonymous.id, entry.task_id)
    app_db.commit()
    auth.login("ganjingzi1")

    html = page(client, anonymous).get_data(as_text=True)

    assert "匿名举报，不显示举报人身份" in html
    assert field_value(html, "reporter_mobile") is None and "139****1234" not in html
    assert not offers_reveal(html, anonymous)
    refused = reveal(client, anonymous)
    assert refused.status_code == 403 and "匿名举报" in refused.get_data(as_text=True)
    assert reveal_events(app_db) == []


def test_the_reward_card_is_masked_and_revealed_to_whoever_paid_it(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    closed = work_cases(app_db).closed
    auth.login("jingji2")  # the department's colleague: sees the city's triage queue, never held a step of it
    html = page(client, closed).get_data(as_text=True)
    assert field_value(html, "reward_card_number") == "6228***********3451" and not offers_reveal(html, closed)
    auth.logout()

    auth.login("caiwu1")
    shown = reveal(client, closed)

    assert shown.status_code == 200
    assert field_value(shown.get_data(as_text=True), "reward_card_number") == CARD
    (event,) = reveal_events(app_db)
    assert "reward_card_number" in json.loads(event.payload)["fields"] and CARD not in event.payload


# --- logs and stored data -----------------------------------------------------------------------------------------

# A public reporter and a payee of their own, so nothing else in the demo database carries these numbers.
PUBLIC_MOBILE, PUBLIC_ID, PUBLIC_CARD = "13998765432", "210211197506120474", "6222021001123456789"
# What a reporter or an official mistypes: refused, and no more allowed in a log than the valid numbers.
BAD_ID, BAD_CARD, BAD_MOBILE = "210211197506120475", "6222021001123456780", "12998765432"
SECRETS = (PUBLIC_MOBILE, PUBLIC_ID, PUBLIC_CARD, BAD_ID, BAD_CARD, BAD_MOBILE)


class Api:
    def __init__(self, client: FlaskClient, db: Session) -> None:
        self.client, self.db = client, db
        self.tokens: dict[str, str] = {}

    def headers(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            self.tokens[username] = create_token(self.db, user(self.db, username), "privacy test")
            self.db.commit()
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    def task_id(self, case_id: int, bpmn_id: str, username: str) -> str:
        answer = self.client.get(f"/api/v1/instances/{case_id}", headers=self.headers(username))
        assert answer.status_code == 200, answer.json
        return next(task["id"] for task in answer.json["tasks"] if task["bpmn_id"] == bpmn_id)  # type: ignore[index]

    def complete(self, case_id: int, bpmn_id: str, username: str, data: dict[str, Any]) -> TestResponse:
        task_id = self.task_id(case_id, bpmn_id, username)
        return self.client.post(
            f"/api/v1/tasks/{task_id}/complete", headers=self.headers(username), json={"data": data}
        )


def public_form(**overrides: str) -> dict[str, str]:
    return {
        "enterprise_uscc": ENTERPRISE_USCC,
        "enterprise_name": "",
        "enterprise_district_code": "",
        "location": "五号车间冲压机防护罩",
        "category": "物的不安全状态",
        "description": "冲压机防护罩被拆除，操作工手部有被压伤的危险。",
        "possible_consequence": "机械伤害",
        "reporter.name": "赵春燕",
        "reporter.mobile": PUBLIC_MOBILE,
        "reporter.resident_id": PUBLIC_ID,
        "reporter.anonymous": "false",
        "reporter.employee_of_reported_unit": "true",
        **overrides,
    }


def drive_to_payment(api: Api, case_id: int) -> None:
    for bpmn_id, username, data in HAZARD_STEPS_TO_REWARD:
        answer = api.complete(case_id, bpmn_id, username, data)
        assert answer.status_code == 200, (bpmn_id, answer.json)


def payment(card: str) -> dict[str, Any]:
    return {
        "notice_date": "2026-12-02",
        "payee_name": "赵春燕",
        "bank_name": "中国工商银行大连甘井子支行",
        "card_number": card,
        "paid_amount": "300",
        "paid_date": "2026-12-02",
        "voucher_number": "付2026-1299",
    }


def assert_no_secret(where: str, text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, f"{where} contains {leaked}: {text[:300]}"


def test_no_full_number_reaches_a_log_or_any_table_but_the_hazard_record(
    app: Flask, client: FlaskClient, auth: AuthActions, app_db: Session, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything at DEBUG: the application, Flask, Werkzeug and SQLAlchemy's statement, parameter and row logging.
    caplog.set_level(logging.DEBUG)
    for name in ("sqlalchemy.engine", "sqlalchemy.pool", "werkzeug", "flask.app", "webapp", "workflows"):
        caplog.set_level(logging.DEBUG, logger=name)
    api = Api(client, app_db)

    # A worker's public report: first refused (a mistyped ID and mobile), then filed.
    refused = client.post(
        "/report", data=public_form(**{"reporter.resident_id": BAD_ID, "reporter.mobile": BAD_MOBILE})
    )
    assert refused.status_code == 422
    filed = client.post("/report", data=public_form())
    assert filed.status_code == 303
    case_id = app_db.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id.desc())).first()
    assert case_id is not None
    # The API refuses a start with bad numbers without echoing them.
    bad_start = client.post(
        "/api/v1/processes/hazard_report/instances",
        headers=api.headers("ganjingzi1"),
        json={"data": intake(reporter={"name": "赵春燕", "mobile": BAD_MOBILE, "resident_id": BAD_ID})},
    )
    assert bad_start.status_code == 422
    assert_no_secret("the API's validation error", bad_start.get_data(as_text=True))

    drive_to_payment(api, case_id)
    wrong_card = api.complete(case_id, "reward_payment", "caiwu1", payment(BAD_CARD))
    assert wrong_card.status_code == 422 and "card_number" in wrong_card.json["errors"]  # type: ignore[index]
    assert_no_secret("the API's validation error", wrong_card.get_data(as_text=True))
    paid = api.complete(case_id, "reward_payment", "caiwu1", payment(PUBLIC_CARD))
    assert paid.status_code == 200, paid.json
    assert_no_secret("the API's completion answer", paid.get_data(as_text=True))

    # The case over the API and on its page, and the audited full view.
    instance = client.get(f"/api/v1/instances/{case_id}", headers=api.headers("jingji1"))
    assert instance.status_code == 200
    assert_no_secret("the API's case", instance.get_data(as_text=True))
    auth.login("ganjingzi1")
    assert_no_secret("the case page", client.get(f"/cases/{case_id}").get_data(as_text=True))
    full = client.post(f"/cases/{case_id}/reporter").get_data(as_text=True)
    assert PUBLIC_MOBILE in full and PUBLIC_ID in full  # shown on the reveal response, to its holder, audited
    auth.logout()
    auth.login("caiwu1")
    assert PUBLIC_CARD in client.post(f"/cases/{case_id}/reporter").get_data(as_text=True)

    # The capture did see SQLAlchemy at work, so a leak through its logging would have been caught.
    assert any(record.name.startswith("sqlalchemy.engine") for record in caplog.records)
    for record in caplog.records:
        assert_no_secret(f"log record {record.name}", record.getMessage() + (record.exc_text or ""))

    # Stored: only the hazard record holds the numbers (case data, approval steps, index, audit: none).
    report = app_db.scalar(select(HazardReport).where(HazardReport.instance_id == case_id))
    assert report is not None
    assert (report.reporter_mobile, report.reporter_resident_id, report.reward_card_number) == (
        PUBLIC_MOBILE,
        PUBLIC_ID,
        PUBLIC_CARD,
    )
    with engine(app).connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name == "hazard_report":
                continue
            for row in connection.execute(select(table)):
                assert_no_secret(f"table {table.name}", repr(tuple(row)))


def test_a_failing_database_write_logs_no_personal_data(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    """PostgreSQL's DETAIL repeats the failing row; the request log keeps only the error's summary."""
    mobile = "13904119876"
    with app.app_context(), caplog.at_level(logging.DEBUG):
        session = session_factory(app)()
        try:
            # A hazard record without its case: the foreign key (or NOT NULL) fails, with the mobile in the row.
            session.add(
                HazardReport(
                    instance_id=None, enterprise_id=None, channel="随手拍", location="车间", location_key="车间",
                    category="其他", description="x", reporter_mobile=mobile,
                )
            )
            with pytest.raises(IntegrityError) as failure:
                session.flush()
        finally:
            session.close()
        app.logger.error("Exception on /report [POST]", exc_info=failure.value)
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert "IntegrityError" in logged
    assert mobile not in logged and mobile not in caplog.text
