"""Hazard reports through the JSON API against a live server, compared with raw SpiffWorkflow on the same diagram.

For each case: start it (POST instances), then for each of its 4 steps (the false-report path) the step's holder
lists the queue, claims the task, completes it and reads the instance: 1 + 4 × 4 = 17 requests per case.
The server is `gunicorn -w 1 --threads 4 'webapp:create_app()'` on a fresh SQLite file seeded by the CLI.
The baseline is bench/roundtrip.py's raw engine loop, run in this process on the same machine.

    .venv/bin/python bench/http_roundtrip.py [cases] [workers]
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roundtrip import STEPS, raw_engine  # noqa: E402
from tests.workflow_helpers import intake  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Api:
    def __init__(self, port: int, token: str, timings: dict[str, list[float]]) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.timings = timings

    def call(self, kind: str, method: str, path: str, body: Any = None) -> Any:
        payload = None if body is None else json.dumps(body)
        started = time.perf_counter()
        self.connection.request(method, path, body=payload, headers=self.headers)
        response = self.connection.getresponse()
        data = response.read()
        self.timings[kind].append(time.perf_counter() - started)
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
        return json.loads(data) if data else None


def run_cases(port: int, tokens: dict[str, str], cases: int) -> tuple[float, dict[str, list[float]]]:
    timings: dict[str, list[float]] = defaultdict(list)
    clients = {username: Api(port, token, timings) for username, token in tokens.items()}
    started = time.perf_counter()
    for _ in range(cases):
        created = clients["ganjingzi1"].call(
            "start", "POST", "/api/v1/processes/hazard_report/instances", {"data": intake()}
        )
        for username, bpmn_id, data in STEPS:
            api = clients[username]
            queue = api.call("list queue", "GET", "/api/v1/tasks?view=queue&process=hazard_report&per_page=100")
            task = next(t for t in queue["items"] if t["instance_id"] == created["id"] and t["bpmn_id"] == bpmn_id)
            api.call("claim", "POST", f"/api/v1/tasks/{task['id']}/claim")
            api.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": data})
            api.call("read instance", "GET", f"/api/v1/instances/{created['id']}")
    return cases / (time.perf_counter() - started), timings


def serve(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], int, dict[str, str]]:
    env = {
        **os.environ,
        "FLASK_DATABASE_URL": f"sqlite:///{workdir / 'bench.db'}",
        "FLASK_SECRET_KEY": "bench-only",
    }
    flask = [str(BIN / "flask"), "--app", "webapp"]
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run(flask + command, env=env, check=True, cwd=ROOT, capture_output=True)
    tokens = {
        username: subprocess.run(
            [*flask, "create-token", username], env=env, check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        for username in {step[0] for step in STEPS}
    }
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", str(workers), "--threads", "4", "-b", f"127.0.0.1:{port}", "webapp:create_app()"],
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
        except OSError:
            time.sleep(0.05)
    return server, port, tokens


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    raw = raw_engine(5.0)
    with tempfile.TemporaryDirectory() as tmp:
        server, port, tokens = serve(Path(tmp), workers)
        try:
            run_cases(port, tokens, 5)  # warm-up: imports, spec cache, first queries
            throughput, timings = run_cases(port, tokens, cases)
        finally:
            server.terminate()
            server.wait(10)
    print(f"{cases} cases, gunicorn -w {workers} --threads 4, SQLite, one client, {os.cpu_count()} cores")
    print("| request | n | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for kind, values in timings.items():
        p50, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
        print(f"| {kind} | {len(values)} | {p50:.1f} | {p95:.1f} |")
    print()
    print("| mode | cases/s (start + 4 steps) | ratio to raw engine |")
    print("|---|---|---|")
    print(f"| raw SpiffWorkflow, JSON save/load per step, in process | {raw:.1f} | 1.00 |")
    print(f"| JSON API over HTTP (17 requests per case) | {throughput:.1f} | {throughput / raw:.2f} |")


if __name__ == "__main__":
    main()
