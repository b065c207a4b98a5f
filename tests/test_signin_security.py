"""Sign-in lockout, CSRF on every form post, languages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import user
from webapp import create_app
from webapp import database as webapp_database
from workflows.db import utcnow
from workflows.demo import DEMO_PASSWORD


def test_five_failures_lock_the_account_even_for_the_right_password(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    for _ in range(4):
        assert "用户名或密码错误" in auth.login("ganjingzi1", "wrong-password").get_data(as_text=True)
    locked = client.post("/login", data={"username": "ganjingzi1", "password": "wrong"}, follow_redirects=True)
    assert "登录失败次数过多，账户已锁定至" in locked.get_data(as_text=True)

    right = client.post("/login", data={"username": "ganjingzi1", "password": DEMO_PASSWORD})
    assert right.status_code == 200  # the form again, not the redirect to the inbox
    assert client.get("/").status_code == 302
    app_db.expire_all()
    assert user(app_db, "ganjingzi1").locked_until is not None


def test_the_lock_ends_by_itself_and_success_resets_the_count(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    account = user(app_db, "ganjingzi1")
    account.locked_until = utcnow() - timedelta(seconds=1)
    account.failed_logins = 3
    app_db.commit()
    assert auth.login().status_code == 302
    app_db.expire_all()
    assert user(app_db, "ganjingzi1").failed_logins == 0


def test_failures_are_counted_per_account(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    for _ in range(2):
        auth.login("ganjingzi1", "wrong-password")
    app_db.expire_all()
    assert user(app_db, "ganjingzi1").failed_logins == 2
    assert user(app_db, "ganjingzi2").failed_logins == 0


def test_sign_in_redirects_to_the_page_asked_for_but_never_off_site(client: FlaskClient) -> None:
    data = {"username": "ganjingzi1", "password": DEMO_PASSWORD}
    inside = client.post("/login?next=/start", data=data)
    assert inside.headers["Location"] == "/start"
    client.post("/logout")
    outside = client.post("/login?next=//evil.example/x", data=data)
    assert outside.headers["Location"] == "/"


# --- CSRF --------------------------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_database_url: str) -> Iterator[Flask]:
    application = create_app({"TESTING": True, "DATABASE_URL": app_database_url, "SECRET_KEY": "test"})
    yield application
    webapp_database.engine(application).dispose()


def _placeholder(converter: str) -> str:
    return {"int": "1"}.get(converter, "x")


def test_every_form_post_without_a_token_is_refused(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    posts = [
        rule
        for rule in csrf_app.url_map.iter_rules()
        if "POST" in (rule.methods or set()) and not rule.rule.startswith("/api/")
    ]
    assert {rule.endpoint for rule in posts} >= {"auth.login", "auth.logout", "tasks.complete", "tasks.claim"}
    for rule in posts:
        path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: _placeholder(m.group(1) or ""), rule.rule)
        answer = client.post(path, data={"username": "ganjingzi1", "password": DEMO_PASSWORD})
        assert answer.status_code == 400, rule.rule
        assert "页面已过期或来源不明" in answer.get_data(as_text=True), rule.rule


def test_a_post_with_the_page_token_is_accepted(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/login", data={"username": "ganjingzi1", "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 302


# --- Languages ---------------------------------------------------------------------------------------------------


def test_chinese_by_default_even_for_an_english_browser(client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    html = client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "部门待办" in html


def test_english_can_be_chosen_and_chinese_chosen_back(client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    chosen = client.post("/lang/en", data={"next": "/?view=queue"})
    assert chosen.headers["Location"] == "/?view=queue"
    html = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Department queue" in html and "部门待办" not in html
    client.post("/lang/zh_CN", data={"next": "https://evil.example/"})
    assert "部门待办" in client.get("/").get_data(as_text=True)
