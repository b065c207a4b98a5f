"""Every route, walked as every kind of visitor (issue #3 §6): who gets in, who gets 404, who is sent to sign in.

Each route is classified below; a new route that is not classified fails `test_every_route_is_classified`, so
nobody adds a page without deciding who may see it. Object routes (a case, a task) answer 404 to users of another
unit or department, never 403, so they do not reveal that the object exists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import complete, open_task, start_report, user
from workflows.attachments import UploadPolicy, store_attachment
from workflows.operations import claim_task
from workflows.routing import PERMISSIONS, Action, Relation, Standing, load_routing, standing_of, task_relation
from workflows.tokens import create_token

# The smallest valid PNG: 1×1 pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)

PUBLIC = {
    "static",
    "auth.login",
    "i18n.choose_language",
    "inbox.healthz",
    "public.report",
    "public.receipt",
    "public_api.create_hazard_report",
    "records.verify",
    "api.openapi_document",
}
# Signed-in pages about the user themself (their lists, what they may start): every official gets their own.
PERSONAL = {
    "inbox.index",
    "auth.logout",
    "start.index",
    "start.form",
    "api.list_processes",
    "api.get_process",
    "api.start_instance",
    "api.list_tasks",
    "settings.delegations",
    "settings.create",
    "settings.revoke",
    "settings.phrases",
    "settings.add",
    "settings.delete",
    "batch.select_tasks",
    "batch.complete",
    "batch.result",
    "api.batch_complete",
    "api.list_copies",
    "api.list_delegations",
    "api.create_delegation",
    "api.revoke_delegation",
    "api.list_phrases",
    "api.add_phrase",
    "api.delete_phrase",
    "aid.lists",
    "aid.template",
    "aid.upload_list",
    "aid_review.review",
    "aid_review.record",
    # A city's part of an aid list, its batches and a worker's record: checked against the user's unit and department
    # (workflows.aid.access); anyone else gets 404 (tests/test_web_aid_*.py).
    "aid_case.city",
    "aid_case.dispatch",
    "aid_documents.reconciliation_pdf",
    "aid_documents.reconciliation_xlsx",
    "aid_documents.roster_pdf",
    "aid_documents.summary_pdf",
    "aid_documents.summary_xlsx",
    "aid_documents.worker_record_pdf",
    "aid_payment.batch",
    "aid_payment.batch_csv",
    "aid_payment.batch_xlsx",
    "aid_payment.correct",
    "aid_payment.corrections",
    "aid_payment.result_template_xlsx",
    "aid_payment.upload_result",
    # The administrators' holiday table: refused (403) to everyone but admins (tests/test_working_days.py).
    "calendar_admin.index",
    "calendar_admin.save",
    "calendar_admin.remove",
    # A city's studio call, registry, notices and honours, and their documents: checked against the user's city and
    # department (workflows.studio.access), the application record against its case (tests/test_web_studio.py,
    # tests/test_studio_documents.py). The notice pages take a case number, which the CASE walker cannot fill.
    "studio.index",
    "studio.open_call_form",
    "studio.registry",
    "studio.assess",
    "studio.recheck",
    "studio.notice",
    "studio.add_objection",
    "studio.honours",
    "studio_documents.application_record_pdf",
    "studio_documents.naming_list_pdf",
    "studio_documents.funding_ledger_pdf",
    "studio_documents.registry_xlsx",
    "studio_documents.honour_list_pdf",
    # 督办台账, 立项 and one matter: routing.can_view_case decides (404 otherwise), tests/test_web_supervision.py. The
    # matter's page takes a case number, which the CASE walker cannot fill.
    "supervision.index",
    "supervision.new",
    "supervision.show",
    # The notification centre: the signed-in user's own notifications only; another's answers 404
    # (tests/test_notifications.py).
    "notifications.index",
    "notifications.read",
    "notifications.read_all",
    # The plan dashboard, an item, a unit's drill-down, 催办 of a unit and the ledger: users of the issuing unit, the
    # unions below it (their own rows; 404 otherwise) and the province (read-only); 403 to others
    # (tests/test_web_plans.py, tests/test_plan_dashboard.py).
    "plans.index",
    "plans.item",
    "plans.unit",
    "plans.urge",
    "plans.ledger_xlsx",
    "plans.ledger_pdf",
}
# Pages about one case or one of its tasks.
CASE = {
    "cases.show",
    "cases.diagram",
    "cases.attachment",
    "cases.reveal_reporter",
    "records.record_pdf",
    "tasks.show",
    "tasks.complete",
    "tasks.claim",
    "tasks.release",
    "api.get_instance",
    "api.get_record_pdf",
    "api.get_task",
    "api.claim",
    "api.complete",
    "api.release",
    "task_ops.transfer",
    "task_ops.return",
    "task_ops.add_signer",
    "task_ops.withdraw",
    "task_ops.urge",
    "task_ops.copy",
    "task_ops.comment",
    "task_ops.upload",
    "api.transfer",
    "api.return_targets",
    "api.return_task",
    "api.withdraw",
    "api.add_signer",
    "api.urge",
    "api.copy_case",
    "api.list_comments",
    "api.add_comment",
    "api.upload_attachment",
    "api.get_attachment",
}
# Officials who must not learn anything about a 甘井子区 case at its registration step.
OUTSIDERS = ("zhongshan1", "baozhang1", "jingji1", "caiwu1", "haichang_gonghui")


@dataclass(frozen=True)
class Call:
    endpoint: str
    method: str
    path: str

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


def test_every_route_is_classified(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints == PUBLIC | PERSONAL | CASE
    assert not (PUBLIC & PERSONAL or PUBLIC & CASE or PERSONAL & CASE)


@pytest.fixture
def case_calls(app: Flask, app_db: Session) -> list[Call]:
    case = start_report(app_db)
    photo = store_attachment(
        app_db,
        app.config["UPLOAD_DIR"],
        case.id,
        None,
        filename="现场.png",
        data=PNG,
        uploaded_by_id=None,
        policy=UploadPolicy(max_bytes=1024 * 1024),
    )
    app_db.commit()
    task = open_task(app_db, case, "register_report")
    values = {"instance_id": str(case.id), "task_id": task.task_id, "attachment_id": str(photo.id)}
    calls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in CASE:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values[m.group(1)], rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            calls.append(Call(rule.endpoint, method, path))
    assert {call.endpoint for call in calls} == CASE
    return calls


def _send(client: FlaskClient, call: Call, headers: dict[str, str] | None = None) -> int:
    if call.method == "GET":
        return client.get(call.path, headers=headers).status_code
    return client.post(call.path, json={} if call.is_api else None, headers=headers).status_code


def test_anonymous_visitors_are_sent_to_sign_in_or_refused(client: FlaskClient, case_calls: list[Call]) -> None:
    for call in case_calls:
        answer = client.get(call.path) if call.method == "GET" else client.post(call.path)
        if call.is_api:
            assert answer.status_code == 401, call
        else:
            assert answer.status_code == 302 and "/login" in answer.headers["Location"], call


def test_anonymous_visitors_cannot_open_personal_pages(app: Flask, client: FlaskClient) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in PERSONAL:
            continue
        path = re.sub(r"<int:\w+>", "1", rule.rule.replace("<key>", "hazard_report"))
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            answer = client.open(path, method=method)
            expected = {401} if path.startswith("/api/") else {302}
            assert answer.status_code in expected, (method, path, answer.status_code)


@pytest.mark.parametrize("username", OUTSIDERS)
def test_officials_of_other_units_and_departments_get_404_on_the_web(
    client: FlaskClient, auth: AuthActions, case_calls: list[Call], username: str
) -> None:
    auth.login(username)
    for call in case_calls:
        if not call.is_api:
            assert _send(client, call) == 404, (username, call)


@pytest.mark.parametrize("username", OUTSIDERS)
def test_tokens_of_other_units_and_departments_get_404_in_the_api(
    client: FlaskClient, app_db: Session, case_calls: list[Call], username: str
) -> None:
    token = create_token(app_db, user(app_db, username), "matrix")
    app_db.commit()
    headers = {"Authorization": f"Bearer {token}"}
    for call in case_calls:
        if call.is_api:
            assert _send(client, call, headers) == 404, (username, call)


def test_the_holding_unit_gets_in(client: FlaskClient, auth: AuthActions, case_calls: list[Call]) -> None:
    auth.login("ganjingzi2")
    for call in case_calls:
        if not call.is_api and call.method == "GET":
            assert _send(client, call) == 200, call


def test_a_signed_in_browser_session_does_not_open_the_api(
    client: FlaskClient, auth: AuthActions, case_calls: list[Call]
) -> None:
    auth.login("ganjingzi1")
    for call in case_calls:
        if call.is_api:
            assert _send(client, call) == 401, call


def test_admin_sees_but_never_acts(client: FlaskClient, auth: AuthActions, case_calls: list[Call]) -> None:
    # The city admin administers the whole city tree: read-only access to the case, no task actions.
    auth.login("admin")
    for call in case_calls:
        if call.is_api:
            continue
        status = _send(client, call)
        if call.method == "GET":
            assert status == 200, call
        else:
            assert status == 403, call


def test_the_case_page_lists_its_files_and_serves_them_safely(
    client: FlaskClient, auth: AuthActions, case_calls: list[Call]
) -> None:
    auth.login("ganjingzi2")
    download = next(call for call in case_calls if call.endpoint == "cases.attachment")
    case_page = next(call for call in case_calls if call.endpoint == "cases.show")
    assert "现场.png" in client.get(case_page.path).get_data(as_text=True)
    answer = client.get(download.path)
    assert answer.data == PNG and answer.mimetype == "image/png"
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in answer.headers["Cache-Control"]


# --- The permission table, cell by cell (issue #5) ---------------------------------------------------------------
#
# For each standing × relation of routing.PERMISSIONS, a demo user in that seat and a 甘井子区 task in that state,
# asked through the API with the user's own token: every action the table grants succeeds, every other one is refused
# (403/409 when the user may see the task, 404 when not), and the web task page opens exactly when VIEW is granted.

# (standing, relation, user, who claimed the register task first, whether it is completed first)
SEATS = [
    (Standing.OFFICIAL, Relation.LANE_OPEN, "ganjingzi1", None, False),
    (Standing.OFFICIAL, Relation.LANE_MINE, "ganjingzi1", "ganjingzi1", False),
    (Standing.OFFICIAL, Relation.LANE_COLLEAGUE, "ganjingzi2", "ganjingzi1", False),
    (Standing.OFFICIAL, Relation.LANE_DONE, "ganjingzi2", None, True),
    (Standing.OFFICIAL, Relation.OUTSIDE, "zhongshan1", None, False),
    (Standing.HEAD, Relation.LANE_OPEN, "ganjingzi_head", None, False),
    (Standing.HEAD, Relation.LANE_MINE, "ganjingzi_head", "ganjingzi_head", False),
    (Standing.HEAD, Relation.LANE_COLLEAGUE, "ganjingzi_head", "ganjingzi1", False),
    (Standing.HEAD, Relation.LANE_DONE, "ganjingzi_head", None, True),
    (Standing.HEAD, Relation.BELOW_OWN_DEPARTMENT, "jingji_head", None, False),
    (Standing.HEAD, Relation.BELOW_OTHER, "baozhang_head", None, False),
    (Standing.PROVINCE_OFFICIAL, Relation.BELOW_OWN_DEPARTMENT, "shengzong_jingji1", None, False),
    (Standing.PROVINCE_OFFICIAL, Relation.BELOW_OTHER, "shengzong_baozhang1", None, False),
    (Standing.ADMIN, Relation.BELOW_OTHER, "admin", None, False),
]
# Cells no demo seat can reach with today's diagrams, and why. Each is the same code path as a walked cell.
UNREACHED = {
    # hazard_report has no province lane; the hardship-aid list (issue #6) will give province officials one.
    (Standing.PROVINCE_OFFICIAL, Relation.LANE_OPEN),
    (Standing.PROVINCE_OFFICIAL, Relation.LANE_MINE),
    (Standing.PROVINCE_OFFICIAL, Relation.LANE_COLLEAGUE),
    (Standing.PROVINCE_OFFICIAL, Relation.LANE_DONE),
    # The demo admin belongs to no department.
    (Standing.ADMIN, Relation.BELOW_OWN_DEPARTMENT),
}
ACTION_ROUTES = {Action.CLAIM: "claim", Action.RELEASE: "release", Action.COMPLETE: "complete"}
REGISTER = {"decision": "受理", "opinion": "同意受理。"}


def test_every_cell_of_the_permission_table_is_walked() -> None:
    walked = {(standing, relation) for standing, relation, *_ in SEATS}
    granted = {(standing, relation) for standing, row in PERMISSIONS.items() for relation in row}
    assert granted - walked == UNREACHED


@pytest.mark.parametrize(("standing", "relation", "username", "claimed_by", "completed"), SEATS)
def test_each_seat_gets_exactly_what_the_permission_table_grants(
    app: Flask,
    app_db: Session,
    standing: Standing,
    relation: Relation,
    username: str,
    claimed_by: str | None,
    completed: bool,
) -> None:
    case = start_report(app_db)
    task = open_task(app_db, case, "register_report")
    if claimed_by:
        claim_task(app_db, user(app_db, claimed_by), case.id, task.task_id)
    if completed:
        complete(app_db, "ganjingzi1", case, "register_report", REGISTER)
    seat = user(app_db, username)
    assert standing_of(seat) == standing
    assert task_relation(seat, task, load_routing()) == relation
    granted = PERMISSIONS[standing].get(relation, frozenset())
    headers = {"Authorization": f"Bearer {create_token(app_db, seat, 'matrix')}"}
    app_db.commit()
    client = app.test_client()

    shown = client.get(f"/api/v1/tasks/{task.task_id}", headers=headers).status_code
    assert shown == (200 if Action.VIEW in granted else 404)
    for action, route in ACTION_ROUTES.items():
        if action in granted:
            continue  # granted actions are tried one at a time below, each on a fresh state
        body = {"data": REGISTER} if action == Action.COMPLETE else {}
        answer = client.post(f"/api/v1/tasks/{task.task_id}/{route}", json=body, headers=headers).status_code
        assert answer in ((403, 409) if Action.VIEW in granted else (404,)), (action, answer)
    for action in sorted(granted - {Action.VIEW}):
        body = {"data": REGISTER} if action == Action.COMPLETE else {}
        answer = client.post(f"/api/v1/tasks/{task.task_id}/{ACTION_ROUTES[action]}", json=body, headers=headers)
        assert answer.status_code == 200, (action, answer.get_json())
        break  # one state change per test: the next action would meet a different relation

    web = app.test_client()
    AuthActions(web).login(username)
    assert web.get(f"/tasks/{task.task_id}").status_code == (200 if Action.VIEW in granted else 404)
