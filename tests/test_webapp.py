"""The Flask application: configuration, sign-in and the first inbox page."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import start_report, user
from webapp import create_app
from webapp.database import engine, session_factory
from workflows import queries
from workflows.models import ProcessInstance, User

# Variables that would otherwise let create_app find a key or enter demo mode from the developer's shell.
_KEY_ENV = ("FLASK_SECRET_KEY", "FLASK_DEMO_MODE", "FLASK_TESTING", "UNIONFLOW_DEMO")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*_KEY_ENV, "FLASK_DATABASE_URL", "DATABASE_URL", "FLASK_RUN_SCHEDULER"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _url(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path / name}"


def start_hazard_case(app: Flask) -> ProcessInstance:
    with session_factory(app)() as session:
        case = start_report(session)
        session.commit()
    return case


def nav_count(html: str, view: str, label: str) -> int:
    match = re.search(rf'data-view="{view}">{label}<span class="count">(\d+)</span>', html)
    assert match is not None, f"no {label} in the navigation"
    return int(match.group(1))


def my_count(html: str) -> int:
    return nav_count(html, "mine", "待办")


def queue_count(html: str) -> int:
    return nav_count(html, "queue", "部门待办")


def inbox_counts(client: FlaskClient, auth: AuthActions, username: str) -> tuple[int, int]:
    auth.login(username)
    html = client.get("/").get_data(as_text=True)
    auth.logout()
    return my_count(html), queue_count(html)


def count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


# --- configuration -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, ""])
def test_refuses_to_start_without_secret_key(clean_env: pytest.MonkeyPatch, tmp_path: Path, key: str | None) -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"DATABASE_URL": _url(tmp_path, "app.db"), "SECRET_KEY": key})


def test_demo_mode_starts_without_secret_key_with_a_random_one(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = create_app({"DEMO_MODE": True, "DATABASE_URL": _url(tmp_path, "app.db")})
    second = create_app({"DEMO_MODE": True, "DATABASE_URL": _url(tmp_path, "app.db")})

    assert isinstance(first.config["SECRET_KEY"], str)
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]


def test_demo_mode_comes_from_unionflow_demo_env(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("UNIONFLOW_DEMO", "1")

    app = create_app({"DATABASE_URL": _url(tmp_path, "app.db")})

    assert app.config["DEMO_MODE"] is True
    assert app.config["SECRET_KEY"]


def test_tests_start_without_secret_key(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": _url(tmp_path, "app.db")})

    assert app.config["SECRET_KEY"]


def test_flask_prefixed_environment_variables_are_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("FLASK_DATABASE_URL", _url(tmp_path, "from-env.db"))
    clean_env.setenv("FLASK_SECRET_KEY", "key-from-env")
    clean_env.setenv("FLASK_SCHEDULER_INTERVAL_SECONDS", "5")

    app = create_app()

    assert app.config["DATABASE_URL"] == _url(tmp_path, "from-env.db")
    assert engine(app).url.database == str(tmp_path / "from-env.db")
    assert app.config["SECRET_KEY"] == "key-from-env"
    assert app.config["SCHEDULER_INTERVAL_SECONDS"] == 5  # values are parsed as JSON


def test_flask_database_url_wins_over_plain_database_url(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("DATABASE_URL", _url(tmp_path, "plain.db"))
    clean_env.setenv("FLASK_SECRET_KEY", "k")
    assert create_app().config["DATABASE_URL"] == _url(tmp_path, "plain.db")

    clean_env.setenv("FLASK_DATABASE_URL", _url(tmp_path, "prefixed.db"))
    assert create_app().config["DATABASE_URL"] == _url(tmp_path, "prefixed.db")


def test_test_config_overrides_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("FLASK_DATABASE_URL", _url(tmp_path, "from-env.db"))
    clean_env.setenv("FLASK_SECRET_KEY", "key-from-env")

    app = create_app({"DATABASE_URL": _url(tmp_path, "from-config.db"), "SECRET_KEY": "key-from-config"})

    assert app.config["DATABASE_URL"] == _url(tmp_path, "from-config.db")
    assert engine(app).url.database == str(tmp_path / "from-config.db")
    assert app.config["SECRET_KEY"] == "key-from-config"


def test_session_cookie_is_httponly_and_samesite_lax(app: Flask, auth: AuthActions) -> None:
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"

    response = auth.login()

    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(app.config["SESSION_COOKIE_NAME"])]
    assert len(cookies) == 1
    assert "HttpOnly" in cookies[0]
    assert "SameSite=Lax" in cookies[0]


# --- pages -------------------------------------------------------------------------------------------------------


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_anonymous_inbox_redirects_to_login(client: FlaskClient) -> None:
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_login_page_is_chinese(client: FlaskClient) -> None:
    response = client.get("/login")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "用户名" in html
    assert "密码" in html


def test_wrong_password_is_rejected_and_stays_signed_out(client: FlaskClient, auth: AuthActions) -> None:
    response = auth.login(password="not-the-password")

    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    with client.session_transaction() as flask_session:
        assert "_user_id" not in flask_session
    assert client.get("/").status_code == 302


def test_unknown_user_is_rejected_with_the_same_message(client: FlaskClient, auth: AuthActions) -> None:
    response = auth.login(username="nobody")

    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_login_shows_the_chinese_inbox(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    response = auth.login()
    assert response.status_code == 302
    assert response.headers["Location"] == "/"

    page = client.get("/")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert "马晓东" in html  # ganjingzi1's display name in the header
    assert "退出" in html
    assert "我发起" in html
    # The navigation carries the same counts as the workflow layer's inbox queries.
    with session_factory(app)() as session:
        official = user(session, "ganjingzi1")
        mine = count(session, queries.my_tasks_query(official))
        queue = count(session, queries.department_queue_query(official))
    assert (my_count(html), queue_count(html)) == (mine, queue)


def test_new_case_appears_in_the_district_queue_only(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    # The seeded database holds demo cases already, so the counts are compared before and after.
    before = {name: inbox_counts(client, auth, name) for name in ("ganjingzi1", "ganjingzi2", "zhongshan1")}

    case = start_hazard_case(app)
    assert case.case_number

    for name in ("ganjingzi1", "ganjingzi2"):  # the reporter and a colleague in the same district union
        auth.login(name)
        html = client.get("/").get_data(as_text=True)
        assert queue_count(html) == before[name][1] + 1, name
        assert my_count(html) == before[name][0], name
        assert case.case_number in client.get("/?view=queue").get_data(as_text=True), name
        auth.logout()

    auth.login("zhongshan1")  # another district: not theirs
    html = client.get("/").get_data(as_text=True)
    assert (my_count(html), queue_count(html)) == before["zhongshan1"]
    assert case.case_number not in html


def test_the_navigation_caps_a_long_history(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    """已办 and 我发起 are counted up to NAV_HISTORY_CAP (issue #9); 待办 and 部门待办 always exactly."""
    for _ in range(2):
        start_hazard_case(app)  # started by ganjingzi1, waiting in 甘井子区's queue
    app.config["NAV_HISTORY_CAP"] = 1
    auth.login("ganjingzi1")
    html = client.get("/").get_data(as_text=True)
    assert re.search(r'data-view="started">我发起<span class="count">1\+</span>', html)
    assert queue_count(html) >= 2  # not capped


def test_logout_ends_the_session(client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    assert client.get("/").status_code == 200

    response = auth.logout()

    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    with client.session_transaction() as flask_session:
        assert "_user_id" not in flask_session
    assert client.get("/").status_code == 302


def test_logout_is_post_only(client: FlaskClient, auth: AuthActions) -> None:
    auth.login()

    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_deactivated_user_loses_access(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    auth.login()
    assert client.get("/").status_code == 200

    with session_factory(app)() as session:
        session.execute(update(User).where(User.username == "ganjingzi1").values(active=False))
        session.commit()

    assert client.get("/").status_code == 302
    response = auth.login()
    assert "用户名或密码错误" in response.get_data(as_text=True)
