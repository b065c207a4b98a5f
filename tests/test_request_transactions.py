"""How a request's transaction ends (webapp.database): what the view did not commit is rolled back; a transaction that
wrote nothing ends with COMMIT on PostgreSQL, so the connection keeps its prepared statements (issue #9 §2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from webapp.database import engine, get_session, wrote_nothing
from workflows.models import WorkingDayOverride

PROBE_DAY = date(2031, 1, 2)


@pytest.fixture
def probe_app(app: Flask) -> Flask:
    """The app with views that write and never commit: one flushes its row, one leaves it pending."""

    def flushed() -> str:
        session = get_session()
        session.add(WorkingDayOverride(day=PROBE_DAY, is_working_day=False, note="flushed"))
        session.flush()
        return "ok"

    def pending() -> str:
        session = get_session()
        session.scalar(select(WorkingDayOverride.id).limit(1))  # a transaction is open: the row waits to be flushed
        session.add(WorkingDayOverride(day=PROBE_DAY, is_working_day=False, note="pending"))
        return "ok"

    app.add_url_rule("/_probe/flushed", "probe_flushed", flushed)
    app.add_url_rule("/_probe/pending", "probe_pending", pending)
    return app


@pytest.fixture
def endings(app: Flask) -> Iterator[list[str]]:
    """How each transaction on the app's engine ended, in order."""
    ended: list[str] = []
    listeners = {"commit": lambda _conn: ended.append("commit"), "rollback": lambda _conn: ended.append("rollback")}
    for name, listener in listeners.items():
        event.listen(engine(app), name, listener)
    yield ended
    for name, listener in listeners.items():
        event.remove(engine(app), name, listener)


def is_postgres(app: Flask) -> bool:
    return engine(app).dialect.name == "postgresql"


@pytest.mark.parametrize("view", ["flushed", "pending"])
def test_what_a_view_does_not_commit_is_rolled_back(
    probe_app: Flask, app_db: Session, endings: list[str], view: str
) -> None:
    response = probe_app.test_client().get(f"/_probe/{view}")
    assert response.status_code == 200
    assert endings[-1] == "rollback"
    assert app_db.scalar(select(WorkingDayOverride).where(WorkingDayOverride.day == PROBE_DAY)) is None


def test_a_page_that_only_reads_ends_with_commit_on_postgresql(
    app: Flask, client: FlaskClient, auth: AuthActions, endings: list[str]
) -> None:
    auth.login("jingji_head")
    endings.clear()
    assert client.get("/plans/").status_code == 200
    # The page's own session, and the plan structure's loader on a cold cache, each end their transaction once.
    if is_postgres(app):
        assert endings and set(endings) == {"commit"}
    else:
        assert endings[-1] == "rollback"  # SQLite keeps its statements either way: the request's ends as before


def test_statements_stay_prepared_across_read_only_pages(app: Flask, client: FlaskClient, auth: AuthActions) -> None:
    if not is_postgres(app):
        pytest.skip("prepared statements are psycopg's (PostgreSQL); SQLite's module caches statements itself")
    auth.login("ganjingzi1")
    for _ in range(8):  # psycopg prepares a statement at its sixth run on a connection
        assert client.get("/?view=mine").status_code == 200
    pool = engine(app).pool
    connections = [pool.connect() for _ in range(pool.checkedin())]
    try:
        prepared = sum(
            connection.driver_connection.execute(text("SELECT count(*) FROM pg_prepared_statements").text).fetchone()[0]
            for connection in connections
        )
    finally:
        for connection in connections:
            connection.close()
    assert prepared > 0


def test_wrote_nothing_tells_a_read_from_a_write(app_db: Session) -> None:
    postgres = app_db.get_bind().dialect.name == "postgresql"
    assert not wrote_nothing(app_db)  # no transaction yet
    app_db.scalar(select(WorkingDayOverride.id).limit(1))
    assert wrote_nothing(app_db) is postgres
    app_db.add(WorkingDayOverride(day=PROBE_DAY, is_working_day=True))
    assert not wrote_nothing(app_db)  # pending
    app_db.flush()
    assert not wrote_nothing(app_db)  # flushed
    app_db.rollback()
