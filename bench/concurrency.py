"""Concurrency proof (issue #5): many clients race through `gunicorn -w 4` on one database; print the counts.

Races, each with bounded request counts, against 127.0.0.1 only:
  starts       clients start cases at once: every start is one case with one open task, no number twice
  claims       two officials claim each task several times at once: one official holds it
  completions  the holder double-clicks and a colleague joins in: one completion per task, one approval step
  branches     two officials complete the two parallel branches of one case at once (retrying on 409): neither
               completion is lost
  timers       four scheduler processes fire the same due timers: each timer fires once
  reminders    four processes write the automatic due reminders: one per task and kind
Then the database is checked as a whole: audit chain, task index against the engine, approval steps.

    .venv/bin/python bench/concurrency.py                  # a throwaway PostgreSQL server (needs postgresql)
    .venv/bin/python bench/concurrency.py sqlite:///x.db   # any empty database
tests/test_concurrency.py runs it with small counts on the suite's database.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from bench.http_roundtrip import wait_for_port  # noqa: E402
from tests.workflow_helpers import complete, intake, open_task, start_report  # noqa: E402
from workflows.audit import verify_chain  # noqa: E402
from workflows.db import make_engine, utcnow  # noqa: E402
from workflows.engine.runtime import load_workflow  # noqa: E402
from workflows.models import ApprovalStep, AuditEvent, ProcessInstance, Reminder, TaskIndexEntry  # noqa: E402
from workflows.plans.tally import tally_differences  # noqa: E402
from workflows.routing import load_routing  # noqa: E402
from workflows.task_index import index_matches_engine  # noqa: E402
from workflows.tokens import create_token  # noqa: E402

BIN = Path(sys.executable).parent
USERS = ("ganjingzi1", "ganjingzi2")
REGISTER = {"decision": "受理", "opinion": "同意受理。"}
OPINION = {"opinion": "同意。"}


@dataclass(frozen=True)
class Sizes:
    """Bounded request counts; the defaults take about a minute on 2 cores."""

    starts: int = 40
    contested: int = 15  # cases whose first task is claimed and completed by racing clients
    branches: int = 6
    timers: int = 6
    attempts: int = 3  # how often each official fires each claim


@dataclass
class Report:
    counts: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def expect(self, what: str, ok: bool) -> None:
        if not ok:
            self.failures.append(what)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(port: int, token: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, None


@contextmanager
def gunicorn(url: str, workers: int) -> Iterator[int]:
    port = free_port()
    env = server_env(url)
    log = open(Path(tempfile.gettempdir()) / "unionflow-concurrency-server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "--threads", "4", "-b", f"127.0.0.1:{port}", "webapp:create_app()"],
        env=env,
        cwd=ROOT,
        stderr=log,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        server.terminate()
        server.wait(20)
        log.close()


def server_env(url: str) -> dict[str, str]:
    env = {**os.environ, "FLASK_DATABASE_URL": url, "FLASK_SECRET_KEY": "concurrency-only"}
    env.pop("FLASK_RUN_SCHEDULER", None)  # the timer race below runs the schedulers itself
    return env


def prepare(url: str) -> None:
    env = server_env(url)
    for command in ("init-db", "seed-demo"):
        flask = [str(BIN / "flask"), "--app", "webapp", command]
        subprocess.run(flask, env=env, cwd=ROOT, check=True, capture_output=True)


def _arrange(factory: sessionmaker[Session], sizes: Sizes) -> dict[str, list[Any]]:
    """Cases at the states the races need, made through the service layer in one transaction."""
    with factory() as db, db.begin():
        tokens = {username: create_token(db, _user(db, username), "concurrency") for username in USERS}
        contested_cases = [start_report(db, location=f"争用{n}号") for n in range(sizes.contested)]
        contested = [open_task(db, case, "register_report").task_id for case in contested_cases]
        branches = []
        for n in range(sizes.branches):
            case = _major_hazard(db, f"并行{n}号")
            branches.append((case.id, open_task(db, case, "notify_regulator").task_id,
                             open_task(db, case, "rectify_notice").task_id))
        timed = [_waiting_on_rectification(db, f"定时{n}号").id for n in range(sizes.timers)]
    return {
        "tokens": [tokens],
        "contested": contested,
        "contested_cases": [case.id for case in contested_cases],
        "branches": branches,
        "timed": timed,
    }


def _user(db: Session, username: str) -> Any:
    from tests.workflow_helpers import user

    return user(db, username)


def _register_and_verify(db: Session, location: str, triage: str, level: str) -> ProcessInstance:
    case = start_report(db, location=location)
    complete(db, "ganjingzi1", case, "register_report", REGISTER)
    complete(db, "jingji1", case, "triage", {"triage_level": triage, **OPINION})
    complete(db, "ganjingzi1", case, "verify", {
        "inspection_date": "2026-11-20", "inspectors": "马晓东", "verification_result": "属实",
        "hazard_level": level, "reporter_responsible": "false", "evidence": "现场确认。", **OPINION,
    })
    return case


def _major_hazard(db: Session, location: str) -> ProcessInstance:
    return _register_and_verify(db, location, "可能重大", "重大")


def _rectification(deadline: str) -> dict[str, str]:
    return {
        "rectification_mode": "限期整改", "notice_number": "甘工整改〔2026〕3号", "rectification_deadline": deadline,
        "requirements": "立即整改。", "responsible_person": "王科长",
    }


def _waiting_on_rectification(db: Session, location: str) -> ProcessInstance:
    case = _register_and_verify(db, location, "一般", "一般")
    deadline = (utcnow() + timedelta(days=10)).date().isoformat()
    complete(db, "ganjingzi1", case, "rectify_notice", _rectification(deadline))
    return case


def _scheduler_process(url: str, passes: int, start: Any) -> None:
    from workflows.reminders import send_due_reminders
    from workflows.timers import run_scheduler_pass

    engine = make_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)
    future = utcnow() + timedelta(days=12)
    start.wait()
    for _ in range(passes):
        run_scheduler_pass(factory, now=future)
        with factory() as db, db.begin():
            send_due_reminders(db, future, future + timedelta(days=2))
    engine.dispose()


def race(threads: int, jobs: list[Callable[[], Any]]) -> list[Any]:
    gate = threading.Barrier(min(threads, len(jobs)))

    def run(job: Callable[[], Any]) -> Any:
        with contextlib.suppress(threading.BrokenBarrierError):  # fewer jobs left than threads at the end
            gate.wait(timeout=5)
        return job()

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, jobs))


def run(url: str, sizes: Sizes | None = None, workers: int = 4) -> Report:
    sizes = sizes or Sizes()
    report = Report()
    prepare(url)
    engine = make_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)
    arranged = _arrange(factory, sizes)
    tokens: dict[str, str] = arranged["tokens"][0]
    with gunicorn(url, workers) as port:
        # Starts: every answer 201 is one new case.
        started = race(16, [
            lambda n=n: call(port, tokens[USERS[n % 2]], "POST", "/api/v1/processes/hazard_report/instances",
                             {"data": intake(location=f"并发{n}号车间")})
            for n in range(sizes.starts)
        ])
        ids = [body["id"] for status, body in started if status == 201]
        report.counts["starts: requests / 201 / distinct cases"] = (sizes.starts, len(ids), len(set(ids)))
        report.expect("every start made one case", len(ids) == sizes.starts == len(set(ids)))

        # Claims: both officials, several times each, for every contested task.
        claims = race(16, [
            lambda task=task, who=who: (task, who, call(port, tokens[who], "POST", f"/api/v1/tasks/{task}/claim")[0])
            for task in arranged["contested"] for who in USERS for _ in range(sizes.attempts)
        ])
        winners: dict[str, set[str]] = {}
        for task, who, status in claims:
            if status == 200:
                winners.setdefault(task, set()).add(who)
        report.counts["claims: requests / tasks with exactly one holder"] = (
            len(claims), sum(len(w) == 1 for w in winners.values()))
        report.expect("each task claimed by exactly one official",
                      all(len(winners.get(t, ())) == 1 for t in arranged["contested"]))

        # Completions: the holder sends three at once, the colleague two.
        holder = {task: next(iter(w)) for task, w in winners.items()}
        completions = race(16, [
            lambda task=task, who=who: (task, call(port, tokens[who], "POST", f"/api/v1/tasks/{task}/complete",
                                                   {"data": REGISTER})[0])
            for task in arranged["contested"]
            for who in [holder.get(task, USERS[0])] * 3 + [USERS[1] if holder.get(task) == USERS[0] else USERS[0]] * 2
        ])
        done = Counter(task for task, status in completions if status == 200)
        report.counts["completions: requests / 200 / tasks completed once"] = (
            len(completions), sum(done.values()), sum(1 for t in arranged["contested"] if done[t] == 1))
        report.expect("each task completed exactly once", all(done[t] == 1 for t in arranged["contested"]))

        # Parallel branches of one case, completed at once; a 409 means "the case changed, try again".
        def finish(token: str, task: str, data: dict[str, str]) -> int:
            for _attempt in range(8):
                status = call(port, token, "POST", f"/api/v1/tasks/{task}/complete", {"data": data})[0]
                if status != 409:
                    return status
            return 409

        notice = {"regulator_name": "甘井子区应急管理局", "notified_on": "2026-11-21",
                  "document_number": "甘工通〔2026〕9号", "summary": "重大隐患通报。"}
        deadline = (utcnow() + timedelta(days=14)).date().isoformat()
        branch_results = race(12, [
            job for _case, notify, rectify in arranged["branches"] for job in (
                lambda notify=notify: finish(tokens["ganjingzi2"], notify, notice),
                lambda rectify=rectify: finish(tokens["ganjingzi1"], rectify, _rectification(deadline)),
            )
        ])
        report.counts["branches: completions / 200"] = (len(branch_results), branch_results.count(200))
        report.counts["branches: answers"] = dict(Counter(branch_results))
        report.expect("both branches of every case completed", branch_results.count(200) == len(branch_results))

    # Timers and reminders: four scheduler processes at once.
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    schedulers = [context.Process(target=_scheduler_process, args=(url, 3, start)) for _ in range(4)]
    for process in schedulers:
        process.start()
    time.sleep(1.0)  # let them import before the gate opens
    start.set()
    for process in schedulers:
        process.join(120)

    with factory() as db:
        _check_database(db, arranged, report)
    engine.dispose()
    return report


def _check_database(db: Session, arranged: dict[str, list[Any]], report: Report) -> None:
    fired = Counter(
        event.object_id for event in db.scalars(select(AuditEvent).where(AuditEvent.action == "timer.fired"))
    )
    timed_numbers = [db.get(ProcessInstance, case_id).case_number for case_id in arranged["timed"]]  # type: ignore[union-attr]
    report.counts["timers: cases / fired once"] = (len(timed_numbers), sum(fired[n] == 1 for n in timed_numbers))
    report.expect("each due timer fired exactly once", all(fired[n] == 1 for n in timed_numbers))
    escalations = db.scalar(
        select(func.count()).select_from(TaskIndexEntry).where(TaskIndexEntry.bpmn_id == "escalate_overdue"))
    report.expect("one escalation per fired timer", escalations == len(timed_numbers))

    automatic = Counter(
        (task_id, kind) for task_id, kind in db.execute(
            select(Reminder.task_id, Reminder.kind).where(Reminder.kind != "urge"))
    )
    report.counts["reminders: automatic / duplicated"] = (sum(automatic.values()),
                                                         sum(1 for n in automatic.values() if n > 1))
    report.expect("no duplicate automatic reminder", all(n == 1 for n in automatic.values()))

    raced = arranged["contested_cases"] + [case_id for case_id, _n, _r in arranged["branches"]]
    steps = Counter(
        (s.instance_id, s.bpmn_id) for s in db.scalars(select(ApprovalStep).where(ApprovalStep.instance_id.in_(raced)))
    )
    report.counts["approval steps of raced cases: total / duplicated"] = (sum(steps.values()),
                                                          sum(1 for n in steps.values() if n > 1))
    report.expect("no duplicate approval step", all(n == 1 for n in steps.values()))
    for case_id, _notify, _rectify in arranged["branches"]:
        case = db.get(ProcessInstance, case_id)
        assert case is not None
        report.expect(f"case {case_id}: both branch steps recorded",
                      steps[(case_id, "notify_regulator")] == 1 and steps[(case_id, "rectify_notice")] == 1)

    routing = load_routing()
    mismatched = [case.id for case in db.scalars(select(ProcessInstance))
                  if index_matches_engine(db, case, load_workflow(case), routing)]
    report.counts["instances: total / index differs from engine"] = (
        db.scalar(select(func.count()).select_from(ProcessInstance)), len(mismatched))
    report.expect("task index equals the engine for every case", not mismatched)
    chain = verify_chain(db)
    report.counts["audit events / chain intact"] = (chain.checked, chain.ok)
    report.expect("audit chain intact", chain.ok)
    # The dashboard's counts, appended by triggers and completions from racing workers and schedulers (issue #9).
    drift = tally_differences(db)
    report.counts["dashboard tallies: keys differing from a recount"] = len(drift)
    report.expect("dashboard tallies equal a recount", not drift)


def main() -> int:
    if len(sys.argv) > 1:
        report = run(sys.argv[1])
    else:
        from tests.postgres_server import create_database, throwaway_postgres

        with throwaway_postgres() as server, tempfile.TemporaryDirectory():
            report = run(create_database(server, "concurrency"))
    for what, count in report.counts.items():
        print(f"{what}: {count}")
    for failure in report.failures:
        print(f"FAILED: {failure}")
    print("all guarantees held" if not report.failures else f"{len(report.failures)} guarantee(s) broken")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
