"""Cost growth (issue #9 §3): time per completion and instance size with 1 k, 10 k and 100 k stored instances.

A seeded database (SQLite file, or with `--postgres` a durable throwaway PostgreSQL) first gets real hazard cases
run through the service layer: one closed, one waiting at the city's triage. Copies of their rows (the instance
with its engine state, its task-index, approval-step, timer and report rows; new ids and case numbers) then fill
the database in bulk to each size: nine closed cases to one open, so queues grow too. At each size, C fresh cases
are run through the service layer (start + 4 steps, one transaction each, as bench/roundtrip.py) and the time of
every step is kept. Cost is flat when the per-step time and the state size do not grow with the stored instances.

    .venv/bin/python bench/cost_growth.py [--sizes 1000,10000,100000] [--cases 40] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, Table, func, insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.http_roundtrip import database  # noqa: E402
from bench.roundtrip import STEPS  # noqa: E402
from bench.roundtrip import run_case as service_case  # noqa: E402
from workflows.db import Base, make_engine  # noqa: E402
from workflows.demo import seed_demo  # noqa: E402
from workflows.engine.deployment import deploy_paths  # noqa: E402
from workflows.models import ProcessInstance  # noqa: E402
from workflows.policy.parameters import seed_policy_parameters  # noqa: E402
from workflows.routing import BPMN_DIR, load_routing  # noqa: E402

CHUNK = 5_000
ROUTING = load_routing()


def run_case(engine: Engine, serial: int, steps: int = len(STEPS)) -> tuple[int, list[float]]:
    return service_case(engine, ROUTING, location=f"{serial}号车间", steps=steps)


def _dependent_tables() -> list[Table]:
    return [
        table
        for table in Base.metadata.sorted_tables
        if "instance_id" in table.c and table.name not in ("notification", "audit_event")
    ]


def fill(engine: Engine, templates: list[int], target: int) -> None:
    """Copy the template cases' rows until the database holds `target` instances (nine closed to one open)."""
    instance_table = ProcessInstance.__table__
    assert isinstance(instance_table, Table)
    with engine.begin() as connection:
        count = connection.scalar(select(func.count()).select_from(instance_table)) or 0
        rows = {
            case_id: dict(
                connection.execute(select(instance_table).where(instance_table.c.id == case_id)).one()._mapping
            )
            for case_id in templates
        }
        dependents = {
            (table.name, case_id): [
                dict(row._mapping) for row in connection.execute(select(table).where(table.c.instance_id == case_id))
            ]
            for table in _dependent_tables()
            for case_id in templates
        }
        next_id = (connection.scalar(select(func.max(instance_table.c.id))) or 0) + 1
        while count < target:
            batch = min(CHUNK, target - count)
            ids = list(range(next_id, next_id + batch))
            chosen = [templates[0] if (i % 10) else templates[1] for i in ids]
            connection.execute(
                insert(instance_table),
                [
                    {**rows[template], "id": new_id, "case_number": f"YH-BENCH-{new_id:07d}"}
                    for new_id, template in zip(ids, chosen, strict=True)
                ],
            )
            for table in _dependent_tables():
                copies = [
                    {key: value for key, value in {**row, "instance_id": new_id}.items() if key != "id"}
                    for new_id, template in zip(ids, chosen, strict=True)
                    for row in dependents[(table.name, template)]
                ]
                if copies:
                    connection.execute(insert(table), copies)
            count += batch
            next_id += batch
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('process_instance', 'id'),"
                " (SELECT max(id) FROM process_instance))"
            )
        connection.exec_driver_sql("ANALYZE")


def measure(engine: Engine, cases: int, serial: int) -> dict[str, Any]:
    by_step: list[list[float]] = [[] for _ in range(len(STEPS) + 1)]
    ids = []
    for n in range(cases):
        case_id, timings = run_case(engine, serial + n)
        ids.append(case_id)
        for column, value in zip(by_step, timings, strict=True):
            column.append(value)
    step_times = [value for column in by_step[1:] for value in column]
    with Session(engine) as db:
        sizes = [len(state) for state in db.scalars(select(ProcessInstance.state).where(ProcessInstance.id.in_(ids)))]
    return {
        "p50": statistics.median(step_times),
        "mean": statistics.fmean(step_times),
        "state": statistics.fmean(sizes),
        "columns": [statistics.median(column) for column in by_step],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    kind = "PostgreSQL (durable)" if args.postgres else "SQLite file"
    print(f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {kind}")
    results = []
    with tempfile.TemporaryDirectory() as tmp, database(Path(tmp), args.postgres, "growth") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        with Session(engine) as db, db.begin():
            seed_policy_parameters(db)
            seed_demo(db)
            deploy_paths(db, [BPMN_DIR], ROUTING)
        closed, _ = run_case(engine, 0)
        waiting, _ = run_case(engine, 1, steps=1)
        measure(engine, 5, 10)  # warm-up: imports, spec cache, first queries
        for size in sizes:
            started = time.perf_counter()
            fill(engine, [closed, waiting], size)
            filled = time.perf_counter() - started
            result = measure(engine, args.cases, size * 10)
            results.append((size, filled, result))
        engine.dispose()
    names = ["start", *(bpmn_id for _user, bpmn_id, _data in STEPS)]
    print(f"| stored instances | fill s | step p50 ms | step mean ms | {' | '.join(names)} (p50 ms) | state bytes "
          "| step p50 vs first size |")  # fmt: skip
    print("|---" * (6 + len(names)) + "|")
    first = results[0][2]["p50"]
    for size, filled, result in results:
        columns = " | ".join(f"{value * 1000:.1f}" for value in result["columns"])
        print(
            f"| {size:,} | {filled:.1f} | {result['p50'] * 1000:.1f} | {result['mean'] * 1000:.1f} | {columns} | "
            f"{result['state']:.0f} | {result['p50'] / first:.2f} |"
        )


if __name__ == "__main__":
    main()
