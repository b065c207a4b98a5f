"""Inboxes at volume (issue #9 §2): 1,000,000 task-index rows, 100,000 of them open, spread over the demo tree.

Builds a database with the demo seed (policy parameters, organisation, users, the Dalian plan, every diagram
deployed; the order of tests/conftest.py's `seeded_engine`), then bulk-inserts 100,000 cases from
tests/volume_data.py (hazard reports with their records, studio and honour applications, aid lists, supervised
matters with their 督办 rows) with ~10 task-index rows each: half the cases finished, the other half with 1–3 open
steps each (~100,000 open rows, 40 % of them claimed), due dates spread so that about a third are overdue and some
fall in the yellow window. Cases live in every district-level and grassroots union of 大连 (甘井子区 four times as busy
as the rest), their city and province steps in the departments the lanes name. Units without enough accounts get
synthetic officials and heads (`bench_…`, password demo12345), so every step has a holder.

The build is Core `executemany` in chunks on SQLite and COPY on PostgreSQL; then the models' indexes are created and
the database is analysed (SQLite ANALYZE, PostgreSQL VACUUM ANALYZE), as a deployment's maintenance (autovacuum)
would have done after loading this much. The tallies (workflows.models.tally, .metric_tally, .queue_tally) are
recounted after the load; a cached file from before them gets their tables, triggers and counts on its next run.
The SQLite file is cached under /tmp/unionflow-bench keyed by VERSION and the scale, so reruns skip the build
(PostgreSQL: with --pg-url the database stays on that server too). On every run
the `ix_` indexes of task_index and process_instance are synced to the models of the code under test (extra ones
dropped, missing ones created), so old and new code can be compared on the same data.

Then, for each user and page, 50 runs (after 3 warm-ups) of:
- the query functions behind the page, on a fresh session per run (what the view calls, without rendering);
- the full page through Flask's test client, logged in (routing, nav counts, rendering: what users feel).
Pages: 待办 (`/?view=mine`), 部门待办 (`/?view=queue`), 责任分工 (`/plans/`), 督办台账 (`/supervision/`, its first page,
`ledger_page`). Also timed as functions only: the navigation counts (every page shows them) and, for reference, the
whole ledger (`ledger_rows`, what the page rendered before it was paginated).

    .venv/bin/python bench/inbox_volume.py                      # SQLite (cached file)
    .venv/bin/python bench/inbox_volume.py --db postgres        # a throwaway PostgreSQL server (built each run)
    .venv/bin/python bench/inbox_volume.py --db postgres --pg-url postgresql+psycopg://u:p@127.0.0.1:5432
    .venv/bin/python bench/inbox_volume.py --plans              # also EXPLAIN (ANALYZE) every statement, with times
    options: --runs N (50; 0 with --plans: plans only), --scale F (1.0 = 100,000 cases), --rebuild,
             --only PAGE[,PAGE] (mine,queue,plans,supervision,supervision_all,nav)
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, Index, Table, event, inspect, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

import workflows.models  # noqa: E402,F401  (registers every table)
from tests.volume_data import CASES, TABLES, Generator, ensure_holders, load_org, next_ids  # noqa: E402
from workflows.db import Base, make_engine  # noqa: E402

VERSION = 4  # bump when the generated data changes: the cached SQLite file is keyed by it
TARGET_MS = 30.0
CACHE_DIR = Path("/tmp/unionflow-bench")
SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGES = ("mine", "queue", "plans", "supervision", "supervision_all", "nav")
PAGE_TITLES = {
    "mine": "待办",
    "queue": "部门待办",
    "plans": "责任分工",
    "supervision": "督办台账",
    "supervision_all": "督办台账（整表 ledger_rows，参照）",
    "nav": "导航计数",
}
PAGE_URLS = {"mine": "/?view=mine", "queue": "/?view=queue", "plans": "/plans/", "supervision": "/supervision/"}
# The users timed, and the pages each sees (a grassroots-free selection: a busy district official, a district head,
# the city department head of the Monday-morning walk-through, the province official who reads every plan).
USERS = dict.fromkeys(("ganjingzi1", "ganjingzi_head", "jingji_head", "shengzong_jingji1"), PAGES)

# --- Building --------------------------------------------------------------------------------------------------------


def _bulk_insert(engine: Engine, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Core executemany on SQLite; COPY on PostgreSQL (psycopg adapts aware datetimes itself)."""
    if not rows:
        return
    if engine.dialect.name == "postgresql":
        columns = list(rows[0])
        raw = engine.raw_connection()
        try:
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[attr-defined]
                for row in rows:
                    copy.write_row([row[column] for column in columns])
            raw.commit()
        finally:
            raw.close()
        return
    with engine.begin() as connection:
        connection.execute(table.insert(), list(rows))


def _model_indexes() -> list[Index]:
    from workflows.models import ProcessInstance, TaskIndexEntry

    indexes: list[Index] = []
    for model in (TaskIndexEntry, ProcessInstance):
        table = model.__table__
        assert isinstance(table, Table)
        indexes += [index for index in table.indexes if index.name and str(index.name).startswith("ix_")]
    return indexes


def sync_indexes(engine: Engine) -> list[str]:
    """Make the `ix_` indexes of task_index and process_instance those the code under test declares."""
    wanted = {str(index.name): index for index in _model_indexes()}
    changes = []
    inspector = inspect(engine)
    with engine.begin() as connection:
        for table in ("task_index", "process_instance"):
            for existing in inspector.get_indexes(table):
                name = str(existing["name"])
                if not name.startswith("ix_"):
                    continue
                model = wanted.get(name)
                columns = [c.name for c in model.columns] if model is not None else None
                if model is None or columns != existing["column_names"]:
                    connection.execute(text(f"DROP INDEX {name}"))
                    changes.append(f"dropped {name}")
        present = {str(i["name"]) for table in ("task_index", "process_instance")
                   for i in inspect(connection).get_indexes(table)}  # fmt: skip
        for name, index in wanted.items():
            if name not in present:
                index.create(connection)
                changes.append(f"created {name}")
    return changes


def analyze(engine: Engine) -> float:
    """ANALYZE (SQLite), VACUUM ANALYZE (PostgreSQL: autovacuum's job in a deployment; it also lets index-only scans
    skip the heap), as a real deployment's maintenance would have run after loading this much."""
    started = time.perf_counter()
    statement = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))
    return time.perf_counter() - started


def build(engine: Engine, cases: int) -> float:
    """Seed, then bulk-load `cases` cases; returns the build's duration in seconds."""
    from workflows.demo import seed_demo
    from workflows.engine.deployment import deploy_paths
    from workflows.policy.parameters import seed_policy_parameters
    from workflows.routing import BPMN_DIR, load_routing

    started = time.perf_counter()
    Base.metadata.create_all(engine)
    with Session(engine) as session, session.begin():
        seed_policy_parameters(session)
        seed_demo(session)
        deploy_paths(session, [BPMN_DIR], load_routing())
        ensure_holders(session)
    with Session(engine) as session:
        org = load_org(session)
        after = next_ids(session)
    # Indexes are built once after the load, not maintained row by row.
    with engine.begin() as connection:
        for index in _model_indexes():
            connection.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
    generator = Generator(org, datetime.now(UTC), after)
    chunk = 5_000
    loaded = 0
    while loaded < cases:
        size = min(chunk, cases - loaded)
        rows = generator.batch(size)
        for name in TABLES:
            _bulk_insert(engine, Base.metadata.tables[name], rows[name])
        loaded += size
        if loaded % 20_000 == 0 or loaded == cases:
            print(f"  {loaded} cases, {generator.task_row_id - after['task_index']} task rows, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            for name in TABLES:
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                        f"(SELECT max(id) FROM {name}))"))  # fmt: skip
    changes = sync_indexes(engine)
    print(f"  indexes: {', '.join(changes)}; {time.perf_counter() - started:.0f} s", flush=True)
    fill_tallies(engine)
    analyze(engine)
    return time.perf_counter() - started


def fill_tallies(engine: Engine) -> str:
    """The plan dashboard's tallies (issue #9 §2), recounted after a bulk load: the loader writes task rows before
    their matters and no case passes store_case. A cached file built before the tallies gets their tables and
    triggers here (what migrations 0012 and 0014 do), so it need not be rebuilt."""
    from workflows.models import ClosedCaseTally, MetricTally, OpenTaskTally, QueueTally
    from workflows.models.metric_tally import HAZARD_TRIGGERS, hazard_trigger_ddl
    from workflows.models.queue_tally import queue_trigger_ddl, queue_trigger_names
    from workflows.models.tally import trigger_ddl, trigger_names
    from workflows.plans.tally import present_triggers, recount_tallies

    started = time.perf_counter()
    tables = [model.__table__ for model in (OpenTaskTally, ClosedCaseTally, MetricTally, QueueTally)]
    Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    with Session(engine) as session, session.begin():
        dialect = engine.dialect.name
        for table, names, ddl in (("task_index", trigger_names(dialect), trigger_ddl(dialect)),
                                  ("task_index", queue_trigger_names(dialect), queue_trigger_ddl(dialect)),
                                  ("hazard_report", HAZARD_TRIGGERS, hazard_trigger_ddl(dialect))):  # fmt: skip
            if not set(names) <= present_triggers(session, table):
                for statement in ddl:
                    session.connection().exec_driver_sql(statement)
        recount_tallies(session)
    return f"tallies recounted in {time.perf_counter() - started:.1f} s"


# --- Timing ------------------------------------------------------------------------------------------------------


@dataclass
class Timing:
    database: str
    user: str
    page: str
    kind: str  # "function" or "page"
    samples: list[float]
    queries: int

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000


class StatementLog:
    """Every statement an engine sends, with its parameters as the driver got them (for counting and EXPLAIN)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.active = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    @contextmanager
    def capture(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False


def page_functions(session: Session, username: str, page: str) -> Callable[[], object]:
    """What the view of `page` calls for `username`, as one callable (users are loaded by the caller's session)."""
    from workflows.acting import principals_of
    from workflows.calendar import beijing_today
    from workflows.db import utcnow
    from workflows.inbox import (
        InboxFilter,
        View,
        default_sort,
        inbox_counts,
        near_due_limit,
        on_behalf_names,
        task_page,
    )
    from workflows.models import User
    from workflows.plans.dashboard import plan_dashboard
    from workflows.plans.periods import parse_period
    from workflows.plans.responsibility import (
        my_item_ids,
        plan_access,
        plans_for,
        visible_item_ids,
    )
    from workflows.plans.structure import plan_structure
    from workflows.reminders import urge_counts
    from workflows.routing import load_routing
    from workflows.supervision.ledger import LedgerFilter, ledger_rows
    from workflows.working_days import calendar_overrides

    user = session.scalar(select(User).where(User.username == username))
    assert user is not None

    def window() -> tuple[datetime, datetime]:
        now = utcnow()
        return now, near_due_limit(now, 2, calendar_overrides(session))

    def tasks(view: View) -> object:
        now, near = window()
        principals = principals_of(session, user)
        listing = task_page(session, user, view, InboxFilter(sort=default_sort(view)), now=now, near_limit=near,
                            principals=principals)  # fmt: skip
        on_behalf_names(user, principals, listing.items)
        urge_counts(session, (task.task_id for task in listing.items))
        return listing

    def dashboard() -> object:
        plans = plans_for(session, user)
        if not plans:
            return None
        access = plan_access(user, plans[0])
        assert access is not None
        period = parse_period(None, beijing_today())
        structure = plan_structure(session, access.plan)
        visible = visible_item_ids(access, structure.rows)
        mine = my_item_ids(user, structure.rows) & visible
        scope_all = access.own_unit_id is not None or not mine
        now, near = window()
        return plan_dashboard(session, access.plan, period, now=now, near_limit=near,
                              item_ids=visible if scope_all else mine, own_unit_id=access.own_unit_id,
                              structure=structure)  # fmt: skip

    def ledger_first_page() -> object:
        from workflows.supervision.ledger import ledger_page  # issue #9; code before it has none (--only to skip)

        now, near = window()
        return ledger_page(session, user, load_routing(), LedgerFilter(), now=now, near_limit=near)

    def whole_ledger() -> object:  # the list before the page was paginated, for reference
        now, near = window()
        return ledger_rows(session, user, load_routing(), LedgerFilter(), now=now, near_limit=near)

    calls: dict[str, Callable[[], object]] = {
        "mine": lambda: tasks(View.MINE),
        "queue": lambda: tasks(View.QUEUE),
        "plans": dashboard,
        "supervision": ledger_first_page,
        "supervision_all": whole_ledger,
        "nav": lambda: inbox_counts(session, user),
    }
    return calls[page]


def time_functions(engine: Engine, log: StatementLog, database: str, runs: int, pages: set[str]) -> list[Timing]:
    results = []
    for username, user_pages in USERS.items():
        for page in user_pages:
            if page not in pages:
                continue
            samples = []
            queries = 0
            for run in range(runs + 3):
                with Session(engine) as session:
                    call = page_functions(session, username, page)
                    with log.capture() as statements:
                        started = time.perf_counter()
                        call()
                        elapsed = time.perf_counter() - started
                    queries = len(statements)
                if run >= 3:
                    samples.append(elapsed)
            results.append(Timing(database, username, page, "function", samples, queries))
    return results


def time_pages(url: str, log: StatementLog | None, database: str, runs: int, pages: set[str]) -> list[Timing]:
    from webapp import create_app
    from webapp import database as webapp_database
    from workflows.demo import DEMO_PASSWORD

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True, "WTF_CSRF_ENABLED": False,
                          "UPLOAD_DIR": tmp})  # fmt: skip
        app_log = StatementLog(webapp_database.engine(app))
        results = []
        for username, user_pages in USERS.items():
            client = app.test_client()
            response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD})
            assert response.status_code in (302, 303), f"login {username}: {response.status_code}"
            for page in user_pages:
                if page not in pages or page not in PAGE_URLS:
                    continue
                samples = []
                queries = 0
                for run in range(runs + 3):
                    with app_log.capture() as statements:
                        started = time.perf_counter()
                        response = client.get(PAGE_URLS[page])
                        response.get_data()
                        elapsed = time.perf_counter() - started
                    queries = len(statements)
                    assert response.status_code == 200, f"{username} {page}: {response.status_code}"
                    if run >= 3:
                        samples.append(elapsed)
                results.append(Timing(database, username, page, "page", samples, queries))
        webapp_database.engine(app).dispose()
    return results


def explain(engine: Engine, log: StatementLog, pages: set[str]) -> None:
    """Every statement each timed function sends, with the database's plan for it."""
    postgres = engine.dialect.name == "postgresql"
    seen: set[str] = set()
    for username, user_pages in USERS.items():
        for page in user_pages:
            if page not in pages:
                continue
            with Session(engine) as session:
                call = page_functions(session, username, page)
                with log.capture() as statements:
                    call()
            print(f"\n### {PAGE_TITLES[page]} ({page}) as {username}: {len(statements)} statements")
            for statement, parameters in statements:
                key = f"{username}|{statement}"
                if statement in seen and not statement.lstrip().upper().startswith("SELECT"):
                    continue
                seen.add(key)
                flat = " ".join(statement.split())
                if len(flat) < 60 and "task_index" not in flat and "process_instance" not in flat:
                    continue  # small lookups (users, units, parameters): not what volume slows down
                prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
                raw = engine.raw_connection()
                try:
                    cursor = raw.cursor()
                    started = time.perf_counter()
                    cursor.execute(statement, parameters)
                    fetched = len(cursor.fetchall())
                    elapsed = (time.perf_counter() - started) * 1000
                    cursor.execute(prefix + statement, parameters)
                    plan = cursor.fetchall()
                finally:
                    raw.close()
                print(f"\n```sql\n{flat[:600]}{' …' if len(flat) > 600 else ''}\n```\n{elapsed:.1f} ms, {fetched} rows")
                if postgres:
                    print("\n".join(f"    {row[0]}" for row in plan))
                else:
                    print("\n".join(f"    {row[-1]}" for row in plan))


# --- Databases -----------------------------------------------------------------------------------------------------


@contextmanager
def sqlite_database(cases: int, rebuild: bool) -> Iterator[tuple[str, float | None]]:
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / f"inbox_volume-v{VERSION}-{cases}.db"
    built: float | None = None
    if rebuild or not path.exists():
        partial = path.with_suffix(".building")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        engine = make_engine(f"sqlite:///{partial}")
        print(f"building {partial} ({cases} cases)", flush=True)
        built = build(engine, cases)
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        partial.rename(path)
    yield f"sqlite:///{path}", built


@contextmanager
def postgres_database(cases: int, base_url: str | None, rebuild: bool) -> Iterator[tuple[str, float | None]]:
    from tests import postgres_server

    name = f"inbox_volume_v{VERSION}_{cases}"

    def prepare(base: str) -> tuple[str, float | None]:
        import psycopg

        conninfo = base.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
        with psycopg.connect(conninfo, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists and rebuild:
                admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                exists = None
            if not exists:
                admin.execute(f"CREATE DATABASE {name}")
        url = f"{base}/{name}"
        if exists:
            return url, None
        engine = make_engine(url)
        print(f"building PostgreSQL database {name} ({cases} cases)", flush=True)
        try:
            built = build(engine, cases)
        except BaseException:
            engine.dispose()
            postgres_server.drop_database(base, name)
            raise
        engine.dispose()
        return url, built

    if base_url:
        yield prepare(base_url)
        return
    with postgres_server.throwaway_postgres() as base:
        yield prepare(base)


def database_figures(engine: Engine) -> str:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT count(*) FROM task_index")).scalar_one()
        ready = connection.execute(text("SELECT count(*) FROM task_index WHERE status = 'ready'")).scalar_one()
        cases = connection.execute(text("SELECT count(*) FROM process_instance")).scalar_one()
        matters = connection.execute(text("SELECT count(*) FROM supervision_item")).scalar_one()
    return f"{rows:,} task rows ({ready:,} open), {cases:,} cases, {matters:,} supervised matters"


def report(results: list[Timing]) -> None:
    print(
        "\n| database | user | page | function p50 ms | p95 ms | queries | page p50 ms | p95 ms | queries "
        "| page p50 / 30 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    by_key: dict[tuple[str, str, str], dict[str, Timing]] = defaultdict(dict)
    for timing in results:
        by_key[(timing.database, timing.user, timing.page)][timing.kind] = timing
    for (database, username, page), kinds in by_key.items():
        function, full = kinds.get("function"), kinds.get("page")
        cells = [database, username, PAGE_TITLES[page]]
        cells += [f"{function.p50:.1f}", f"{function.p95:.1f}", str(function.queries)] if function else ["", "", ""]
        cells += [f"{full.p50:.1f}", f"{full.p95:.1f}", str(full.queries)] if full else ["", "", ""]
        reference = full or function
        cells.append(f"{reference.p50 / TARGET_MS:.2f}" if reference else "")
        print("| " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", help="a PostgreSQL server's base URL (no database); default: a throwaway server")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--only", default=",".join(PAGES))
    args = parser.parse_args()
    pages = set(args.only.split(","))
    cases = int(CASES * args.scale)
    print(f"# Inboxes at volume: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} cores, {args.db}, {date.today()}")  # fmt: skip
    context = sqlite_database(cases, args.rebuild) if args.db == "sqlite" else postgres_database(
        cases, args.pg_url, args.rebuild)  # fmt: skip
    with context as (url, built):
        if built is not None:
            print(f"build: {built:.0f} s ({built / 60:.1f} min)")
        engine = make_engine(url)
        with engine.connect() as connection:
            filled = connection.execute(text("SELECT count(*) FROM open_task_tally")).scalar_one() if inspect(
                connection).has_table("open_task_tally") else 0  # fmt: skip
            filled = filled and all(inspect(connection).has_table(name) for name in ("metric_tally", "queue_tally"))
        if not filled:
            print(fill_tallies(engine), flush=True)
        from workflows.models import ReferenceRevision  # a file from before the plan structure's cache (issue #9)
        from workflows.models.reference import replace_token

        Base.metadata.create_all(engine, tables=[ReferenceRevision.__table__])  # type: ignore[list-item]
        with engine.begin() as connection:
            if connection.scalar(select(ReferenceRevision.token)) is None:
                replace_token(connection)
        changes = sync_indexes(engine)
        if changes or args.db == "postgres":
            print(f"indexes synced to the models ({'; '.join(changes) or 'no change'}); "
                  f"ANALYZE {analyze(engine):.1f} s")  # fmt: skip
        print(database_figures(engine))
        log = StatementLog(engine)
        if args.plans:
            explain(engine, log, pages)
        results = time_functions(engine, log, args.db, args.runs, pages) if args.runs else []
        engine.dispose()
        results += time_pages(url, None, args.db, args.runs, pages) if args.runs else []
    report(results)
    print(
        f"\ntarget: p50 under {TARGET_MS:.0f} ms per page (ratio ≤ 1.00); functions run on a fresh session each "
        "time; pages through Flask's test client, logged in, including the navigation counts and rendering."
    )


if __name__ == "__main__":
    main()
