"""The fixed stack's floor: the hazard round trip done with nothing but what every implementation must do.

Issue #9 §1 asks UnionFlow's service layer for half the raw engine's throughput and its HTTP API for 135 round trips
per second in one process. This module is the least the stack the project is built on (Flask, flask-login,
SQLAlchemy, SpiffWorkflow, SQLite or PostgreSQL) can do for the same work, so the targets can be set against what the
stack itself allows: bench/stack_floor.py runs it in process and behind `gunicorn -w 1 --threads 8` with the same
clients as bench/http_roundtrip.py.

What it keeps: a bearer token checked against a stored hash (flask-login's request loader), the engine state saved
after every step without its spec (workflows.engine.serializer, the cheapest save measured), one task row per open
user task, a claim, a commit per request, JSON answers of the same shape as UnionFlow's API. What it leaves out is
everything UnionFlow adds: form validation, routing to units and departments, permissions, the approval record, the
audit chain, notifications, dashboard tallies, due dates, rate limits, business records, CSRF and security headers.
Statements are prebuilt Core statements on one connection per request.

Not part of the product: only the benches import it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, abort, request
from flask_login import LoginManager, UserMixin, current_user, login_required
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    insert,
    select,
    update,
)

from workflows.db import make_engine
from workflows.engine.scripting import make_script_engine
from workflows.engine.serializer import SPEC_CACHE, dump_workflow, load_workflow_state, spec_ref
from workflows.routing import BPMN_DIR

PROCESS = "hazard_report"
SPEC_REF = spec_ref(PROCESS, "floor")
UNIT = "district"  # every account sits in one unit: the floor does no routing

metadata = MetaData()
account = Table("floor_account", metadata, Column("id", Integer, primary_key=True),
                Column("token_hash", String(64), unique=True), Column("unit", String(32)))  # fmt: skip
case_table = Table("floor_case", metadata, Column("id", Integer, primary_key=True), Column("state", Text))
task = Table("floor_task", metadata, Column("id", String(36), primary_key=True), Column("case_id", Integer),
             Column("bpmn_id", String(64)), Column("unit", String(32)), Column("status", String(16)),
             Column("holder", Integer, nullable=True))  # fmt: skip

_ACCOUNT = select(account.c.id, account.c.unit).where(account.c.token_hash == bindparam("token_hash"))
_NEW_CASE = insert(case_table).values(state=bindparam("state")).returning(case_table.c.id)
_NEW_TASK = insert(task)
_QUEUE = (
    select(task.c.id, task.c.case_id, task.c.bpmn_id)
    .where(task.c.unit == bindparam("unit"), task.c.status == "ready")
    .order_by(task.c.case_id.desc())
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(task)
    .where(task.c.id == bindparam("task_id"), task.c.status == "ready", task.c.holder.is_(None))
    .values(holder=bindparam("holder"))
)
_TASK = select(task.c.case_id).where(
    task.c.id == bindparam("task_id"), task.c.status == "ready", task.c.holder == bindparam("holder")
)
_STATE = select(case_table.c.state).where(case_table.c.id == bindparam("case_id"))
_SAVE = update(case_table).where(case_table.c.id == bindparam("case_id")).values(state=bindparam("state"))
_DONE = update(task).where(task.c.id == bindparam("task_id")).values(status="done")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def load_spec() -> None:
    """Parse the diagram once per process, as UnionFlow's spec cache does."""
    if SPEC_CACHE.get(SPEC_REF) is None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(BPMN_DIR / f"{PROCESS}.bpmn"))
        SPEC_CACHE.put(SPEC_REF, (parser.get_spec(PROCESS), parser.get_subprocess_specs(PROCESS)))


def _ready_rows(workflow: BpmnWorkflow, case_id: int) -> list[dict[str, Any]]:
    return [
        {"id": str(t.id), "case_id": case_id, "bpmn_id": t.task_spec.name, "unit": UNIT, "status": "ready",
         "holder": None}
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
    ]  # fmt: skip


def start(connection: Connection, data: dict[str, Any]) -> int:
    spec = SPEC_CACHE.get(SPEC_REF)
    assert spec is not None
    workflow = BpmnWorkflow(spec[0], spec[1], script_engine=make_script_engine())
    workflow.spec_ref = SPEC_REF
    workflow.task_tree.data.update(data, reward_tiers={"major": "3000"})
    workflow.do_engine_steps()
    case_id = int(connection.execute(_NEW_CASE, {"state": dump_workflow(workflow)}).scalar_one())
    connection.execute(_NEW_TASK, _ready_rows(workflow, case_id))
    return case_id


def queue(connection: Connection, unit: str, limit: int) -> list[dict[str, Any]]:
    rows = connection.execute(_QUEUE, {"unit": unit, "limit": limit})
    return [{"id": task_id, "instance_id": case_id, "bpmn_id": bpmn_id} for task_id, case_id, bpmn_id in rows]


def claim(connection: Connection, task_id: str, holder: int) -> bool:
    return connection.execute(_CLAIM, {"task_id": task_id, "holder": holder}).rowcount == 1


def complete(connection: Connection, task_id: str, holder: int, data: dict[str, Any]) -> int | None:
    """Run the claimed task with `data`; the case's id, or None if the task is not the holder's open task."""
    case_id = connection.execute(_TASK, {"task_id": task_id, "holder": holder}).scalar_one_or_none()
    if case_id is None:
        return None
    workflow = load_workflow_state(connection.execute(_STATE, {"case_id": case_id}).scalar_one())
    workflow.script_engine = make_script_engine()
    ready = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if str(t.id) == task_id)
    ready.set_data(**data)
    ready.run()
    workflow.do_engine_steps()
    connection.execute(_SAVE, {"case_id": case_id, "state": dump_workflow(workflow)})
    connection.execute(_DONE, {"task_id": task_id})
    new_rows = _ready_rows(workflow, case_id)
    if new_rows:
        connection.execute(_NEW_TASK, new_rows)
    return int(case_id)


def read(connection: Connection, case_id: int) -> dict[str, Any] | None:
    """The case as the API shows it: its data and open steps, read from the stored state."""
    state = connection.execute(_STATE, {"case_id": case_id}).scalar_one_or_none()
    if state is None:
        return None
    stored = json.loads(state)
    steps = [row["bpmn_id"] for row in queue_of_case(connection, case_id)]
    return {"id": case_id, "data": stored.get("data", {}), "open_steps": steps}


_CASE_TASKS = select(task.c.bpmn_id).where(task.c.case_id == bindparam("case_id"), task.c.status == "ready")


def queue_of_case(connection: Connection, case_id: int) -> list[dict[str, Any]]:
    return [{"bpmn_id": bpmn_id} for (bpmn_id,) in connection.execute(_CASE_TASKS, {"case_id": case_id})]


class Account(UserMixin):  # type: ignore[misc]
    def __init__(self, account_id: int, unit: str) -> None:
        self.id, self.unit = account_id, unit


def create_app() -> Flask:
    app = Flask(__name__)
    engine: Engine = make_engine(os.environ["FLOOR_DATABASE_URL"])
    load_spec()
    login = LoginManager(app)

    @contextmanager
    def transaction() -> Iterator[Connection]:
        with engine.begin() as connection:
            yield connection

    @login.request_loader
    def bearer(req: Any) -> Account | None:
        header = req.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        with engine.connect() as connection:
            row = connection.execute(_ACCOUNT, {"token_hash": token_hash(header[7:])}).first()
        return Account(row.id, row.unit) if row else None

    @app.post(f"/api/v1/processes/{PROCESS}/instances")
    @login_required
    def start_view() -> tuple[dict[str, Any], int]:
        with transaction() as connection:
            return {"id": start(connection, request.get_json()["data"])}, 201

    @app.get("/api/v1/tasks")
    @login_required
    def queue_view() -> dict[str, Any]:
        with engine.connect() as connection:
            return {"items": queue(connection, current_user.unit, int(request.args.get("per_page", 50)))}

    @app.post("/api/v1/tasks/<task_id>/claim")
    @login_required
    def claim_view(task_id: str) -> dict[str, Any]:
        with transaction() as connection:
            if not claim(connection, task_id, current_user.id):
                abort(409)
        return {"id": task_id}

    @app.post("/api/v1/tasks/<task_id>/complete")
    @login_required
    def complete_view(task_id: str) -> dict[str, Any]:
        with transaction() as connection:
            case_id = complete(connection, task_id, current_user.id, request.get_json()["data"])
        if case_id is None:
            abort(409)
        return {"instance_id": case_id}

    @app.get("/api/v1/instances/<int:case_id>")
    @login_required
    def read_view(case_id: int) -> dict[str, Any]:
        with engine.connect() as connection:
            found = read(connection, case_id)
        if found is None:
            abort(404)
        return found

    return app
