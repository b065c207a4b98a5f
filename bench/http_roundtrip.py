"""Approval round trips over HTTP against a live gunicorn server, compared with raw SpiffWorkflow on the same diagram.

One round trip (issue #9 §1, the shape SpiffArena was measured with in research/bpm-anchors.md §4): a district
official starts a hazard report (POST instances), lists their queue, claims the report's first step, completes it
(受理) and reads the instance: 5 requests. The engine then waits at the city's triage step, as a real case would.

The server is the production entry point, `gunicorn -w W --threads T 'webapp:create_app()'`, on a fresh database
seeded by the CLI: a SQLite file, or with `--postgres` a throwaway PostgreSQL server with durable commits (fsync
and synchronous_commit on, unlike the test suite's). C client threads run in this process, each with its own
keep-alive connection and API token. The baseline is the same diagram run by raw SpiffWorkflow in this process:
start, then one step, with a full JSON save and load at the user-task boundary (bench/roundtrip.py).

`--memory N` runs N round trips and prints the worker's resident memory after each tenth of them (issue #9 §6).

    .venv/bin/python bench/http_roundtrip.py [--round-trips 2000] [--clients 8] [--workers 1] [--threads 8]
                                             [--postgres] [--memory 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.roundtrip import STEPS, raw_engine  # noqa: E402
from tests.workflow_helpers import intake  # noqa: E402

BIN = Path(sys.executable).parent
SPIFFARENA_ROUND_TRIPS_PER_SECOND = 6.76  # research/bpm-anchors.md §4: same machine kind, SQLite, 8 clients
TARGET_ROUND_TRIPS_PER_SECOND = 135.0
TARGET_COMPLETE_P50_MS = 15.0
STARTER, FIRST_STEP, FIRST_STEP_DATA = STEPS[0]
PLACES = itertools.count(1)


class Api:
    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.timings: dict[str, list[float]] = defaultdict(list)

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

    def round_trip(self) -> None:
        # A report of a place already reported and still open would be flagged as a likely duplicate (查重).
        place = f"{next(PLACES)}号车间配电箱"
        created = self.call(
            "start", "POST", "/api/v1/processes/hazard_report/instances", {"data": intake(location=place)}
        )
        queue = self.call("list queue", "GET", "/api/v1/tasks?view=queue&process=hazard_report&per_page=50")
        task = next(t for t in queue["items"] if t["instance_id"] == created["id"] and t["bpmn_id"] == FIRST_STEP)
        self.call("claim", "POST", f"/api/v1/tasks/{task['id']}/claim")
        self.call("complete", "POST", f"/api/v1/tasks/{task['id']}/complete", {"data": FIRST_STEP_DATA})
        self.call("read instance", "GET", f"/api/v1/instances/{created['id']}")


def run_clients(port: int, tokens: list[str], round_trips: int) -> tuple[float, dict[str, list[float]]]:
    """`round_trips` spread over one thread per token; returns round trips per second and every request's time."""
    clients = [Api(port, token) for token in tokens]
    share = [round_trips // len(clients) + (1 if i < round_trips % len(clients) else 0) for i in range(len(clients))]
    failures: list[BaseException] = []

    def work(api: Api, count: int) -> None:
        try:
            for _ in range(count):
                api.round_trip()
        except BaseException as exc:  # reported after the join; a silent thread death would flatter the figure
            failures.append(exc)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(clients, share, strict=True)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"{len(failures)} client(s) failed: {failures[0]!r}")
    timings: dict[str, list[float]] = defaultdict(list)
    for api in clients:
        for kind, values in api.timings.items():
            timings[kind] += values
    return round_trips / elapsed, timings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int) -> None:
    """Until the server on `port` accepts connections (gunicorn imports the app first), 20 s at most."""
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1):
                return
        except OSError:
            time.sleep(0.05)


@contextlib.contextmanager
def database(workdir: Path, postgres: bool, name: str = "bench") -> Iterator[str]:
    """A SQLite file in `workdir`, or a database on a throwaway PostgreSQL server with durable commits."""
    if not postgres:
        yield f"sqlite:///{workdir / f'{name}.db'}"
        return
    from tests.postgres_server import create_database, throwaway_postgres

    with throwaway_postgres(durable=True) as base:
        yield create_database(base, name)


@contextlib.contextmanager
def server(
    url: str, workers: int, threads: int, clients: int
) -> Iterator[tuple[subprocess.Popen[bytes], int, list[str]]]:
    env = {**os.environ, "FLASK_DATABASE_URL": url, "FLASK_SECRET_KEY": "bench-only"}
    flask = [str(BIN / "flask"), "--app", "webapp"]
    for command in (["init-db"], ["seed-demo"]):
        subprocess.run(flask + command, env=env, check=True, cwd=ROOT, capture_output=True)
    tokens = [
        subprocess.run(
            [*flask, "create-token", STARTER], env=env, check=True, cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        for _ in range(clients)
    ]
    port = free_port()
    command = [str(BIN / "gunicorn"), "-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}"]
    process = subprocess.Popen([*command, "webapp:create_app()"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield process, port, tokens
    finally:
        process.terminate()
        process.wait(10)


def worker_rss_mb(master: subprocess.Popen[bytes]) -> float:
    """Resident memory of the gunicorn workers (the master's children), summed."""
    children = Path(f"/proc/{master.pid}/task/{master.pid}/children").read_text().split()
    total_kb = 0
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_latencies(timings: dict[str, list[float]]) -> None:
    print("| request | n | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for kind, values in timings.items():
        p50, p95 = statistics.median(values) * 1000, percentile(values, 0.95) * 1000
        print(f"| {kind} | {len(values)} | {p50:.1f} | {p95:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--memory", type=int, default=0, help="round trips for the memory run (0: skip)")
    args = parser.parse_args()

    raw = raw_engine(5.0, steps=1)
    kind = "PostgreSQL (durable)" if args.postgres else "SQLite file"
    print(
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {kind}, "
        f"gunicorn -w {args.workers} --threads {args.threads}"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        database(Path(tmp), args.postgres) as url,
        server(url, args.workers, args.threads, args.clients) as (process, port, tokens),
    ):
        run_clients(port, tokens[:1], 20)  # warm-up: imports, spec cache, first queries
        _rate, alone = run_clients(port, tokens[:1], max(100, args.round_trips // 10))
        rate, timings = run_clients(port, tokens, args.round_trips)
        memory = []
        if args.memory:
            tenth = args.memory // 10
            for _ in range(10):
                run_clients(port, tokens, tenth)
                memory.append(worker_rss_mb(process))

    print(f"\nOne client, {len(alone['complete'])} round trips (latency as one official feels it):")
    print_latencies(alone)
    print(f"\n{args.clients} clients, {args.round_trips} round trips:")
    print_latencies(timings)
    print()
    print("| mode | round trips/s | ratio to raw engine | ratio to SpiffArena (6.76/s) |")
    print("|---|---|---|---|")
    print(f"| raw SpiffWorkflow, start + 1 step, JSON save/load, in process | {raw:.1f} | 1.00 | |")
    print(
        f"| HTTP, {args.clients} clients | {rate:.1f} | {rate / raw:.2f} | "
        f"{rate / SPIFFARENA_ROUND_TRIPS_PER_SECOND:.1f} |"
    )
    complete_p50 = statistics.median(alone["complete"]) * 1000
    print(
        f"\ntargets: {TARGET_ROUND_TRIPS_PER_SECOND:.0f} round trips/s → {rate / TARGET_ROUND_TRIPS_PER_SECOND:.2f} "
        f"of it; complete p50 {complete_p50:.1f} ms (one client) vs {TARGET_COMPLETE_P50_MS:.0f} ms"
    )
    if memory:
        print(f"\nworker RSS (MB) after each {args.memory // 10} of {args.memory} round trips:")
        print(" ".join(f"{value:.0f}" for value in memory))
        print(f"growth from the first to the last tenth: {memory[-1] - memory[0]:+.1f} MB")


if __name__ == "__main__":
    main()
