"""Crash safety (issue #5): kill -9 a real server in the middle of concurrent API work, and a restore in the middle of
a large archive; afterwards `flask --app webapp check` passes and every request's work is all there or all absent.

The database is prepared with the real commands (init-db, seed-demo) on the `fresh_database_url` fixture, so the
same test runs on SQLite and on PostgreSQL. The server is gunicorn with two worker processes, started in its own
process group so that the whole group can be killed at once, as a power cut or the OOM killer would.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from tests.test_backup_restore import row_counts as table_row_counts
from tests.workflow_helpers import HAZARD_STEPS_TO_REWARD, intake, user
from webapp import create_app
from webapp.database import engine, session_factory
from workflows.audit import GENESIS_HASH, event_hash
from workflows.db import utcnow
from workflows.models import ApprovalStep, AuditEvent, ProcessInstance, TaskIndexEntry, TaskStatus
from workflows.tokens import create_token

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Each worker thread carries its cases through the first steps, as the user who does each.
STEPS = HAZARD_STEPS_TO_REWARD[:3]
USERS = ("ganjingzi1", "jingji1")
THREADS = 6
COMPLETIONS_BEFORE_KILL = 12


def run(app: Flask, *args: str) -> Result:
    # `flask` pushes an app context before running a command; the test runner leaves that to the caller.
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_env(database_url: str, upload_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("UNIONFLOW_DEMO", "DATABASE_URL")}
    env.update(FLASK_DATABASE_URL=database_url, FLASK_SECRET_KEY="crash-test", FLASK_UPLOAD_DIR=str(upload_dir))
    return env


def flask_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "flask"), "--app", "webapp", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def kill_group(process: subprocess.Popen[Any], sig: int = signal.SIGKILL) -> None:
    """Signal the process group this test started (the server and its workers, or one command)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    process.wait(timeout=30)


class Server:
    """gunicorn with two workers on a free loopback port, in a process group of its own."""

    def __init__(self, env: dict[str, str], log: Path, token: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{self.port}", "webapp:create_app()"],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready(token)

    def _wait_ready(self, token: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "gunicorn exited while starting"
            with contextlib.suppress(OSError):
                if call(self.base, "GET", "/api/v1/processes", token)[0] == 200:
                    return
            time.sleep(0.1)
        raise AssertionError("gunicorn did not answer within 30 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        kill_group(self.process, sig)
        self._log.close()


def call(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    """One API request; raises OSError (URLError, reset, refused) when the server is gone."""
    request = urllib.request.Request(
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode(errors="replace")
    except http.client.HTTPException as cut:  # the kill came mid-answer (IncompleteRead): the server is gone too
        raise ConnectionError(f"answer cut off: {cut!r}") from cut


@dataclass
class Ledger:
    """What the clients asked for and what they were told; None for a request the kill cut off."""

    completions: list[tuple[str, int | None]] = field(default_factory=list)
    starts: list[tuple[int | None, int | None]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def completed(self) -> int:
        with self.lock:
            return sum(1 for _task, status in self.completions if status == 200)


def client_loop(base: str, tokens: dict[str, str], worker: int, ledger: Ledger, stop: threading.Event) -> None:
    """Start cases and carry each through STEPS until the server dies or the test says stop."""
    number = 0
    while not stop.is_set():
        number += 1
        data = intake(location=f"{worker}号厂房第{number}跨行车轨道")
        try:
            status, body = call(
                base, "POST", "/api/v1/processes/hazard_report/instances", tokens["ganjingzi1"], {"data": data}
            )
        except OSError:
            with ledger.lock:
                ledger.starts.append((None, None))
            return
        case_id = body["id"] if status == 201 else None
        with ledger.lock:
            ledger.starts.append((case_id, status))
        if case_id is None:
            return
        for bpmn_id, username, form in STEPS:
            task_id = None
            try:
                status, case = call(base, "GET", f"/api/v1/instances/{case_id}", tokens[username])
                task_id = next(task["id"] for task in case["tasks"] if task["bpmn_id"] == bpmn_id)
                status, _body = call(
                    base, "POST", f"/api/v1/tasks/{task_id}/complete", tokens[username], {"data": form}
                )
            except OSError:
                if task_id is not None:
                    with ledger.lock:
                        ledger.completions.append((task_id, None))
                return
            with ledger.lock:
                ledger.completions.append((task_id, status))
            if status != 200:
                return


@pytest.fixture
def prepared(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, dict[str, str]]]:
    """The fresh database set up by init-db and seed-demo, and an API token per acting user."""
    app = create_app(
        {"TESTING": True, "DATABASE_URL": fresh_database_url, "SECRET_KEY": "test", "UPLOAD_DIR": str(tmp_path / "f")}
    )
    for command in ("init-db", "seed-demo"):
        result = run(app, command)
        assert result.exit_code == 0, result.output
    with session_factory(app)() as session:
        tokens = {name: create_token(session, user(session, name), "crash test") for name in USERS}
        session.commit()
    yield app, tokens
    engine(app).dispose()


def test_killing_the_server_mid_stream_leaves_every_request_all_or_nothing(
    prepared: tuple[Flask, dict[str, str]], fresh_database_url: str, tmp_path: Path
) -> None:
    app, tokens = prepared
    env = server_env(fresh_database_url, tmp_path / "f")
    server = Server(env, tmp_path / "gunicorn.log", tokens["ganjingzi1"])
    ledger, stop = Ledger(), threading.Event()
    threads = [
        threading.Thread(target=client_loop, args=(server.base, tokens, n, ledger, stop), daemon=True)
        for n in range(THREADS)
    ]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while ledger.completed() < COMPLETIONS_BEFORE_KILL and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ledger.completed() >= COMPLETIONS_BEFORE_KILL, "the server did too little work in 30 s"
        server.stop(signal.SIGKILL)  # the whole group: the master and both workers, mid-request
    finally:
        stop.set()
        if server.process.poll() is None:
            server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=40)
    answered = [status for _task, status in ledger.completions if status is not None]
    assert set(answered) <= {200}, f"a completion failed before the kill: {answered}"
    assert {status for _case, status in ledger.starts if status is not None} <= {201}

    # Restarted on the same database, the server works on.
    restarted = Server(env, tmp_path / "gunicorn.log", tokens["ganjingzi1"])
    try:
        started = call(
            restarted.base,
            "POST",
            "/api/v1/processes/hazard_report/instances",
            tokens["ganjingzi1"],
            {"data": intake(location="重启后新报告的地点")},
        )
        assert started[0] == 201, started
    finally:
        restarted.stop()

    checked = flask_command(env, "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "检查通过" in checked.stdout

    with session_factory(app)() as session:
        for task_id, status in ledger.completions:
            entry = session.scalar(select(TaskIndexEntry).where(TaskIndexEntry.task_id == task_id))
            steps = session.scalar(
                select(func.count()).select_from(ApprovalStep).where(ApprovalStep.task_id == task_id)
            )
            assert entry is not None
            if status == 200:
                # Acknowledged: all of it is there.
                assert (entry.status, steps) == (TaskStatus.COMPLETED.value, 1)
            else:
                # Cut off by the kill: either all of it or none of it.
                assert (entry.status, steps) in {(TaskStatus.COMPLETED.value, 1), (TaskStatus.READY.value, 0)}
        for case_id, status in ledger.starts:
            if status == 201:
                assert session.get(ProcessInstance, case_id) is not None


def add_audit_events(session: Session, count: int) -> None:
    """Extend the audit chain by `count` valid events, in bulk (a large archive that takes a while to restore)."""
    prev = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS_HASH
    start, rows = utcnow(), []
    for number in range(count):
        at = start + timedelta(microseconds=number)
        payload = json.dumps({"n": number})
        digest = event_hash(prev, at, None, "test.bulk", "case", "bulk", payload)
        rows.append(
            dict(
                occurred_at=at,
                actor_id=None,
                action="test.bulk",
                object_type="case",
                object_id="bulk",
                payload=payload,
                prev_hash=prev,
                hash=digest,
            )
        )
        prev = digest
    for first in range(0, count, 5000):
        session.execute(insert(AuditEvent), rows[first : first + 5000])
    session.commit()


def row_counts(app: Flask) -> dict[str, int]:
    """Rows per table, the derived tallies left out (a restore folds them): tests.test_backup_restore's count."""
    return table_row_counts(engine(app))


def test_killing_a_restore_mid_way_leaves_the_database_empty(
    app: Flask, app_db: Session, fresh_database_url: str, tmp_path: Path
) -> None:
    add_audit_events(app_db, 40_000)
    archive = tmp_path / "large.zip"
    assert run(app, "backup", str(archive)).exit_code == 0
    env = server_env(fresh_database_url, tmp_path / "restored-files")

    restore = subprocess.Popen(
        [str(BIN / "flask"), "--app", "webapp", "restore", str(archive)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert restore.stderr is not None
        seen = []
        for line in restore.stderr:
            seen.append(line)
            if line.startswith("audit_event：已写入 10000/"):
                break  # ten thousand events are written, uncommitted: the process is busy mid-restore
    finally:
        kill_group(restore)
    assert seen and seen[-1].startswith("audit_event：已写入"), "".join(seen)

    target = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": fresh_database_url,
            "SECRET_KEY": "test",
            "UPLOAD_DIR": str(tmp_path / "restored-files"),
        }
    )
    try:
        assert set(row_counts(target).values()) == {0}  # no partial rows
        checked = run(target, "check")
        assert checked.exit_code == 0, checked.output
        # And the interrupted restore can simply be run again.
        again = run(target, "restore", str(archive))
        assert again.exit_code == 0, again.output
        assert row_counts(target) == row_counts(app)
    finally:
        engine(target).dispose()
