"""The fixed stack's floor: the hazard round trip done with nothing but what every implementation must do.

Issue #9 §1 asks UnionFlow's service layer for half the raw engine's throughput and its HTTP API for 135 round trips
per second in one process. This module is the least the stack the project is built on (Flask, flask-login,
SQLAlchemy, SpiffWorkflow, SQLite or PostgreSQL) can do for the same work, so the targets can be set against what the
stack itself allows: bench/stack_floor.py runs it in process and behind `gunicorn -w 1 --threads 8` with the same
clients as bench/http_roundtrip.py.

What it keeps: a bearer token checked against a stored hash (flask-login's request loader), the engine state saved
after every step without its spec (workflows.engine.serializer, the cheapest save measured), one task row per open
user task with the indexes its reads need, a claim only of a task of the claimant's unit, a completion that takes the
task with a guarded update (a second completion of it finds nothing and changes nothing), a read only of a case of
the reader's unit, a commit per request, JSON answers with the fields the bench's client reads (UnionFlow's carry
more: titles, due dates, paging). What it leaves out is everything else UnionFlow adds: form validation, routing to
units and departments by lane, the full permission rule, the approval record, the audit chain, notifications,
dashboard tallies, due dates, rate limits, business records, CSRF and security headers. Statements are prebuilt Core
statements on one connection per request.

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
    Index,
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
case_table = Table("floor_case", metadata, Column("id", Integer, primary_key=True), Column("unit", String(32)),
                   Column("state", Text), Column("version", Integer, default=1))  # fmt: skip
task = Table("floor_task", metadata, Column("id", String(36), primary_key=True), Column("case_id", Integer),
             Column("bpmn_id", String(64)), Column("unit", String(32)), Column("status", String(16)),
             Column("holder", Integer, nullable=True),
             Index("ix_floor_task_queue", "unit", "status", "case_id"),
             Index("ix_floor_task_case", "case_id", "status"))  # fmt: skip

_ACCOUNT = select(account.c.id, account.c.unit).where(account.c.token_hash == bindparam("token_hash"))
_NEW_CASE = insert(case_table).values(unit=bindparam("unit"), state=bindparam("state")).returning(case_table.c.id)
_NEW_TASK = insert(task)
_QUEUE = (
    select(task.c.id, task.c.case_id, task.c.bpmn_id)
    .where(task.c.unit == bindparam("unit"), task.c.status == "ready")
    .order_by(task.c.case_id.desc())
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(task)
    .where(task.c.id == bindparam("task_id"), task.c.unit == bindparam("claimant_unit"), task.c.status == "ready",
           task.c.holder.is_(None))
    .values(holder=bindparam("new_holder"))
)  # fmt: skip
# Taking the task is the completion's first write: of two completions of one task, the second finds nothing.
_TAKE = (
    update(task)
    .where(task.c.id == bindparam("task_id"), task.c.status == "ready", task.c.holder == bindparam("taker"))
    .values(status="done")
    .returning(task.c.case_id)
)
_STATE = select(case_table.c.state, case_table.c.version).where(case_table.c.id == bindparam("case_id"))
_VISIBLE_STATE = select(case_table.c.state).where(
    case_table.c.id == bindparam("case_id"), case_table.c.unit == bindparam("unit")
)
# Optimistic: two steps of one case's parallel branches must not both save over the state they read.
_SAVE = (
    update(case_table)
    .where(case_table.c.id == bindparam("case_id"), case_table.c.version == bindparam("seen_version"))
    .values(state=bindparam("state"), version=case_table.c.version + 1)
)


class CaseChanged(RuntimeError):
    pass


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
    case_id = int(connection.execute(_NEW_CASE, {"unit": UNIT, "state": dump_workflow(workflow)}).scalar_one())
    connection.execute(_NEW_TASK, _ready_rows(workflow, case_id))
    return case_id


def queue(connection: Connection, unit: str, limit: int) -> list[dict[str, Any]]:
    rows = connection.execute(_QUEUE, {"unit": unit, "limit": limit})
    return [{"id": task_id, "instance_id": case_id, "bpmn_id": bpmn_id} for task_id, case_id, bpmn_id in rows]


def claim(connection: Connection, task_id: str, holder: int, unit: str) -> bool:
    return connection.execute(_CLAIM, {"task_id": task_id, "new_holder": holder, "claimant_unit": unit}).rowcount == 1


def complete(connection: Connection, task_id: str, holder: int, data: dict[str, Any]) -> int | None:
    """Run the claimed task with `data`; the case's id, or None if the task is not the holder's open task."""
    case_id = connection.execute(_TAKE, {"task_id": task_id, "taker": holder}).scalar_one_or_none()
    if case_id is None:
        return None
    state, version = connection.execute(_STATE, {"case_id": case_id}).one()
    workflow = load_workflow_state(state)
    workflow.script_engine = make_script_engine()
    ready = next(t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if str(t.id) == task_id)
    ready.set_data(**data)
    ready.run()
    workflow.do_engine_steps()
    saved = connection.execute(_SAVE, {"case_id": case_id, "seen_version": version, "state": dump_workflow(workflow)})
    if saved.rowcount != 1:
        raise CaseChanged(case_id)  # the transaction rolls back; the client may retry
    new_rows = _ready_rows(workflow, case_id)
    if new_rows:
        connection.execute(_NEW_TASK, new_rows)
    return int(case_id)


def read(connection: Connection, case_id: int, unit: str) -> dict[str, Any] | None:
    """The case, if it is the reader's unit's: its data and open steps, read from the stored state."""
    state = connection.execute(_VISIBLE_STATE, {"case_id": case_id, "unit": unit}).scalar_one_or_none()
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
            if not claim(connection, task_id, current_user.id, current_user.unit):
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
            found = read(connection, case_id, current_user.unit)
        if found is None:
            abort(404)
        return found

    return app
