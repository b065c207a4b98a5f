"""The JSON API under /api/v1 (issue #3 §5), through the test client with bearer tokens."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import forms
from tests.conftest import AuthActions
from tests.workflow_helpers import complete, intake, start_report, user
from webapp.api import processes
from webapp.api.openapi import document
from webapp.api.tasks import current_values
from workflows.db import utcnow
from workflows.models import ApiToken, InstanceStatus, ProcessInstance, TaskIndexEntry
from workflows.tokens import create_token, revoke_user_tokens

OPINION = "经研究，同意。"
RESIDENT_ID = intake()["reporter"]["resident_id"]
CHINESE = re.compile(r"[\u4e00-\u9fff]")


class Api:
    """Calls the API as a given user, with a token created for them on first use."""

    def __init__(self, client: FlaskClient, db: Session) -> None:
        self.client = client
        self.db = db
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            self.tokens[username] = create_token(self.db, user(self.db, username), "test")
            self.db.commit()
        return self.tokens[username]

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}

    def get(self, path: str, username: str, **query: Any) -> TestResponse:
        return self.client.get(path, headers=self.headers(username), query_string=query)

    def post(self, path: str, username: str, body: Any = None) -> TestResponse:
        return self.client.post(path, headers=self.headers(username), json=body)

    # The steps a script takes.

    def start_report(self, username: str = "ganjingzi1", **overrides: Any) -> dict[str, Any]:
        answer = self.post("/api/v1/processes/hazard_report/instances", username, {"data": intake(**overrides)})
        assert answer.status_code == 201, answer.json
        result: dict[str, Any] = answer.json  # type: ignore[assignment]
        return result

    def open_task(self, instance_id: int, bpmn_id: str, username: str) -> dict[str, Any]:
        tasks = self.get(f"/api/v1/instances/{instance_id}", username).json["tasks"]  # type: ignore[index]
        found = [task for task in tasks if task["bpmn_id"] == bpmn_id]
        assert found, f"no open {bpmn_id}: {[task['bpmn_id'] for task in tasks]}"
        result: dict[str, Any] = found[0]
        return result

    def complete(self, task_id: str, username: str, body: dict[str, Any]) -> TestResponse:
        return self.post(f"/api/v1/tasks/{task_id}/complete", username, body)


@pytest.fixture
def api(client: FlaskClient, app_db: Session) -> Api:
    return Api(client, app_db)


def register(api: Api, case: dict[str, Any], username: str = "ganjingzi1") -> dict[str, Any]:
    task = api.open_task(case["id"], "register_report", username)
    answer = api.complete(task["id"], username, {"decision": "受理", "opinion": OPINION})
    assert answer.status_code == 200, answer.json
    result: dict[str, Any] = answer.json  # type: ignore[assignment]
    return result


def assert_error(answer: TestResponse, status: int) -> dict[str, Any]:
    assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:300])
    assert answer.is_json
    body: dict[str, Any] = answer.json  # type: ignore[assignment]
    assert isinstance(body["error"], str) and CHINESE.search(body["message"])
    return body


# --- authentication --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic amluZ2ppMTpkZW1vMTIzNDU=", "uf_abc"])
def test_requests_without_a_bearer_token_get_401_with_a_challenge(client: FlaskClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    answer = client.get("/api/v1/tasks", headers=headers)
    assert_error(answer, 401)
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "invalid_token" not in answer.headers["WWW-Authenticate"]


def test_a_bad_token_gets_401_invalid_token(client: FlaskClient) -> None:
    answer = client.get("/api/v1/tasks", headers={"Authorization": "Bearer uf_" + "x" * 43})
    assert_error(answer, 401)
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_expired_and_revoked_tokens_get_401(api: Api, app_db: Session) -> None:
    official = user(app_db, "ganjingzi1")
    expired = create_token(app_db, official, expires_in=timedelta(days=1), now=utcnow() - timedelta(days=2))
    app_db.commit()
    assert_error(api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {expired}"}), 401)

    assert api.get("/api/v1/tasks", "ganjingzi1").status_code == 200
    revoke_user_tokens(app_db, official)
    app_db.commit()
    assert_error(api.get("/api/v1/tasks", "ganjingzi1"), 401)


def test_a_signed_in_browser_session_does_not_authorise_the_api(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("ganjingzi1")
    assert_error(client.get("/api/v1/tasks"), 401)


def test_a_request_records_the_tokens_last_use(api: Api, app_db: Session) -> None:
    api.token("jingji1")
    assert api.get("/api/v1/processes", "jingji1").status_code == 200
    app_db.expire_all()
    record = app_db.scalar(select(ApiToken))
    assert record is not None and record.last_used_at is not None


# --- processes -------------------------------------------------------------------------------------------------


def test_process_list_says_who_may_start_what(api: Api) -> None:
    listed = api.get("/api/v1/processes", "ganjingzi1").json
    hazard = next(item for item in listed if item["key"] == "hazard_report")  # type: ignore[union-attr]
    assert hazard["name"] == "安全隐患报告" and hazard["version"] >= 1 and hazard["can_start"] is True
    as_admin = api.get("/api/v1/processes", "admin").json
    assert next(item for item in as_admin if item["key"] == "hazard_report")["can_start"] is False  # type: ignore[union-attr]


def test_process_detail_carries_the_start_form_schema(api: Api) -> None:
    detail = api.get("/api/v1/processes/hazard_report", "ganjingzi1").json
    assert detail is not None
    assert detail["key"] == "hazard_report" and detail["can_start"] is True
    schema = detail["start_form"]
    assert schema["title"] == "隐患报告（举报）登记表"
    assert schema["properties"]["enterprise_uscc"]["format"] == "cn-uscc"
    assert "enterprise_uscc" in schema["required"]


def test_unknown_process_is_404(api: Api) -> None:
    assert_error(api.get("/api/v1/processes/no_such_process", "ganjingzi1"), 404)
    assert_error(api.post("/api/v1/processes/no_such_process/instances", "ganjingzi1", {"data": {}}), 404)


def test_starting_a_case_answers_201_with_its_first_task(api: Api, app_db: Session) -> None:
    answer = api.post("/api/v1/processes/hazard_report/instances", "ganjingzi1", {"data": intake()})

    assert answer.status_code == 201, answer.json
    case = answer.json
    assert case is not None
    assert re.fullmatch(r"YH-\d{4}-\d{6}", case["number"])
    assert case["status"] == "running" and case["process"] == "hazard_report"
    assert answer.headers["Location"].endswith(f"/api/v1/instances/{case['id']}")
    [task] = case["tasks"]
    assert task["bpmn_id"] == "register_report" and task["name"] == "登记查重"
    assert (task["org_unit"], task["department"], task["status"]) == ("210211", None, "ready")
    assert task["claimed_by"] is None
    assert datetime.fromisoformat(task["due_at"]).utcoffset() == timedelta(hours=8)
    assert [step["name"] for step in case["steps"]] == ["发起：安全隐患报告"]
    assert RESIDENT_ID not in answer.get_data(as_text=True)
    stored = app_db.get(ProcessInstance, case["id"])
    assert stored is not None and stored.case_number == case["number"]


def test_an_admin_may_not_start_a_case(api: Api) -> None:
    body = assert_error(api.post("/api/v1/processes/hazard_report/instances", "admin", {"data": intake()}), 403)
    assert "安全隐患报告" in body["message"]


def test_a_bad_start_form_gets_422_with_chinese_field_errors(api: Api, app_db: Session) -> None:
    before = len(app_db.scalars(select(ProcessInstance.id)).all())
    answer = api.post(
        "/api/v1/processes/hazard_report/instances",
        "ganjingzi1",
        {"data": intake(enterprise_uscc="91210211MA0Q3R5K71", location="")},
    )
    body = assert_error(answer, 422)
    assert set(body["errors"]) == {"enterprise_uscc", "location"}
    assert all(CHINESE.search(message) for message in body["errors"].values())
    assert "统一社会信用代码" in body["errors"]["enterprise_uscc"]
    assert len(app_db.scalars(select(ProcessInstance.id)).all()) == before


@pytest.mark.parametrize(
    ("raw", "status"),
    [("[1, 2]", 400), ('"text"', 400), ("{not json", 400), ('{"data": [1]}', 422), ('{"data": "x"}', 422)],
)
def test_a_body_that_is_not_an_object_is_refused_clearly(api: Api, raw: str, status: int) -> None:
    answer = api.client.post(
        "/api/v1/processes/hazard_report/instances",
        headers={**api.headers("ganjingzi1"), "Content-Type": "application/json"},
        data=raw,
    )
    body = assert_error(answer, status)
    if status == 422:
        assert set(body["errors"]) == {"data"}


# --- tasks -----------------------------------------------------------------------------------------------------


def test_a_hazard_report_travels_from_district_to_city_through_the_api(api: Api) -> None:
    case = api.start_report("ganjingzi1")

    # 甘井子区: the registration waits in the district's queue; an official claims and completes it.
    queue = api.get("/api/v1/tasks", "ganjingzi2", view="queue").json
    register_task = next(item for item in queue["items"] if item["instance_id"] == case["id"])  # type: ignore[index]
    assert register_task["bpmn_id"] == "register_report" and "claim" in register_task["actions"]
    claimed = api.post(f"/api/v1/tasks/{register_task['id']}/claim", "ganjingzi1")
    assert claimed.status_code == 200 and claimed.json["claimed_by"] == "ganjingzi1"  # type: ignore[index]
    mine = api.get("/api/v1/tasks", "ganjingzi1", view="mine").json
    assert register_task["id"] in [item["id"] for item in mine["items"]]  # type: ignore[index]

    done = api.complete(register_task["id"], "ganjingzi1", {"decision": "受理", "opinion": "材料齐全，同意受理。"})
    assert done.status_code == 200, done.json
    [triage] = done.json["next_tasks"]  # type: ignore[index]
    assert (triage["bpmn_id"], triage["org_unit"], triage["department"]) == ("triage", "210200", "econ-labour")
    assert done.json["instance"]["steps"][-1]["decision"] == "受理"  # type: ignore[index]

    # 市总经济技术和劳动保护部: the triage shows up in the department queue, with its form.
    city_queue = api.get("/api/v1/tasks", "jingji1", view="queue", process="hazard_report").json
    assert triage["id"] in [item["id"] for item in city_queue["items"]]  # type: ignore[index]
    detail = api.get(f"/api/v1/tasks/{triage['id']}", "jingji1").json
    assert detail is not None
    assert detail["form"]["title"] == "分级研判" and detail["decision_field"] == "triage_level"
    # The registration's opinion is in the case data, but it is not this step's value.
    assert detail["data"] == {}

    # `decision` goes to the step's decision field (triage_level); the task need not be claimed first.
    triaged = api.complete(triage["id"], "jingji1", {"decision": "可能重大", "opinion": "可能为重大隐患，请从速核查。"})
    assert triaged.status_code == 200, triaged.json
    [verify] = triaged.json["next_tasks"]  # type: ignore[index]
    assert (verify["bpmn_id"], verify["org_unit"], verify["department"]) == ("verify", "210211", None)
    verify_detail = api.get(f"/api/v1/tasks/{verify['id']}", "ganjingzi2").json
    assert verify_detail is not None
    assert verify_detail["decision_field"] == "verification_result"
    assert verify_detail["data"] == {"reporter_responsible": False}  # the form's default, nothing inherited

    instance = api.get(f"/api/v1/instances/{case['id']}", "ganjingzi1").json
    assert instance is not None
    assert instance["status"] == "running" and instance["number"] == case["number"]
    assert [task["bpmn_id"] for task in instance["tasks"]] == ["verify"]
    steps = instance["steps"]
    assert [step["name"] for step in steps] == ["发起：安全隐患报告", "登记查重", "分级研判"]
    assert steps[2] == {
        **steps[2],
        "user": "jingji1",
        "user_name": "王建国",
        "org_unit": "210200",
        "department": "econ-labour",
        "decision": "可能重大",
        "opinion": "可能为重大隐患，请从速核查。",
    }
    assert steps[1]["user"] == "ganjingzi1" and steps[1]["org_unit"] == "210211" and steps[1]["department"] is None
    assert datetime.fromisoformat(steps[2]["at"]).utcoffset() == timedelta(hours=8)
    assert triage["id"] in [item["id"] for item in api.get("/api/v1/tasks", "jingji1", view="done").json["items"]]  # type: ignore[index]


def test_task_detail_shows_the_steps_values_but_never_identity_numbers(api: Api) -> None:
    case = api.start_report("ganjingzi1")
    register_task = api.open_task(case["id"], "register_report", "ganjingzi1")
    register(api, case)

    detail = api.get(f"/api/v1/tasks/{register_task['id']}", "ganjingzi1")

    assert detail.status_code == 200
    body = detail.json
    assert body is not None
    assert body["status"] == "completed" and body["actions"] == ["view"]
    assert body["data"]["decision"] == "受理" and body["data"]["opinion"] == OPINION
    assert set(body["data"]) <= set(body["form"]["properties"])
    assert RESIDENT_ID not in detail.get_data(as_text=True)


def test_completing_without_an_opinion_gets_422_in_chinese(api: Api) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    body = assert_error(api.complete(task["id"], "ganjingzi1", {"data": {"decision": "受理"}}), 422)
    assert set(body["errors"]) == {"opinion"}
    assert "审批意见" in body["errors"]["opinion"] and "必填" in body["errors"]["opinion"]
    # Nothing happened: the task is still open.
    assert api.open_task(case["id"], "register_report", "ganjingzi1")["status"] == "ready"


def test_a_decision_given_twice_differently_is_refused(api: Api) -> None:
    case = api.start_report()
    register(api, case)
    triage = api.open_task(case["id"], "triage", "jingji1")
    answer = api.complete(
        triage["id"], "jingji1", {"data": {"triage_level": "一般"}, "decision": "可能重大", "opinion": OPINION}
    )
    body = assert_error(answer, 422)
    assert set(body["errors"]) == {"decision"}


def test_completing_a_task_twice_gets_409(api: Api) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    body = {"decision": "受理", "opinion": OPINION}
    assert api.complete(task["id"], "ganjingzi1", body).status_code == 200
    assert_error(api.complete(task["id"], "ganjingzi2", body), 409)
    assert_error(api.complete(task["id"], "ganjingzi1", body), 409)


def test_claiming_a_task_someone_else_holds_gets_409_and_release_frees_it(api: Api) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "ganjingzi1").status_code == 200

    assert "已由他人认领" in assert_error(api.post(f"/api/v1/tasks/{task['id']}/claim", "ganjingzi2"), 409)["message"]
    assert_error(api.post(f"/api/v1/tasks/{task['id']}/release", "ganjingzi2"), 409)
    assert_error(api.complete(task["id"], "ganjingzi2", {"decision": "受理", "opinion": OPINION}), 409)

    released = api.post(f"/api/v1/tasks/{task['id']}/release", "ganjingzi1")
    assert released.status_code == 200 and released.json["claimed_by"] is None  # type: ignore[index]
    assert api.post(f"/api/v1/tasks/{task['id']}/claim", "ganjingzi2").json["claimed_by"] == "ganjingzi2"  # type: ignore[index]


def test_another_districts_official_gets_404_for_everything_of_the_case(api: Api) -> None:
    case = api.start_report("ganjingzi1")
    task = api.open_task(case["id"], "register_report", "ganjingzi1")

    assert_error(api.get(f"/api/v1/tasks/{task['id']}", "zhongshan1"), 404)
    assert_error(api.post(f"/api/v1/tasks/{task['id']}/claim", "zhongshan1"), 404)
    assert_error(api.post(f"/api/v1/tasks/{task['id']}/release", "zhongshan1"), 404)
    assert_error(api.complete(task["id"], "zhongshan1", {"decision": "受理", "opinion": OPINION}), 404)
    assert_error(api.get(f"/api/v1/instances/{case['id']}", "zhongshan1"), 404)
    assert_error(api.get(f"/api/v1/instances/{case['id']}/record.pdf", "zhongshan1"), 404)
    # Another department of the city federation does not see the district's step either.
    assert_error(api.get(f"/api/v1/tasks/{task['id']}", "baozhang1"), 404)
    assert task["id"] not in [item["id"] for item in api.get("/api/v1/tasks", "zhongshan1", view="queue").json["items"]]  # type: ignore[index]


def test_unknown_tasks_and_instances_are_404(api: Api) -> None:
    assert_error(api.get("/api/v1/tasks/00000000-0000-0000-0000-000000000000", "ganjingzi1"), 404)
    assert_error(api.get("/api/v1/tasks/not-a-uuid", "ganjingzi1"), 404)
    assert_error(api.post("/api/v1/tasks/not-a-uuid/complete", "ganjingzi1", {}), 404)
    assert_error(api.get("/api/v1/instances/999999", "ganjingzi1"), 404)


def test_task_list_pages_and_counts(api: Api) -> None:
    before = api.get("/api/v1/tasks", "ganjingzi2", view="queue").json["total"]  # type: ignore[index]
    started = [api.start_report("ganjingzi1", location=f"{n}号车间") for n in range(3)]

    first = api.get("/api/v1/tasks", "ganjingzi2", view="queue", per_page=2).json
    second = api.get("/api/v1/tasks", "ganjingzi2", view="queue", per_page=2, page=2).json
    assert first is not None and second is not None
    total = before + 3
    assert first["total"] == second["total"] == total
    assert (first["page"], first["per_page"], second["page"]) == (1, 2, 2)
    assert len(first["items"]) == 2 and len(second["items"]) == min(2, total - 2)
    assert not {item["id"] for item in first["items"]} & {item["id"] for item in second["items"]}
    found = api.get("/api/v1/tasks", "ganjingzi2", view="queue", q=started[1]["number"]).json
    assert [item["instance_id"] for item in found["items"]] == [started[1]["id"]]  # type: ignore[index]
    assert api.get("/api/v1/tasks", "ganjingzi2", view="queue", process="no_such").json["total"] == 0  # type: ignore[index]
    assert api.get("/api/v1/tasks", "ganjingzi2").json["total"] == 0  # type: ignore[index]  # view defaults to mine


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"view": "everything"}, "view"),
        ({"view": "started"}, "view"),
        ({"page": "0"}, "page"),
        ({"page": "abc"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"light": "blue"}, "light"),
    ],
)
def test_bad_list_parameters_get_422(api: Api, query: dict[str, str], field: str) -> None:
    body = assert_error(api.get("/api/v1/tasks", "ganjingzi1", **query), 422)
    assert set(body["errors"]) == {field} and CHINESE.search(body["errors"][field])


# --- instances -------------------------------------------------------------------------------------------------


def test_a_cancelled_case_is_reported_as_terminated(api: Api, app_db: Session) -> None:
    case = api.start_report()
    stored = app_db.get(ProcessInstance, case["id"])
    assert stored is not None
    stored.status = InstanceStatus.CANCELLED.value
    app_db.commit()
    assert api.get(f"/api/v1/instances/{case['id']}", "ganjingzi1").json["status"] == "terminated"  # type: ignore[index]


def test_the_approval_record_pdf_is_served_to_those_who_may_see_the_case(api: Api) -> None:
    case = api.start_report()
    register(api, case)
    answer = api.get(f"/api/v1/instances/{case['id']}/record.pdf", "jingji1")
    assert answer.status_code == 200
    assert answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF")
    assert case["number"] in answer.headers["Content-Disposition"]


# --- errors outside the views, and the document ----------------------------------------------------------------


def test_unknown_paths_and_methods_under_the_api_answer_json(api: Api, client: FlaskClient) -> None:
    assert_error(client.get("/api/v1/no-such-thing"), 404)
    assert_error(api.get("/api/v1/no-such-thing", "ganjingzi1"), 404)
    wrong_method = client.get("/api/v1/tasks/00000000-0000-0000-0000-000000000000/claim")
    assert_error(wrong_method, 405)
    assert "POST" in wrong_method.headers["Allow"]
    # The web UI keeps its HTML pages.
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_an_oversized_body_and_an_internal_error_answer_json(
    api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 1000
    assert_error(api.post("/api/v1/processes/hazard_report/instances", "ganjingzi1", {"data": {"x": "长" * 1000}}), 413)

    def broken(*_args: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    monkeypatch.setattr(processes, "summary", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    body = assert_error(api.get("/api/v1/processes", "ganjingzi1"), 500)
    assert "boom" not in body["message"]


def test_openapi_document_is_public_and_describes_the_bearer_scheme(client: FlaskClient) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    doc = answer.json
    assert doc is not None
    assert doc["openapi"].startswith("3.")
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert {"Task", "Instance", "Step", "Error", "ValidationError"} <= set(doc["components"]["schemas"])
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def _references(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_references(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_references(value) for value in node))
    return set()


def test_openapi_document_covers_exactly_the_api_routes(app: Flask) -> None:
    routes = {
        (re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    doc = document()
    documented = {(path, method) for path, operations in doc["paths"].items() for method in operations}
    assert routes == documented
    schemas = doc["components"]["schemas"]
    assert {ref.removeprefix("#/components/schemas/") for ref in _references(doc)} <= set(schemas)


def test_a_done_steps_values_never_include_card_or_identity_numbers(world: Session) -> None:
    case = start_report(world)
    done = complete(world, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": OPINION})
    entry = world.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == done.approval_step.task_id))
    assert entry is not None
    # As a payment step records it: the card number masked in the approval step.
    done.approval_step.data = {"payee_name": "李大勇", "card_number": "6228 **** **** ***3451", "paid_amount": "500.00"}

    values = current_values(world, entry, forms.load_form("hazard-reward-payment"))

    assert values == {"payee_name": "李大勇", "paid_amount": "500.00"}
