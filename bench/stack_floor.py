"""What the fixed stack allows: issue #9 §1's targets against the least any implementation must do (bench/floor_app.py).

Three measurements on the same machine in one run:
1. In process, cases per second (start + the 4 steps of bench/roundtrip.py, one transaction each, SQLite file):
   raw SpiffWorkflow (JSON save and load at every user-task boundary, no database), the floor (the same engine work
   plus a task row and a commit per step, nothing else), and UnionFlow's service layer. The issue asks the service
   layer for half the raw engine's rate; the floor's ratio is the most any service layer on this stack can reach.
2. Over HTTP, round trips per second of bench/http_roundtrip.py's clients (start, list the queue, claim, complete,
   read: 5 requests) against the floor app and then UnionFlow, each behind `gunicorn -w 1 --threads 8`. The issue
   asks UnionFlow for 135 per second in one process.
3. The same with one client: each one's latency per request.

    .venv/bin/python bench/stack_floor.py [--seconds 10] [--round-trips 2000] [--clients 8] [--postgres]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import floor_app  # noqa: E402
from bench.http_roundtrip import (  # noqa: E402
    BIN,
    TARGET_ROUND_TRIPS_PER_SECOND,
    database,
    free_port,
    print_latencies,
    run_clients,
    server,
    wait_for_port,
)
from bench.roundtrip import STEPS, raw_engine, service_layer  # noqa: E402
from tests.workflow_helpers import intake  # noqa: E402
from workflows.db import make_engine  # noqa: E402


def prepare(url: str, accounts: int) -> list[str]:
    """The floor's tables on a fresh database, and one account (with its API token) per client."""
    engine = make_engine(url)
    floor_app.metadata.create_all(engine)
    tokens = [secrets.token_urlsafe(24) for _ in range(accounts)]
    with engine.begin() as connection:
        rows = [{"token_hash": floor_app.token_hash(token), "unit": floor_app.UNIT} for token in tokens]
        connection.execute(floor_app.account.insert(), rows)
    engine.dispose()
    return tokens


def floor_in_process(url: str, seconds: float) -> float:
    """Cases per second through the floor's operations: a start and 4 steps, a transaction each."""
    engine = make_engine(url)
    floor_app.load_spec()
    holder = 1
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        with engine.begin() as connection:
            case_id = floor_app.start(connection, intake())
        for _user, bpmn_id, data in STEPS:
            with engine.begin() as connection:
                task_id = next(t["id"] for t in floor_app.queue(connection, floor_app.UNIT, 50)
                               if t["instance_id"] == case_id and t["bpmn_id"] == bpmn_id)  # fmt: skip
                assert floor_app.claim(connection, task_id, holder, floor_app.UNIT)
                assert floor_app.complete(connection, task_id, holder, data) == case_id
        done += 1
    engine.dispose()
    return done / (time.perf_counter() - started)


@contextlib.contextmanager
def floor_server(url: str, threads: int) -> Iterator[int]:
    port = free_port()
    env = {**os.environ, "FLOOR_DATABASE_URL": url}
    command = [str(BIN / "gunicorn"), "-w", "1", "--threads", str(threads), "-b", f"127.0.0.1:{port}",
               "bench.floor_app:create_app()"]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--round-trips", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    kind = "PostgreSQL (durable)" if args.postgres else "SQLite file"
    print(f"# The stack's floor: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, {kind}")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_engine(args.seconds)
        with database(Path(tmp), False, "floor_inproc") as url:
            prepare(url, 1)
            floor = floor_in_process(url, args.seconds)
        service = service_layer(args.seconds, Path(tmp) / "service.db")
        print("\n| in process, start + 4 steps | cases/s | ratio to raw engine |")
        print("|---|---|---|")
        for label, rate in (("raw SpiffWorkflow, JSON save/load", raw),
                            ("floor: engine + task rows + a commit per step", floor),
                            ("UnionFlow service layer", service)):  # fmt: skip
            print(f"| {label} | {rate:.1f} | {rate / raw:.2f} |")
        print(f"\ntarget: the service layer at ≥ 0.50 of the raw engine; the floor reaches {floor / raw:.2f}, "
              f"UnionFlow {service / raw:.2f} ({service / floor:.2f} of the floor)")

        with database(Path(tmp), args.postgres, "floor_http") as url:
            tokens = prepare(url, args.clients)
            with floor_server(url, args.threads) as port:
                floor_http = measure_http(port, tokens, args.round_trips)
        with database(Path(tmp), args.postgres, "unionflow_http") as url, server(
            url, 1, args.threads, args.clients
        ) as (_process, port, tokens):
            unionflow_http = measure_http(port, tokens, args.round_trips)
    for label, (rate, alone, timings) in (("Floor app", floor_http), ("UnionFlow", unionflow_http)):
        print(f"\n{label}, one client, {len(alone['complete'])} round trips:")
        print_latencies(alone)
        print(f"\n{label}, {args.clients} clients, {args.round_trips} round trips, gunicorn -w 1 --threads "
              f"{args.threads}: {rate:.1f} round trips/s = {rate / TARGET_ROUND_TRIPS_PER_SECOND:.2f} of the "
              f"{TARGET_ROUND_TRIPS_PER_SECOND:.0f}/s target")  # fmt: skip
        print_latencies(timings)
    print(f"\nUnionFlow over HTTP: {unionflow_http[0] / floor_http[0]:.2f} of the floor's round trips/s")


def measure_http(port: int, tokens: list[str], round_trips: int) -> tuple[float, Any, Any]:
    run_clients(port, tokens[:1], 20)  # warm-up: imports, caches
    _rate, alone = run_clients(port, tokens[:1], max(100, round_trips // 10))
    rate, timings = run_clients(port, tokens, round_trips)
    return rate, alone, timings


if __name__ == "__main__":
    main()
