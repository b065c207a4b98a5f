"""Issue #4's approval conventions through the JSON API: 转办, 退回, 撤回, 加签, 催办, 批量审批, 抄送, comments,
attachments, 委托 and 常用语, each with the refusals a script must be able to tell apart (404, 409, 422)."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from tests.test_api import CHINESE, OPINION, Api, assert_error, register
from webapp.api.openapi import document
from workflows.acting import beijing_date
from workflows.db import utcnow

# The smallest valid PNG: 1×1 pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)
UNKNOWN_TASK = "00000000-0000-0000-0000-000000000000"
SIGN = {"decision": "同意", "opinion": "同意经办人意见。"}
TRIAGE = {"decision": "一般", "opinion": "一般隐患，请区总工会核查。"}


class ConventionsApi(Api):
    def delete(self, path: str, username: str) -> TestResponse:
        return self.client.delete(path, headers=self.headers(username))

    def upload(self, instance_id: int, username: str, filename: str, data: bytes, **form: str) -> TestResponse:
        return self.client.post(
            f"/api/v1/instances/{instance_id}/attachments",
            headers=self.headers(username),
            data={"file": (io.BytesIO(data), filename), **form},
            content_type="multipart/form-data",
        )

    def instance(self, case: dict[str, Any], username: str) -> dict[str, Any]:
        answer = self.get(f"/api/v1/instances/{case['id']}", username)
        assert answer.status_code == 200, answer.json
        result: dict[str, Any] = answer.json  # type: ignore[assignment]
        return result

    def task(self, task_id: str, username: str) -> dict[str, Any]:
        answer = self.get(f"/api/v1/tasks/{task_id}", username)
        assert answer.status_code == 200, answer.json
        result: dict[str, Any] = answer.json  # type: ignore[assignment]
        return result

    def ok(self, answer: TestResponse, status: int = 200) -> Any:
        assert answer.status_code == status, (answer.status_code, answer.get_data(as_text=True)[:500])
        return answer.json


@pytest.fixture
def api(client: FlaskClient, app_db: Session) -> ConventionsApi:
    return ConventionsApi(client, app_db)


def field_error(answer: TestResponse, field: str) -> str:
    body = assert_error(answer, 422)
    assert field in body["errors"], body
    message: str = body["errors"][field]
    assert CHINESE.search(message)
    return message


def at_triage(api: ConventionsApi, **intake: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A case registered by ganjingzi1, its triage open in the city's econ-labour queue."""
    case = api.start_report(**intake)
    register_task = api.open_task(case["id"], "register_report", "ganjingzi1")
    register(api, case)
    return case, register_task, api.open_task(case["id"], "triage", "jingji1")


# --- 转办 ---------------------------------------------------------------------------------------------------------


def test_transfer_hands_the_task_to_a_colleague_with_the_reason_on_record(api: ConventionsApi) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")

    done = api.ok(
        api.post(f"/api/v1/tasks/{task['id']}/transfer", "ganjingzi1", {"to_user": "ganjingzi2", "reason": "出差"})
    )

    assert done["action"]["kind"] == "transfer" and done["action"]["label"] == "转办"
    assert (done["action"]["user"], done["action"]["target_user"], done["action"]["reason"]) == (
        "ganjingzi1",
        "ganjingzi2",
        "出差",
    )
    [open_task] = done["instance"]["tasks"]
    assert open_task["claimed_by"] == "ganjingzi2"
    mine = api.get("/api/v1/tasks", "ganjingzi2", view="mine").json
    assert task["id"] in [item["id"] for item in mine["items"]]  # type: ignore[index]
    assert [action["kind"] for action in api.instance(case, "ganjingzi2")["actions"]] == ["transfer"]
    # Now it is ganjingzi2's: ganjingzi1 can no longer decide it.
    assert_error(api.complete(task["id"], "ganjingzi1", {"decision": "受理", "opinion": OPINION}), 409)


def test_transfer_refuses_people_who_may_not_hold_the_step(api: ConventionsApi) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    path = f"/api/v1/tasks/{task['id']}/transfer"

    assert "不能办理本环节" in field_error(
        api.post(path, "ganjingzi1", {"to_user": "zhongshan1", "reason": "出差"}), "to_user"
    )
    assert "不能办理本环节" in field_error(
        api.post(path, "ganjingzi1", {"to_user": "jingji1", "reason": "出差"}), "to_user"
    )
    assert "no_such_user" in field_error(
        api.post(path, "ganjingzi1", {"to_user": "no_such_user", "reason": "出差"}), "to_user"
    )
    field_error(api.post(path, "ganjingzi1", {"reason": "出差"}), "to_user")
    field_error(api.post(path, "ganjingzi1", {"to_user": "ganjingzi2"}), "reason")
    assert_error(api.post(path, "zhongshan1", {"to_user": "zhongshan1", "reason": "出差"}), 404)
    assert api.instance(case, "ganjingzi1")["actions"] == []


# --- 退回 ---------------------------------------------------------------------------------------------------------


def test_return_sends_the_case_back_to_an_earlier_step_with_the_reason(api: ConventionsApi) -> None:
    _case, register_task, triage = at_triage(api)

    targets = api.ok(api.get(f"/api/v1/tasks/{triage['id']}/return-targets", "jingji1"))
    assert targets == [
        {
            "task_id": register_task["id"],
            "bpmn_id": "register_report",
            "title": "登记查重",
            "completed_by": "ganjingzi1",
        }
    ]
    body = {"target_task_id": register_task["id"], "reason": "企业名称有误，请核对。"}
    done = api.ok(api.post(f"/api/v1/tasks/{triage['id']}/return", "jingji1", body))

    assert done["action"]["kind"] == "return" and done["action"]["target"] == "登记查重"
    [reopened] = done["instance"]["tasks"]
    assert (reopened["id"], reopened["claimed_by"]) == (register_task["id"], "ganjingzi1")
    detail = api.task(register_task["id"], "ganjingzi1")
    assert detail["status"] == "ready" and "complete" in detail["actions"]
    assert detail["returned"] == {**detail["returned"], "by": "jingji1", "by_name": "王建国", "reason": body["reason"]}
    assert detail["returned"]["from_step"] == "分级研判"


def test_return_refuses_a_step_not_on_the_path_and_outsiders(api: ConventionsApi) -> None:
    _case, _register_task, triage = at_triage(api)
    path = f"/api/v1/tasks/{triage['id']}/return"
    other_case = api.start_report()
    elsewhere = api.open_task(other_case["id"], "register_report", "ganjingzi1")

    for target in (UNKNOWN_TASK, triage["id"], elsewhere["id"], ""):
        message = field_error(
            api.post(path, "jingji1", {"target_task_id": target, "reason": "请补充"}), "target_task_id"
        )
        assert "本路径" in message
    field_error(api.post(path, "jingji1", {"target_task_id": _register_task["id"]}), "reason")
    assert_error(api.get(f"/api/v1/tasks/{triage['id']}/return-targets", "zhongshan1"), 404)
    assert_error(api.post(path, "zhongshan1", {"target_task_id": _register_task["id"], "reason": "x"}), 404)
    # A head who only oversees the step may not return it.
    assert_error(api.get(f"/api/v1/tasks/{elsewhere['id']}/return-targets", "jingji_head"), 403)
    # The task is still at triage.
    assert api.task(triage["id"], "jingji1")["status"] == "ready"


# --- 撤回 ---------------------------------------------------------------------------------------------------------


def test_withdraw_takes_back_a_step_until_the_next_holder_reads_the_task(api: ConventionsApi) -> None:
    case, register_task, triage = at_triage(api)
    assert api.task(register_task["id"], "ganjingzi1")["withdrawable"] is True
    # The province overseeing the case may read the next task: that is not a holder opening it.
    assert api.task(triage["id"], "shengzong_jingji1")["actions"] == ["view"]

    done = api.ok(api.post(f"/api/v1/tasks/{register_task['id']}/withdraw", "ganjingzi1", {"reason": "意见写错了"}))

    assert done["action"]["kind"] == "withdraw"
    assert [task["id"] for task in done["instance"]["tasks"]] == [register_task["id"]]
    register_step = next(step for step in done["instance"]["steps"] if step["name"] == "登记查重")
    assert register_step["withdrawn"] is True and register_step["withdrawn_at"] is not None
    assert_error(api.get(f"/api/v1/tasks/{triage['id']}", "jingji1"), 404)  # that triage no longer exists

    # Registered again; this time the city official reads the triage through the API first.
    register(api, case)
    triage = api.open_task(case["id"], "triage", "jingji1")
    assert api.task(triage["id"], "jingji1")["status"] == "ready"
    assert api.task(register_task["id"], "ganjingzi1")["withdrawable"] is False
    refused = assert_error(api.post(f"/api/v1/tasks/{register_task['id']}/withdraw", "ganjingzi1"), 409)
    assert "已查看" in refused["message"]


def test_only_the_author_may_withdraw_a_step(api: ConventionsApi) -> None:
    _case, register_task, _triage = at_triage(api)
    assert_error(api.post(f"/api/v1/tasks/{register_task['id']}/withdraw", "ganjingzi2"), 403)
    assert_error(api.post(f"/api/v1/tasks/{register_task['id']}/withdraw", "zhongshan1"), 404)
    assert_error(api.post(f"/api/v1/tasks/{UNKNOWN_TASK}/withdraw", "ganjingzi1"), 404)


# --- 加签 ---------------------------------------------------------------------------------------------------------


def test_a_signer_added_before_signs_first_then_the_holder_decides(api: ConventionsApi) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    path = f"/api/v1/tasks/{task['id']}/signers"

    done = api.ok(
        api.post(path, "ganjingzi1", {"user": "ganjingzi_head", "position": "before", "reason": "请领导把关"})
    )

    assert done["action"]["kind"] == "add_signer" and "前加签" in done["action"]["target"]
    [with_signer] = done["instance"]["tasks"]
    assert with_signer["assigned_to"] == "ganjingzi_head"
    assert api.task(task["id"], "ganjingzi1")["actions"] == ["view"]
    assert_error(api.complete(task["id"], "ganjingzi1", {"decision": "受理", "opinion": OPINION}), 409)
    signing = api.task(task["id"], "ganjingzi_head")
    assert signing["form"]["title"] == "加签意见" and signing["decision_field"] == "decision"
    assert "transfer" not in signing["actions"] and "complete" in signing["actions"]

    api.ok(api.complete(task["id"], "ganjingzi_head", SIGN))
    back = api.task(task["id"], "ganjingzi1")
    assert back["assigned_to"] is None and back["claimed_by"] == "ganjingzi1" and "complete" in back["actions"]
    api.ok(api.complete(task["id"], "ganjingzi1", {"decision": "受理", "opinion": OPINION}))

    steps = api.instance(case, "ganjingzi1")["steps"]
    assert [(step["name"], step["kind"], step["user"]) for step in steps[1:]] == [
        ("登记查重（前加签）", "added_sign", "ganjingzi_head"),
        ("登记查重", "step", "ganjingzi1"),
    ]


def test_a_signer_added_after_signs_before_the_case_moves_on(api: ConventionsApi) -> None:
    case, _register_task, triage = at_triage(api)
    api.ok(api.post(f"/api/v1/tasks/{triage['id']}/signers", "jingji1", {"user": "jingji_head", "position": "after"}))

    held = api.ok(api.complete(triage["id"], "jingji1", TRIAGE))
    assert [(task["id"], task["assigned_to"]) for task in held["next_tasks"]] == [(triage["id"], "jingji_head")]
    signed = api.ok(api.complete(triage["id"], "jingji_head", SIGN))

    assert [task["bpmn_id"] for task in signed["next_tasks"]] == ["verify"]
    steps = api.instance(case, "jingji1")["steps"]
    assert [(step["name"], step["kind"], step["user"]) for step in steps[2:]] == [
        ("分级研判", "step", "jingji1"),
        ("分级研判（后加签）", "added_sign", "jingji_head"),
    ]


def test_adding_a_signer_refuses_people_outside_the_units_chain(api: ConventionsApi) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    path = f"/api/v1/tasks/{task['id']}/signers"

    assert "上级单位" in field_error(api.post(path, "ganjingzi1", {"user": "zhongshan1", "position": "before"}), "user")
    assert "自己" in field_error(api.post(path, "ganjingzi1", {"user": "ganjingzi1", "position": "after"}), "user")
    field_error(api.post(path, "ganjingzi1", {"user": "nobody_here", "position": "before"}), "user")
    field_error(api.post(path, "ganjingzi1", {"user": "ganjingzi_head", "position": "sideways"}), "position")
    assert_error(api.post(path, "zhongshan1", {"user": "zhongshan1", "position": "before"}), 404)
    assert api.instance(case, "ganjingzi1")["tasks"][0]["assigned_to"] is None


# --- 催办 ---------------------------------------------------------------------------------------------------------


def test_urging_reminds_the_holder_once_a_day(api: ConventionsApi) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    api.ok(api.post(f"/api/v1/tasks/{task['id']}/claim", "ganjingzi1"))
    path = f"/api/v1/tasks/{task['id']}/urge"

    urged = api.ok(api.post(path, "jingji_head", {"message": "请尽快登记"}), 201)

    assert (urged["task_id"], urged["to"], urged["message"]) == (task["id"], "ganjingzi1", "请尽快登记")
    assert "频繁" in assert_error(api.post(path, "jingji_head"), 409)["message"]
    assert_error(api.post(path, "ganjingzi1"), 403)  # one's own task
    assert_error(api.post(path, "zhongshan1"), 404)
    [action] = api.instance(case, "ganjingzi1")["actions"]
    assert (action["kind"], action["user"], action["target_user"]) == ("urge", "jingji_head", "ganjingzi1")


# --- 批量审批 -----------------------------------------------------------------------------------------------------


def test_batch_completes_each_case_and_reports_the_ones_it_skipped(api: ConventionsApi) -> None:
    cases = [api.start_report(location=f"{n}号仓库") for n in range(3)]
    tasks = [api.open_task(case["id"], "register_report", "ganjingzi1") for case in cases]
    api.ok(api.post(f"/api/v1/tasks/{tasks[2]['id']}/claim", "ganjingzi2"))

    body = {"task_ids": [task["id"] for task in tasks] + [UNKNOWN_TASK], "decision": "受理", "opinion": OPINION}
    result = api.ok(api.post("/api/v1/tasks/batch-complete", "ganjingzi1", body))

    assert [item["task_id"] for item in result["completed"]] == [tasks[0]["id"], tasks[1]["id"]]
    assert [item["case_number"] for item in result["completed"]] == [cases[0]["number"], cases[1]["number"]]
    assert [task["bpmn_id"] for task in result["completed"][0]["next_tasks"]] == ["triage"]
    skipped = {item["task_id"]: item for item in result["skipped"]}
    assert skipped[tasks[2]["id"]]["case_number"] == cases[2]["number"]
    assert "认领" in skipped[tasks[2]["id"]]["reason"]
    assert skipped[UNKNOWN_TASK]["case_number"] is None
    for case, decided in zip(cases, (True, True, False), strict=True):
        steps = api.instance(case, "ganjingzi1")["steps"]
        assert [step["name"] for step in steps][-1] == ("登记查重" if decided else "发起：安全隐患报告")
        if decided:
            assert (steps[-1]["decision"], steps[-1]["opinion"]) == ("受理", OPINION)


def test_batch_refuses_tasks_of_different_steps_and_bad_input(api: ConventionsApi) -> None:
    waiting = api.start_report()
    at_verify, _register_task, triage = at_triage(api)
    api.ok(api.complete(triage["id"], "jingji1", TRIAGE))
    ids = [
        api.open_task(waiting["id"], "register_report", "ganjingzi1")["id"],
        api.open_task(at_verify["id"], "verify", "ganjingzi1")["id"],
    ]

    refused = assert_error(api.post("/api/v1/tasks/batch-complete", "ganjingzi1", {"task_ids": ids, "data": {}}), 409)
    assert "不属于同一环节" in refused["message"]
    assert api.open_task(waiting["id"], "register_report", "ganjingzi1")["status"] == "ready"
    field_error(api.post("/api/v1/tasks/batch-complete", "ganjingzi1", {"task_ids": []}), "task_ids")
    field_error(api.post("/api/v1/tasks/batch-complete", "ganjingzi1", {"task_ids": "x"}), "task_ids")
    # Someone who sees none of them completes nothing.
    nothing = api.ok(api.post("/api/v1/tasks/batch-complete", "zhongshan1", {"task_ids": ids, "data": {}}))
    assert nothing["completed"] == [] and {item["task_id"] for item in nothing["skipped"]} == set(ids)


# --- 抄送 ---------------------------------------------------------------------------------------------------------


def test_a_copy_shows_up_unread_under_copied_to_me_until_the_case_is_read(api: ConventionsApi) -> None:
    case = api.start_report()
    assert_error(api.get(f"/api/v1/instances/{case['id']}", "jingji1"), 404)  # not theirs at registration

    copies = api.ok(
        api.post(f"/api/v1/instances/{case['id']}/copies", "ganjingzi1", {"users": ["jingji1"], "note": "请知悉"}), 201
    )

    assert [(copy["user"], copy["copied_by"], copy["read_at"]) for copy in copies] == [("jingji1", "ganjingzi1", None)]
    unread = api.ok(api.get("/api/v1/copies", "jingji1", unread=1))
    assert unread["total"] == 1 and unread["items"][0]["instance_id"] == case["id"]
    assert unread["items"][0]["note"] == "请知悉" and unread["items"][0]["case_number"] == case["number"]

    assert api.instance(case, "jingji1")["actions"][0]["kind"] == "copy"

    assert api.ok(api.get("/api/v1/copies", "jingji1", unread=1))["total"] == 0
    [read] = api.ok(api.get("/api/v1/copies", "jingji1"))["items"]
    assert read["read_at"] is not None
    field_error(api.get("/api/v1/copies", "jingji1", unread="maybe"), "unread")


def test_copies_go_only_to_known_people_of_the_units_chain(api: ConventionsApi) -> None:
    case = api.start_report()
    path = f"/api/v1/instances/{case['id']}/copies"

    assert "不能抄送" in field_error(api.post(path, "ganjingzi1", {"users": ["jingji1", "zhongshan1"]}), "users")
    assert "nobody_here" in field_error(api.post(path, "ganjingzi1", {"users": ["nobody_here"]}), "users")
    field_error(api.post(path, "ganjingzi1", {"users": []}), "users")
    field_error(api.post(path, "ganjingzi1", {"users": ["ganjingzi1"]}), "users")
    assert_error(api.post(path, "zhongshan1", {"users": ["zhongshan1"]}), 404)
    assert api.ok(api.get("/api/v1/copies", "jingji1"))["total"] == 0


# --- 委托 ---------------------------------------------------------------------------------------------------------


def test_a_delegate_decides_the_principals_task_and_the_record_says_so(api: ConventionsApi) -> None:
    case, _register_task, triage = at_triage(api)
    later, _other_register, later_triage = at_triage(api, location="二号仓库北门")
    assert_error(api.get(f"/api/v1/tasks/{triage['id']}", "caiwu1"), 404)
    today = beijing_date(utcnow())
    body = {"delegate": "caiwu1", "ends_on": str(today + timedelta(days=3)), "reason": "休假"}

    created = api.ok(api.post("/api/v1/delegations", "jingji1", body), 201)

    assert (created["principal"], created["delegate"], created["starts_on"]) == ("jingji1", "caiwu1", str(today))
    assert created["active"] is True
    for username in ("jingji1", "caiwu1"):
        assert [item["id"] for item in api.ok(api.get("/api/v1/delegations", username))] == [created["id"]]
    as_delegate = api.task(triage["id"], "caiwu1")
    assert as_delegate["on_behalf_of"] == "jingji1" and "complete" in as_delegate["actions"]
    api.ok(api.complete(triage["id"], "caiwu1", TRIAGE))
    step = api.instance(case, "jingji1")["steps"][-1]
    assert (step["user"], step["on_behalf_of"], step["on_behalf_of_name"]) == ("caiwu1", "jingji1", "王建国")

    assert_error(api.delete(f"/api/v1/delegations/{created['id']}", "caiwu1"), 404)  # not the principal
    assert api.delete(f"/api/v1/delegations/{created['id']}", "jingji1").status_code == 204
    assert api.ok(api.get("/api/v1/delegations", "jingji1")) == []
    assert_error(api.get(f"/api/v1/tasks/{later_triage['id']}", "caiwu1"), 404)
    assert_error(api.delete(f"/api/v1/delegations/{created['id']}", "jingji1"), 404)  # already revoked
    assert later["id"] != case["id"]


def test_delegations_refuse_unknown_and_unfit_delegates_and_bad_dates(api: ConventionsApi) -> None:
    assert "本单位" in field_error(api.post("/api/v1/delegations", "jingji1", {"delegate": "zhongshan1"}), "delegate")
    field_error(api.post("/api/v1/delegations", "jingji1", {"delegate": "nobody_here"}), "delegate")
    field_error(api.post("/api/v1/delegations", "jingji1", {}), "delegate")
    field_error(api.post("/api/v1/delegations", "jingji1", {"delegate": "jingji2", "ends_on": "下周"}), "ends_on")
    field_error(api.post("/api/v1/delegations", "jingji1", {"delegate": "jingji2", "ends_on": "2020-01-01"}), "ends_on")
    assert api.ok(api.get("/api/v1/delegations", "jingji1")) == []


# --- 常用语、评论、附件 -------------------------------------------------------------------------------------------


def test_phrases_are_the_defaults_plus_ones_own(api: ConventionsApi) -> None:
    listed = api.ok(api.get("/api/v1/phrases", "ganjingzi1"))
    assert {"id": None, "text": "同意。", "own": False} in listed

    added = api.ok(api.post("/api/v1/phrases", "ganjingzi1", {"text": "请属地工会跟进。"}), 201)

    assert added["own"] is True and added["text"] == "请属地工会跟进。"
    assert added in api.ok(api.get("/api/v1/phrases", "ganjingzi1"))
    assert added not in api.ok(api.get("/api/v1/phrases", "ganjingzi2"))
    assert "已有" in field_error(api.post("/api/v1/phrases", "ganjingzi1", {"text": "同意。"}), "text")
    field_error(api.post("/api/v1/phrases", "ganjingzi1", {"text": "  "}), "text")
    assert_error(api.delete(f"/api/v1/phrases/{added['id']}", "ganjingzi2"), 404)
    assert api.delete(f"/api/v1/phrases/{added['id']}", "ganjingzi1").status_code == 204
    assert added not in api.ok(api.get("/api/v1/phrases", "ganjingzi1"))


def test_comments_on_a_case(api: ConventionsApi) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")
    path = f"/api/v1/instances/{case['id']}/comments"

    comment = api.ok(api.post(path, "ganjingzi2", {"body": "企业已电话确认。", "task_id": task["id"]}), 201)

    assert (comment["user"], comment["body"], comment["task_id"]) == ("ganjingzi2", "企业已电话确认。", task["id"])
    assert api.ok(api.get(path, "ganjingzi1")) == [comment]
    assert api.instance(case, "ganjingzi1")["comments"] == [comment]
    field_error(api.post(path, "ganjingzi2", {"body": " "}), "body")
    other = api.open_task(api.start_report()["id"], "register_report", "ganjingzi1")
    field_error(api.post(path, "ganjingzi2", {"body": "错放", "task_id": other["id"]}), "task_id")
    # The city admin sees the case but never acts on it.
    assert api.get(path, "admin").status_code == 200
    assert_error(api.post(path, "admin", {"body": "管理员评论"}), 403)
    assert_error(api.post(f"/api/v1/instances/{case['id']}/copies", "admin", {"users": ["jingji1"]}), 403)
    assert_error(api.get(path, "zhongshan1"), 404)
    assert_error(api.post(path, "zhongshan1", {"body": "看不到"}), 404)


def test_attachments_are_checked_stored_and_served(api: ConventionsApi, app: Flask) -> None:
    case = api.start_report()
    task = api.open_task(case["id"], "register_report", "ganjingzi1")

    stored = api.ok(api.upload(case["id"], "ganjingzi1", "现场照片.png", PNG, task_id=task["id"]), 201)

    assert (stored["filename"], stored["content_type"], stored["size"]) == ("现场照片.png", "image/png", len(PNG))
    assert stored["task_id"] == task["id"] and stored["uploaded_by"] == "ganjingzi1"
    assert api.instance(case, "ganjingzi2")["attachments"] == [stored]
    download = api.get(f"/api/v1/instances/{case['id']}/attachments/{stored['id']}", "ganjingzi2")
    assert download.status_code == 200 and download.data == PNG and download.mimetype == "image/png"
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    refused = field_error(api.upload(case["id"], "ganjingzi1", "说明.png", b"just some text"), "file")
    assert "JPEG" in refused and "PNG" in refused
    field_error(api.post(f"/api/v1/instances/{case['id']}/attachments", "ganjingzi1", {}), "file")
    app.config["CASE_UPLOAD_MAX_BYTES"] = 10
    assert "超过" in field_error(api.upload(case["id"], "ganjingzi1", "大图.png", PNG), "file")
    assert_error(api.upload(case["id"], "zhongshan1", "现场照片.png", PNG), 404)
    assert_error(api.get(f"/api/v1/instances/{case['id']}/attachments/{stored['id']}", "zhongshan1"), 404)
    assert_error(api.get(f"/api/v1/instances/{api.start_report()['id']}/attachments/{stored['id']}", "ganjingzi1"), 404)
    assert len(api.instance(case, "ganjingzi1")["attachments"]) == 1


# --- another unit's token -----------------------------------------------------------------------------------------


def test_another_units_token_can_neither_see_nor_act(api: ConventionsApi) -> None:
    case, register_task, triage = at_triage(api)
    outsider = "zhongshan1"
    for path, body in [
        (f"/api/v1/tasks/{triage['id']}/transfer", {"to_user": outsider, "reason": "x"}),
        (f"/api/v1/tasks/{triage['id']}/return", {"target_task_id": register_task["id"], "reason": "x"}),
        (f"/api/v1/tasks/{register_task['id']}/withdraw", {}),
        (f"/api/v1/tasks/{triage['id']}/signers", {"user": outsider, "position": "before"}),
        (f"/api/v1/tasks/{triage['id']}/urge", {}),
        (f"/api/v1/instances/{case['id']}/copies", {"users": [outsider]}),
        (f"/api/v1/instances/{case['id']}/comments", {"body": "x"}),
    ]:
        assert_error(api.post(path, outsider, body), 404)
    for path in (
        f"/api/v1/tasks/{triage['id']}",
        f"/api/v1/tasks/{triage['id']}/return-targets",
        f"/api/v1/instances/{case['id']}",
        f"/api/v1/instances/{case['id']}/comments",
    ):
        assert_error(api.get(path, outsider), 404)
    assert api.instance(case, "ganjingzi1")["actions"] == []
    assert api.instance(case, "ganjingzi1")["comments"] == []


# --- the document describes what the endpoints answer ------------------------------------------------------------


def conforms(answer: Any, schema_name: str) -> None:
    doc = document()
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": doc["components"]}
    errors = [error.message for error in Draft202012Validator(root).iter_errors(answer)]
    assert not errors, (schema_name, errors)


def test_answers_match_the_openapi_document(api: ConventionsApi) -> None:
    case, register_task, triage = at_triage(api)
    api.ok(api.post(f"/api/v1/instances/{case['id']}/comments", "ganjingzi1", {"body": "已电话联系企业。"}), 201)
    conforms(api.ok(api.upload(case["id"], "ganjingzi1", "现场.png", PNG), 201), "Attachment")
    for copy in api.ok(api.post(f"/api/v1/instances/{case['id']}/copies", "ganjingzi1", {"users": ["caiwu1"]}), 201):
        conforms(copy, "Copy")
    conforms(api.ok(api.post(f"/api/v1/tasks/{triage['id']}/urge", "shengzong_jingji1"), 201), "Urged")
    for target in api.ok(api.get(f"/api/v1/tasks/{triage['id']}/return-targets", "jingji1")):
        conforms(target, "ReturnTarget")
    body = {"target_task_id": register_task["id"], "reason": "请补充现场照片。"}
    conforms(api.ok(api.post(f"/api/v1/tasks/{triage['id']}/return", "jingji1", body)), "Handled")
    conforms(api.task(register_task["id"], "ganjingzi1"), "TaskDetail")
    conforms(api.instance(case, "ganjingzi1"), "Instance")
    conforms(api.ok(api.get("/api/v1/copies", "caiwu1")), "CopyPage")
    conforms(api.ok(api.post("/api/v1/delegations", "jingji1", {"delegate": "jingji2"}), 201), "Delegation")
    for phrase in api.ok(api.get("/api/v1/phrases", "jingji1")):
        conforms(phrase, "Phrase")
    batch = {"task_ids": [register_task["id"]], "decision": "受理", "opinion": OPINION}
    conforms(api.ok(api.post("/api/v1/tasks/batch-complete", "ganjingzi1", batch)), "BatchResult")
