"""Round trip of a hazard case (start + 4 steps, the false-report path): service layer vs raw SpiffWorkflow.

Baseline: the same diagram run by raw SpiffWorkflow in this process, with a full JSON save and load (spec
embedded, the library's default) at every user-task boundary. Service layer: `start_case` and `complete_task`
on a SQLite file database, one commit per step, with validation, routing, task index, approval and audit rows.

    .venv/bin/python bench/roundtrip.py [seconds-per-mode]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import Engine, bindparam, select
from sqlalchemy.orm import Session, joinedload

from tests.workflow_helpers import intake
from workflows.db import Base, make_engine
from workflows.demo import seed_demo
from workflows.engine.deployment import deploy_paths
from workflows.engine.scripting import make_script_engine
from workflows.models import TaskIndexEntry, TaskStatus, User
from workflows.operations import complete_task, start_case
from workflows.policy.parameters import seed_policy_parameters
from workflows.routing import BPMN_DIR, RoutingTable, load_routing

STEPS = [
    ("ganjingzi1", "register_report", {"decision": "受理", "opinion": "同意受理。"}),
    ("jingji1", "triage", {"triage_level": "一般", "opinion": "请区总核查。"}),
    (
        "ganjingzi1",
        "verify",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东",
            "verification_result": "不属实",
            "hazard_level": "一般",
            "reporter_responsible": "false",
            "evidence": "现场未发现所报隐患。",
            "opinion": "经核查不属实。",
        },
    ),
    (
        "ganjingzi1",
        "feedback_close",
        {
            "feedback_date": "2026-12-03",
            "feedback_channel": "电话",
            "feedback_content": "已电话告知报告人核查结果。",
            "opinion": "办结。",
        },
    ),
]


def raw_engine(seconds: float, steps: int = len(STEPS)) -> float:
    """Cases per second: start, then the first `steps` steps, with a JSON save and load at every user-task boundary."""
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(BPMN_DIR / "hazard_report.bpmn"))
    spec = parser.get_spec("hazard_report")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        workflow = BpmnWorkflow(spec, {}, script_engine=make_script_engine())
        workflow.task_tree.data.update(intake(), reward_tiers={"major": "3000"})
        workflow.do_engine_steps()
        state = serializer.serialize_json(workflow)
        for _user, bpmn_id, data in STEPS[:steps]:
            workflow = serializer.deserialize_json(state)
            workflow.script_engine = make_script_engine()
            task = next(
                t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.name == bpmn_id
            )
            task.set_data(**data)
            task.run()
            workflow.do_engine_steps()
            state = serializer.serialize_json(workflow)
        assert workflow.is_completed() or steps < len(STEPS)
        done += 1
    return done / (time.perf_counter() - start)


# As the web app loads the signed-in user (webapp/auth.py): with unit and department, in one query.
_USER = (
    select(User)
    .options(joinedload(User.org_unit), joinedload(User.department))
    .where(User.username == bindparam("username"))
)
# What the client knows from the queue it listed (the app takes the task id from the URL).
_OPEN_TASK_ID = select(TaskIndexEntry.task_id).where(
    TaskIndexEntry.instance_id == bindparam("case_id"),
    TaskIndexEntry.bpmn_id == bindparam("bpmn_id"),
    TaskIndexEntry.status == TaskStatus.READY.value,
)


def run_case(
    engine: Engine, routing: RoutingTable, *, location: str | None = None, steps: int = len(STEPS)
) -> tuple[int, list[float]]:
    """A hazard case started by the service layer and taken `steps` steps, one transaction each, as the web app does;
    returns its id and each transaction's time (the start's first)."""
    timings = []
    started = time.perf_counter()
    with Session(engine) as db, db.begin():
        starter = db.scalar(_USER, {"username": "ganjingzi1"})
        assert starter is not None
        data = intake(location=location) if location else intake()
        case_id = start_case(db, starter, "hazard_report", data, routing=routing).id
    timings.append(time.perf_counter() - started)
    for username, bpmn_id, step_data in STEPS[:steps]:
        started = time.perf_counter()
        with Session(engine) as db, db.begin():
            actor = db.scalar(_USER, {"username": username})
            task_id = db.scalar(_OPEN_TASK_ID, {"case_id": case_id, "bpmn_id": bpmn_id})
            assert actor is not None and task_id is not None
            complete_task(db, actor, case_id, task_id, step_data, routing=routing)
        timings.append(time.perf_counter() - started)
    return case_id, timings


def service_layer(seconds: float, db_path: Path) -> float:
    engine = make_engine(f"sqlite:///{db_path}")
    Base.metadata.create_all(engine)
    with Session(engine) as db, db.begin():
        seed_policy_parameters(db)
        seed_demo(db)
        deploy_paths(db, [BPMN_DIR], load_routing())
    routing = load_routing()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run_case(engine, routing)
        done += 1
    engine.dispose()
    return done / (time.perf_counter() - start)


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10.0
    raw = raw_engine(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        service = service_layer(seconds, Path(tmp) / "bench.db")
    print("| mode | cases/s (start + 4 steps) | ratio to raw engine |")
    print("|---|---|---|")
    print(f"| raw SpiffWorkflow, JSON save/load per step | {raw:.1f} | 1.00 |")
    print(f"| service layer, SQLite file, commit per step | {service:.1f} | {service / raw:.2f} |")


if __name__ == "__main__":
    main()
