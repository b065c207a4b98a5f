"""One SQLAlchemy session per request; a request that changes something commits once, at its end."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from workflows.db import make_engine, make_session_factory

EXTENSION = "unionflow.db"


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions[EXTENSION] = (engine, make_session_factory(engine))
    app.teardown_appcontext(_close_session)


def engine(app: Flask) -> Engine:
    result: Engine = app.extensions[EXTENSION][0]
    return result


def session_factory(app: Flask) -> sessionmaker[Any]:
    factory: sessionmaker[Any] = app.extensions[EXTENSION][1]
    return factory


def get_session() -> Session:
    from flask import current_app

    if "db_session" not in g:
        g.db_session = session_factory(current_app)()
    session: Session = g.db_session
    return session


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    # Anything not committed explicitly by the view is rolled back: no half-applied step. A transaction that wrote
    # nothing ends with COMMIT instead, which changes nothing on the server but keeps the connection's prepared
    # statements (psycopg forgets them all on ROLLBACK, so every page's statements were planned again).
    try:
        if exc is None and wrote_nothing(session):
            session.commit()
    finally:
        session.close()


_NO_WRITE = text("SELECT txid_current_if_assigned() IS NULL")


def wrote_nothing(session: Session) -> bool:
    """Whether the session's open PostgreSQL transaction has written nothing, flushed or pending: the server assigns
    a transaction id at its first write (or row lock). False on other databases, and with no transaction open."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return False
    return bool(session.connection().scalar(_NO_WRITE))
