"""The whole aid list path as officials feel it (issue #9 §4 "Lists"): under 10 s in total and 500 MB peak memory.

One run on a fresh seeded database (SQLite file by default) of, in order:

1. import: the province's draft list of N workers (the .xlsx of bench/aid_import.py, all in 大连市 spread over its
   districts) read, validated, bulk-inserted and split by city (`import_aid_list` + `city_split`), committed;
2. grid: 甘井子区's review grid (`GET /aid/review`, the real page through Flask's test client, logged in as
   ganjingzi1): its first, a middle and its last page of 50;
3. batch: the province's confirmation of every worker at 3,000 yuan is arranged with one UPDATE (not timed: it is
   the province's review, not the list path), then `create_batch` of the city's N workers, committed;
4. bank file: `GET /aid/batches/<id>.xlsx` and `GET /aid/batches/<id>.csv` as baozhang1 (each download loads the
   batch and renders it, as the real routes do).

Prints each phase's wall time and this process's CPU time (steadier on a shared machine; on PostgreSQL the server's
work is in the wall time only), the total, the process's peak resident memory (ru_maxrss: it includes building the
input .xlsx) and the ratios to the targets (10 s, 500 MB).

    .venv/bin/python bench/aid_list_path.py [rows] [--db sqlite|postgres|URL]   # default 20000 rows, SQLite file

`--db postgres` starts a throwaway PostgreSQL as tests/postgres_server.py does; a URL must name an empty database.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.aid_import import seed, worker  # noqa: E402
from tests.workflow_helpers import user  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp import database as webapp_database  # noqa: E402
from workflows.aid.importing import city_split, import_aid_list  # noqa: E402
from workflows.aid.payment import create_batch  # noqa: E402
from workflows.aid.validation import COLUMNS  # noqa: E402
from workflows.db import make_engine  # noqa: E402
from workflows.demo import DEMO_PASSWORD  # noqa: E402
from workflows.models import AidWorker  # noqa: E402
from workflows.organisation import unit_by_code  # noqa: E402
from workflows.tabular import TableLimits, write_xlsx  # noqa: E402

YEAR = 2017
CITY = "210200"  # 大连市总工会: bench/aid_import.py puts every worker there
TARGET_SECONDS, TARGET_MB = 10.0, 500.0
PER_PAGE = 50
T = TypeVar("T")


@contextmanager
def database(choice: str, tmp: str) -> Iterator[str]:
    if choice == "sqlite":
        yield f"sqlite:///{tmp}/bench.db"
    elif choice == "postgres":
        from tests.postgres_server import create_database, throwaway_postgres

        with throwaway_postgres() as base_url:
            yield create_database(base_url, "bench")
    else:
        yield choice


def timed(phases: list[tuple[str, float, float]], label: str, action: Callable[[], T]) -> T:
    """Runs `action`, noting its wall time and this process's CPU time (a steadier figure on a shared machine)."""
    started, cpu = time.perf_counter(), time.process_time()
    result = action()
    phases.append((label, time.perf_counter() - started, time.process_time() - cpu))
    return result


def login(client: FlaskClient, username: str) -> None:
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
    assert response.status_code == 302, f"login {username}: {response.status_code}"


def get(client: FlaskClient, path: str, expect: bytes = b"") -> int:
    response = client.get(path)
    assert response.status_code == 200 and expect in response.data, f"GET {path}: {response.status_code}"
    return len(response.data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", nargs="?", type=int, default=20_000)
    parser.add_argument("--db", default="sqlite", help="sqlite (default), postgres (throwaway server) or a URL")
    args = parser.parse_args()
    rows: int = args.rows
    started = time.perf_counter()
    data = write_xlsx(list(COLUMNS), [worker(n) for n in range(rows)])
    built = time.perf_counter() - started
    phases: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp, database(args.db, tmp) as url:
        engine = make_engine(url)
        seed(engine)
        kind = engine.dialect.name

        def import_list() -> list[tuple[str, int]]:
            with Session(engine) as session, session.begin():
                drafter = user(session, "shengzong_baozhang1")
                limits = TableLimits(max_rows=max(rows, 50_000))
                import_aid_list(session, drafter, YEAR, data, "bench.xlsx", limits=limits)
                return [(unit.name, count) for unit, count in city_split(session, YEAR)]

        split = timed(phases, f"import {rows} rows ({len(data) / 1e6:.1f} MB .xlsx): read, validate, insert, split",
                      import_list)  # fmt: skip

        app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                          "UPLOAD_DIR": os.path.join(tmp, "attachments")})  # fmt: skip
        reviewer, handler = app.test_client(), app.test_client()
        login(reviewer, "ganjingzi1")
        login(handler, "baozhang1")
        with Session(engine) as session:
            district = unit_by_code(session, "210211").id
            mine = select(func.count()).where(AidWorker.year == YEAR, AidWorker.district_unit_id == district)
            part = session.scalar(mine) or 0
        pages = max(1, -(-part // PER_PAGE))
        for label, page in (("first", 1), ("middle", (pages + 1) // 2), ("last", pages)):
            path = f"/aid/review?year={YEAR}&page={page}&per_page={PER_PAGE}"
            timed(phases, f"grid: 甘井子区 {label} page ({page} of {pages}, {part} workers)",
                  lambda path=path: get(reviewer, path, f"已审查 0 / {part}".encode()))  # fmt: skip

        with Session(engine) as session, session.begin():  # the province's confirmation: arranged, not timed
            session.execute(
                update(AidWorker)
                .where(AidWorker.year == YEAR)
                .values(review_conclusion="符合", confirmed_at=datetime.now(UTC), aid_amount=Decimal("3000.00"))
            )

        def make_batch() -> tuple[int, str]:
            with Session(engine) as session, session.begin():
                batch = create_batch(session, user(session, "baozhang1"), YEAR, unit_by_code(session, CITY).id)
                return batch.id, batch.batch_number

        batch_id, number = timed(phases, f"batch: create_batch of {rows} workers, commit", make_batch)
        xlsx = timed(phases, "bank file: GET .xlsx (load + render)",
                     lambda: get(handler, f"/aid/batches/{batch_id}.xlsx", b"PK"))  # fmt: skip
        csv = timed(phases, "bank file: GET .csv (load + render)",
                    lambda: get(handler, f"/aid/batches/{batch_id}.csv", number.encode()))  # fmt: skip
        webapp_database.engine(app).dispose()
        engine.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    total, total_cpu = sum(phase[1] for phase in phases), sum(phase[2] for phase in phases)
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"{rows} rows on {kind}; {machine}; input .xlsx built in {built:.1f} s (not timed); split {split}")
    print(f"bank files: {xlsx / 1e6:.1f} MB .xlsx, {csv / 1e6:.1f} MB .csv")
    print()
    print("| phase | seconds | CPU seconds |")
    print("|---|---|---|")
    for label, seconds, cpu in phases:
        print(f"| {label} | {seconds:.2f} | {cpu:.2f} |")
    print(f"| **total** | **{total:.2f}** | **{total_cpu:.2f}** |")
    print()
    print(f"total {total:.2f} s = {total / TARGET_SECONDS:.2f} × the {TARGET_SECONDS:.0f} s target; "
          f"peak RSS {peak:.0f} MB = {peak / TARGET_MB:.2f} × the {TARGET_MB:.0f} MB target")  # fmt: skip


if __name__ == "__main__":
    main()
