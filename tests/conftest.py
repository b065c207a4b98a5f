from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

import workflows.models  # noqa: F401  (registers every table)
from webapp import create_app
from webapp import database as webapp_database
from workflows.db import Base, make_engine
from workflows.demo import DEMO_PASSWORD


@pytest.fixture(scope="session")
def db_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A file database for the whole run; tests isolate themselves by rolling back."""
    path: Path = tmp_path_factory.mktemp("db") / "test.db"
    engine = make_engine(f"sqlite:///{path}")
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
def seeded_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A database with the demo organisation, policy parameters and every diagram deployed, built once."""
    from workflows.demo import seed_demo
    from workflows.engine.deployment import deploy_paths
    from workflows.policy.parameters import seed_policy_parameters
    from workflows.routing import BPMN_DIR, load_routing

    path: Path = tmp_path_factory.mktemp("seeded") / "seeded.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    with Session(engine) as db, db.begin():
        seed_demo(db)
        seed_policy_parameters(db)
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


def _app_config(db_path: Path) -> dict[str, Any]:
    # CSRF is checked by its own tests (tests/test_csrf.py); elsewhere it would only add token plumbing.
    return {
        "TESTING": True,
        "DATABASE_URL": f"sqlite:///{db_path}",
        "SECRET_KEY": "test",
        "WTF_CSRF_ENABLED": False,
        # Never the package's instance folder: each test stores its files next to its own database copy.
        "UPLOAD_DIR": str(db_path.parent / "attachments"),
    }


@pytest.fixture(scope="session")
def app_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated by `init-db` and loaded by `seed-demo`; tests get copies, never this file."""
    path: Path = tmp_path_factory.mktemp("app-template") / "app.db"
    template_app = create_app(_app_config(path))
    cli_runner = template_app.test_cli_runner()
    for command in ("init-db", "seed-demo"):
        # The `flask` command pushes an app context for its commands; the test runner does not.
        with template_app.app_context():
            result = cli_runner.invoke(args=[command])
        assert result.exit_code == 0, f"{command} failed: {result.output}"
    engine = webapp_database.engine(template_app)
    with engine.connect() as connection:
        # Fold the WAL into the main file so a plain file copy carries everything.
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> str:
    """The URL of a new, empty database (no tables) for tests that run the real commands or a server process."""
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture
def app(app_db_template: Path, tmp_path: Path) -> Iterator[Flask]:
    db_path = tmp_path / "app.db"
    shutil.copy(app_db_template, db_path)
    application = create_app(_app_config(db_path))
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
