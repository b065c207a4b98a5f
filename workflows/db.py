"""Database plumbing: the declarative base, aware timestamps, engine and session factories."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.types import TypeDecorator

from workflows.sqlite_writers import SerialWriterConnection

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class AwareDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    SQLite keeps no zone, so values are normalised to UTC on the way in and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: AwareDateTime()}


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers proceed while one writer commits; busy_timeout makes writers queue instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class _NoResultRows(logging.Filter):
    """Drops SQLAlchemy's DEBUG lines that print fetched rows: they carry identity and card numbers in full."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith("Row "))


logging.getLogger("sqlalchemy.engine.Engine").addFilter(_NoResultRows())


def database_error_summary(exc: StatementError) -> str:
    """What a database error may say in a log or a message: its kind, the server's one-line message, the constraint.

    Never the rest: PostgreSQL's DETAIL repeats the failing row ("Failing row contains (…, 13904111234, …)"), and
    hide_parameters does not reach it.
    """
    diag = getattr(exc.orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    constraint = getattr(diag, "constraint_name", None) if diag is not None else None
    if primary is None:  # SQLite: its messages name the column, never a value
        primary = str(exc.orig).split("\n", 1)[0]
    return f"{type(exc).__name__}: {primary}" + (f" ({constraint})" if constraint else "")


class RedactDatabaseErrors(logging.Filter):
    """Replaces a logged database exception by its summary, for loggers that log request failures (Flask's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], StatementError):
            summary = database_error_summary(record.exc_info[1])
            record.msg = f"{record.getMessage()}: {summary}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    # A database error's message would otherwise carry the statement's parameters (identity and card numbers
    # among them) into the error log.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"factory": SerialWriterConnection, **kwargs.get("connect_args", {})}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Any]:
    return sessionmaker(bind=engine, expire_on_commit=False)
