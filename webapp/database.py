"""One SQLAlchemy session per request; a request that changes something commits once, at its end."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy import Engine
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


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        # Anything not committed explicitly by the view is rolled back: no half-applied step.
        session.close()
