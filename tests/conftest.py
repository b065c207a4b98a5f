from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import workflows.models  # noqa: F401  (registers every table)
from workflows.db import Base, make_engine


@pytest.fixture(scope="session")
def db_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A file database for the whole run; tests isolate themselves by rolling back."""
    path: Path = tmp_path_factory.mktemp("db") / "test.db"
    engine = make_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(db_engine: Engine) -> Iterator[Session]:
    """A session inside an outer transaction that is rolled back after the test.

    Code under test may commit: with create_savepoint its commits release savepoints, not the outer transaction.
    """
    connection = db_engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()


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
    connection = seeded_engine.connect()
    outer = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        outer.rollback()
        connection.close()
