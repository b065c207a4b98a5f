"""Hypothesis fuzzing of every form shipped in forms/ (issue #5): random values for every field, never a crash.

Two levels:
- The server-side validation itself (`forms.validate_submission`), for every schema in forms/, with values of the
  right and the wrong types, empty, huge, out of range, nested junk and unusual Unicode (control characters, NUL,
  lone surrogates a JSON body can carry): it either accepts, returning data that serialises canonically, or raises
  FormValidationError whose every message names its field in Chinese ("<field title>：<reason>"). Nothing else.
- The real endpoints, with a bounded number of posts: each task form through the web task page of a case waiting at
  that step (the holder signed in), the start form through 发起, and the public report page and its mobile-app
  JSON endpoint. Whatever is posted, the answer is never a server error (in testing mode an exception would
  propagate and fail the test): a valid submission is accepted, anything else refused with a Chinese 4xx.

The whole file stays under ~20 s on two cores; UNIONFLOW_FUZZ_SCALE multiplies the example counts.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

import forms
from forms.html_form import field_views, flat_values, leaf_fields
from forms.loader import resolve_ref, schema_at
from tests.conftest import AuthActions
from tests.workflow_helpers import complete, intake, open_steps, open_task, start_report, user
from workflows.db import utcnow
from workflows.models import TaskIndexEntry, TaskStatus
from workflows.signing import SignPosition, add_signer
from workflows.timers import fire_due_timers

# UNIONFLOW_FUZZ_SCALE=10 multiplies every example count, for a longer hunt than the suite's bounded run.
SCALE = int(os.environ.get("UNIONFLOW_FUZZ_SCALE", "1"))
HAN = re.compile(r"[\u4e00-\u9fff]")
# Hypothesis settings shared by every fuzz test: bounded, no deadline (the first request warms caches), no example
# database in the working tree, and no shrinking (a failure is reported as drawn; the runs stay short). The suite's
# run draws the same examples every time (derandomized: a failure reproduces); a scaled-up hunt draws fresh ones.
BOUNDED = {
    "derandomize": SCALE == 1,
    "deadline": None,
    "database": None,
    "phases": [Phase.explicit, Phase.generate],
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}

# --- Values ------------------------------------------------------------------------------------------------------

weird_text = st.text(
    # Every code point except lone surrogates (those are tried on purpose below): control characters, combining
    # marks, right-to-left overrides, private use, astral planes.
    alphabet=st.characters(exclude_categories=["Cs"]),
    max_size=40,
)
hostile_text = st.sampled_from(
    [
        "",
        "   ",
        "\x00",
        "前\x00后",
        "\ud800",
        "a\udfffb",
        "\u202egpj.exe",
        "<script>alert(1)</script>",
        '" onmouseover="alert(1)',
        "=HYPERLINK(\"http://x\")",
        "1e999",
        "NaN",
        "-0",
        "9" * 400,
        "１２３",
        "2026-02-30",
        "2026-13-01",
        "0000-00-00",
        "99999-01-01",
        "2026-11-20T25:61",
    ]
)
huge_text = st.sampled_from([20_001, 4_001, 1_001, 201]).map(lambda size: "长" * size)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**31, 2**63, 10**40, 1e308, -1e-308, Decimal("0.001"), Decimal("1E+400")]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, weird_text, hostile_text)
junk = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(weird_text, children, max_size=4)
    ),
    max_leaves=10,
)


def _field_strategy(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for one field: plausible ones for its type and format, and junk of every other kind."""
    schema = resolve_ref(schema, root)
    plausible: list[st.SearchStrategy[Any]] = [junk, hostile_text, huge_text]
    if "enum" in schema:
        plausible.append(st.sampled_from(list(schema["enum"])))
    kind = schema.get("type")
    if kind == "object":
        plausible.append(_object_strategy(schema, root))
    elif kind == "array" and isinstance(schema.get("items"), dict):
        plausible.append(st.lists(_field_strategy(schema["items"], root), max_size=3))
    elif kind in ("integer", "number"):
        plausible += [numbers, numbers.map(str)]
    elif kind == "boolean":
        plausible.append(st.sampled_from([True, False, "true", "false", "on", "是", "否", "maybe", 1, 0, 2]))
    fmt = schema.get("format")
    if fmt in ("date", "date-time"):
        plausible.append(st.dates().map(str))
        plausible.append(st.datetimes().map(lambda moment: moment.isoformat(sep=" ", timespec="minutes")))
    return st.one_of(plausible)


def _object_strategy(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    fields = forms.loader.declared_properties(schema, root)
    declared = st.fixed_dictionaries({}, optional={name: _field_strategy(sub, root) for name, sub in fields.items()})
    extra = st.dictionaries(weird_text, junk, max_size=2)
    return st.tuples(declared, extra).map(lambda both: {**both[1], **both[0]})


def submissions(form: forms.FormDefinition) -> st.SearchStrategy[dict[str, Any]]:
    return _object_strategy(form.schema, form.schema)


ALL_FORMS = forms.list_forms()


def test_every_form_in_the_package_is_fuzzed() -> None:
    # A new form is fuzzed without touching this file; this only guards against loading none at all.
    assert len(ALL_FORMS) >= 13 and "hazard-intake" in ALL_FORMS


# --- Level 1: the validation itself --------------------------------------------------------------------------


def _assert_names_its_field(form: forms.FormDefinition, key: str, message: str) -> None:
    assert isinstance(message, str) and HAN.search(message), (key, message)
    label, separator, reason = message.partition("：")
    assert separator and label.strip() and reason.strip(), (key, message)
    path: list[str | int] = [int(part) if part.isdigit() else part for part in key.split(".")] if key else []
    title = schema_at(form.schema, tuple(path)).get("title")
    if title:
        assert label.startswith(str(title)), f"{key}: {message!r} does not name {title!r}"


@pytest.mark.parametrize("name", ALL_FORMS)
def test_validation_accepts_or_names_every_bad_field_never_raises(name: str) -> None:
    form = forms.load_form(name)

    @given(raw=submissions(form))
    @settings(max_examples=150 * SCALE, **BOUNDED)  # type: ignore[arg-type]
    def check(raw: dict[str, Any]) -> None:
        try:
            data = forms.validate_submission(form, raw)
        except forms.FormValidationError as refused:
            assert refused.errors
            for key, message in refused.errors.items():
                _assert_names_its_field(form, key, message)
            return
        # Accepted data is what gets stored and hashed into the approval record.
        json.loads(forms.canonical_json(data))
        forms.canonical_json(data).encode("utf-8")

    check()


def test_text_no_database_can_store_is_a_field_error() -> None:
    form = forms.load_form("hazard-triage")
    for bad in ("\x00", "同意\x00", "\ud800同意"):
        with pytest.raises(forms.FormValidationError) as refused:
            forms.validate_submission(form, {"triage_level": "一般", "opinion": bad})
        assert refused.value.errors["opinion"].startswith("审批意见：含有不允许的字符")


# --- Level 2: the real endpoints -----------------------------------------------------------------------------

OPINION = "经研究，同意。"


def _deadline(days: int) -> str:
    return (utcnow() + timedelta(days=days)).date().isoformat()


# The major-hazard path, each step with its holder and valid data, in an order the process accepts.
PATH: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
    ("register_report", "ganjingzi1", lambda: {"decision": "受理", "opinion": OPINION}),
    ("triage", "jingji1", lambda: {"triage_level": "可能重大", "opinion": OPINION}),
    (
        "verify",
        "ganjingzi1",
        lambda: {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": "属实",
            "hazard_level": "重大",
            "reporter_responsible": "false",
            "evidence": "现场照片三张。",
            "opinion": OPINION,
        },
    ),
    (
        "notify_regulator",
        "ganjingzi2",
        lambda: {
            "regulator_name": "甘井子区应急管理局",
            "notified_on": "2026-11-21",
            "document_number": "甘工通〔2026〕7号",
            "summary": "配电箱带电部位裸露。",
        },
    ),
    (
        "rectify_notice",
        "ganjingzi1",
        lambda: {
            "rectification_mode": "限期整改",
            "notice_number": "甘工整改〔2026〕3号",
            "rectification_deadline": _deadline(10),
            "requirements": "更换配电箱门并加锁。",
            "responsible_person": "安全科王科长",
        },
    ),
    ("enterprise_reply", "ganjingzi1", lambda: {"reply_date": "2026-11-28", "measures": "已更换配电箱门。"}),
    (
        "reinspect",
        "ganjingzi2",
        lambda: {
            "reinspection_date": "2026-12-01",
            "reinspection_result": "整改合格",
            "findings": "复查确认已整改。",
            "opinion": OPINION,
        },
    ),
    ("reward_decision", "jingji2", lambda: {"decision": "同意", "reward_amount": "3000", "opinion": OPINION}),
    (
        "reward_payment",
        "caiwu1",
        lambda: {
            "notice_date": "2026-12-02",
            "payee_name": "李大勇",
            "bank_name": "中国农业银行大连甘井子支行",
            "card_number": "6228480040000123451",
            "paid_amount": "3000",
            "paid_date": "2026-12-02",
            "voucher_number": "付2026-1201",
        },
    ),
    (
        "feedback_close",
        "ganjingzi1",
        lambda: {
            "feedback_date": "2026-12-03",
            "feedback_channel": "电话",
            "feedback_content": "已告知处理结果。",
            "opinion": OPINION,
        },
    ),
]


@dataclass
class Waiting:
    """An open task of some form, and who may complete it; rebuilt whenever a fuzzed post completes it."""

    form: str
    username: str
    valid: dict[str, Any]
    build: Callable[[], str]
    task_id: str = field(default="")

    def refresh(self) -> None:
        self.task_id = self.build()


def _walk_to(db: Session, target: str) -> str:
    """A fresh case waiting at `target` on the major-hazard path; its task id."""
    case = start_report(db, "ganjingzi1", location=f"模糊测试{utcnow().timestamp()}号仓库")
    for step, username, data in PATH:
        if step == target:
            break
        complete(db, username, case, step, data())
    task_id = open_task(db, case, target).task_id
    db.commit()
    return task_id


def _escalated(db: Session) -> str:
    """A case whose rectification deadline passed: the city's 督办 step is open."""
    case = start_report(db, "ganjingzi1", location=f"逾期测试{utcnow().timestamp()}号仓库")
    for step, username, data in PATH:
        complete(db, username, case, step, data())
        if step == "rectify_notice":
            break
    fire_due_timers(db, utcnow() + timedelta(days=30))
    assert "escalate_overdue" in open_steps(db, case)
    task_id = open_task(db, case, "escalate_overdue").task_id
    db.commit()
    return task_id


def _added_sign(db: Session) -> str:
    """A registration whose holder asked the head to sign first (前加签): the head's task carries added-sign."""
    case = start_report(db, "ganjingzi1", location=f"加签测试{utcnow().timestamp()}号仓库")
    entry = open_task(db, case, "register_report")
    add_signer(db, user(db, "ganjingzi1"), case.id, entry.task_id, user(db, "ganjingzi_head"), SignPosition.BEFORE)
    db.commit()
    return entry.task_id


def _waiting_tasks(db: Session) -> Iterator[Waiting]:
    for step, username, data in PATH:
        yield Waiting(step, username, data(), lambda step=step: _walk_to(db, step))  # type: ignore[misc]
    escalation = {"urge_measures": "电话督促企业负责人限期完成。", "opinion": OPINION}
    yield Waiting("escalate_overdue", "jingji1", escalation, lambda: _escalated(db))
    yield Waiting("added-sign", "ganjingzi_head", {"decision": "同意", "opinion": OPINION}, lambda: _added_sign(db))


def _postable(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= char <= "\udfff" for char in text)


def _posted_strings(
    form: forms.FormDefinition, valid: dict[str, str] | None = None
) -> st.SearchStrategy[MultiDict[str, str]]:
    """A browser-like post: text for some of the form's dotted field names (repeated, blank or missing), plus
    names the form does not have; or, given `valid` data, that data with some fields replaced by such text, which
    reaches past validation into the process hooks more often. Browsers post text only: every value is a string.
    Left out: a NUL (the edge refuses it before the form, tests/test_security_headers.py) and lone surrogates
    (a form post is UTF-8 bytes, which cannot carry them; JSON bodies can, and are fuzzed with them below)."""
    views = list(leaf_fields(field_views(form)))
    names = [view.name for view in views]
    text = st.one_of(
        weird_text.filter(lambda value: "\x00" not in value),
        hostile_text.filter(_postable),
        huge_text,
        st.sampled_from([option for view in views for option in view.options] or [""]),
        numbers.map(str),
        st.dates().map(str),
    )
    name = st.one_of(st.sampled_from(names), weird_text.filter(lambda value: "\x00" not in value))
    random_post = st.lists(st.tuples(name, text), max_size=len(names) + 3).map(MultiDict)
    if valid is None:
        return random_post
    base = valid

    def mutate(changes: dict[str, str]) -> MultiDict[str, str]:
        return MultiDict({**base, **changes})

    return st.one_of(random_post, st.dictionaries(st.sampled_from(names), text, min_size=1, max_size=2).map(mutate))


@pytest.fixture
def fuzz_app(app: Flask) -> Flask:
    # The public page's hourly allowance would otherwise refuse the fuzzer after five reports.
    app.config["PUBLIC_REPORTS_PER_HOUR"] = 100_000
    return app


def _fuzz_task(client: FlaskClient, db: Session, waiting: Waiting, form: forms.FormDefinition) -> set[int]:
    statuses: set[int] = set()

    @given(post=_posted_strings(form, flat_values(waiting.valid)))
    @settings(max_examples=8 * SCALE, **BOUNDED)  # type: ignore[arg-type]
    def post_form(post: MultiDict[str, str]) -> None:
        answer = client.post(f"/tasks/{waiting.task_id}", data=post)
        statuses.add(answer.status_code)
        assert answer.status_code in (302, 303, 400, 409, 413, 422), (waiting.form, answer.status_code)
        if answer.status_code in (302, 303) and not _still_open(db, waiting.task_id):
            waiting.refresh()  # accepted: the next example needs a task at this step again

    post_form()
    return statuses


def test_task_forms_through_the_web_never_answer_a_server_error(
    fuzz_app: Flask, client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    statuses: dict[str, set[int]] = {}
    for waiting in _waiting_tasks(app_db):
        waiting.refresh()
        entry = app_db.get(TaskIndexEntry, _index_id(app_db, waiting.task_id))
        assert entry is not None and entry.form_name
        auth.logout()
        assert auth.login(waiting.username).status_code == 302
        statuses[waiting.form] = _fuzz_task(client, app_db, waiting, forms.load_form(entry.form_name))
    assert set(statuses) == {waiting.form for waiting in _waiting_tasks(app_db)}
    # The fuzzed posts were refused field by field (422), not merely bounced by something before the form.
    assert all(422 in answered for answered in statuses.values()), statuses


def _index_id(db: Session, task_id: str) -> int:
    found = db.scalar(select(TaskIndexEntry.id).where(TaskIndexEntry.task_id == task_id))
    assert found is not None
    return found


def _still_open(db: Session, task_id: str) -> bool:
    db.expire_all()
    status = db.scalar(select(TaskIndexEntry.status).where(TaskIndexEntry.task_id == task_id))
    return status == TaskStatus.READY.value


def test_the_start_form_through_the_web_never_answers_a_server_error(
    fuzz_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    form = forms.load_form("hazard-intake")
    auth.login("ganjingzi1")

    @given(post=_posted_strings(form, flat_values(intake())))
    @settings(max_examples=25 * SCALE, **BOUNDED)  # type: ignore[arg-type]
    def post_start(post: MultiDict[str, str]) -> None:
        answer = client.post("/start/hazard_report", data=post)
        assert answer.status_code in (302, 303, 400, 413, 422), answer.status_code

    post_start()


def test_the_public_report_page_and_its_api_never_answer_a_server_error(
    fuzz_app: Flask, client: FlaskClient
) -> None:
    form = forms.load_form("hazard-intake")
    report = {name: value for name, value in flat_values(intake()).items() if name != "channel"}

    @given(post=_posted_strings(form, report))
    @settings(max_examples=25 * SCALE, **BOUNDED)  # type: ignore[arg-type]
    def post_page(post: MultiDict[str, str]) -> None:
        answer = client.post("/report", data=post)
        assert answer.status_code in (302, 303, 400, 413, 422), answer.status_code

    @given(data=st.one_of(submissions(form), junk))
    @settings(max_examples=25 * SCALE, **BOUNDED)  # type: ignore[arg-type]
    def post_api(data: Any) -> None:
        # Decimal, NaN and infinity as JSON numbers; a lone surrogate as the escape a JSON encoder writes for it.
        body = json.dumps({"data": data}, default=str)
        answer = client.post("/api/v1/public/hazard-reports", data=body, content_type="application/json")
        assert answer.status_code in (201, 400, 413, 422), (answer.status_code, answer.get_data(as_text=True)[:300])
        refusal = answer.get_json()
        if answer.status_code == 422:
            assert all(HAN.search(message) for message in refusal["errors"].values()), refusal
        elif answer.status_code == 400:
            assert HAN.search(refusal["message"]), refusal

    post_page()
    post_api()
