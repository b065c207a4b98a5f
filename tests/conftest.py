from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import workflows.models  # noqa: F401  (registers every table)
from tests import postgres_server
from webapp import create_app
from webapp import database as webapp_database
from workflows import passwords
from workflows.db import Base, make_engine
from workflows.demo import DEMO_PASSWORD

# scrypt's cost for the demo accounts of the suite's seeded databases. A sign-in checks the stored hash at the cost
# the hash names (the real code path), so at 2**14 each of the suite's several hundred sign-ins spent ~60 ms in
# scrypt; at 2**10, ~4 ms. Everything else hashes at the production cost, which tests/test_organisation.py holds.
SEEDED_SCRYPT_COST = 2**10


@contextmanager
def cheap_demo_passwords() -> Iterator[None]:
    production = passwords._N
    passwords._N = SEEDED_SCRYPT_COST
    try:
        yield
    finally:
        passwords._N = production


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default=os.environ.get("UNIONFLOW_TEST_DB", "sqlite"),
        help="database for the whole suite: embedded SQLite files, or a throwaway PostgreSQL server the suite starts",
    )


class Databases:
    """Creates the suite's databases: SQLite files in a temporary folder, or databases on one PostgreSQL server."""

    def __init__(self, root: Path, postgres_url: str | None) -> None:
        self._root = root
        self._postgres = postgres_url
        self._numbers = itertools.count(1)

    @property
    def kind(self) -> str:
        return "postgres" if self._postgres else "sqlite"

    def new(self, name: str | None = None, template: str | None = None) -> str:
        """The URL of a new database called `name` (unique if not given), a copy of database `template` if given."""
        name = name or f"db{next(self._numbers)}"
        if self._postgres:
            return postgres_server.create_database(self._postgres, name, template)
        path = self._root / f"{name}.db"
        if template:
            shutil.copy(self._root / f"{template}.db", path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1].removesuffix(".db")
        if self._postgres:
            postgres_server.drop_database(self._postgres, name)
        else:
            for suffix in (".db", ".db-wal", ".db-shm"):
                (self._root / f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    root = tmp_path_factory.mktemp("databases")
    if request.config.getoption("--db") == "postgres":
        with postgres_server.throwaway_postgres() as url:
            yield Databases(root, url)
    else:
        yield Databases(root, None)




@pytest.fixture(scope="session")
def db_engine(databases: Databases) -> Iterator[Engine]:
    """A database for the whole run; tests isolate themselves by rolling back."""
    engine = make_engine(databases.new("empty_schema"))
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def _rolled_back_session(engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test.

    Code under test may commit: with create_savepoint its commits release savepoints, not the outer transaction.
    """
    connection = engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A rolled-back session over an empty schema."""
    yield from _rolled_back_session(db_engine)


@pytest.fixture(scope="session")
def seeded_engine(databases: Databases) -> Iterator[Engine]:
    """A database with the demo organisation, policy parameters and every diagram deployed, built once."""
    from workflows.demo import seed_demo
    from workflows.engine.deployment import deploy_paths
    from workflows.policy.parameters import seed_policy_parameters
    from workflows.routing import BPMN_DIR, load_routing

    engine = make_engine(databases.new("seeded"))
    Base.metadata.create_all(engine)
    with cheap_demo_passwords(), Session(engine) as db, db.begin():
        seed_policy_parameters(db)
        seed_demo(db)
        deploy_paths(db, [BPMN_DIR], load_routing())
    yield engine
    engine.dispose()


@pytest.fixture
def world(seeded_engine: Engine) -> Iterator[Session]:
    """A rolled-back session over the seeded database (demo users, policy, deployed processes)."""
    yield from _rolled_back_session(seeded_engine)


# --- Web application fixtures (flaskr style) --------------------------------------------------------------------
#
# Migrating, seeding and deploying takes ~1.5 s (28 scrypt hashes), so the seeded database file is built once per
# session through the real CLI commands and copied into each test's tmp_path.


def _app_config(database_url: str, upload_dir: Path) -> dict[str, Any]:
    # CSRF is checked by its own tests (tests/test_csrf.py); elsewhere it would only add token plumbing.
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        # Never the package's instance folder: each test stores its files in its own temporary folder.
        "UPLOAD_DIR": str(upload_dir / "attachments"),
    }


@pytest.fixture(scope="session")
def app_db_template(databases: Databases, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The name of a database migrated by `init-db` and loaded by `seed-demo`; tests get copies, never this one."""
    name = "app_template"
    template_app = create_app(_app_config(databases.new(name), tmp_path_factory.mktemp("app-template")))
    cli_runner = template_app.test_cli_runner()
    for command in ("init-db", "seed-demo"):
        # The `flask` command pushes an app context for its commands; the test runner does not.
        with template_app.app_context(), cheap_demo_passwords():
            result = cli_runner.invoke(args=[command])
        assert result.exit_code == 0, f"{command} failed: {result.output}"
    engine = webapp_database.engine(template_app)
    if databases.kind == "sqlite":
        with engine.connect() as connection:
            # Fold the WAL into the main file so a plain file copy carries everything.
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    # PostgreSQL copies a template only while nobody is connected to it.
    engine.dispose()
    return name


@pytest.fixture
def fresh_database_url(databases: Databases) -> Iterator[str]:
    """The URL of a new, empty database (no tables) for tests that run the real commands or a server process."""
    url = databases.new()
    yield url
    databases.drop(url)


@pytest.fixture
def app_database_url(databases: Databases, app_db_template: str) -> Iterator[str]:
    """The URL of a fresh copy of the migrated, seeded demo database."""
    url = databases.new(template=app_db_template)
    yield url
    databases.drop(url)


@pytest.fixture
def app(app_database_url: str, tmp_path: Path) -> Iterator[Flask]:
    application = create_app(_app_config(app_database_url, tmp_path))
    yield application
    webapp_database.engine(application).dispose()


@pytest.fixture
def app_db(app: Flask) -> Iterator[Session]:
    """A session on the app's database, outside any request, to arrange and check data in web tests."""
    db = webapp_database.session_factory(app)()
    yield db
    db.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


class AuthActions:
    def __init__(self, client: FlaskClient) -> None:
        self._client = client

    def login(self, username: str = "ganjingzi1", password: str = DEMO_PASSWORD) -> TestResponse:
        return self._client.post("/login", data={"username": username, "password": password})

    def logout(self) -> TestResponse:
        return self._client.post("/logout")


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)
