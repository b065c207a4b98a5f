"""The 部门待办 counts (workflows.models.queue_tally, issue #9 §2) are kept by triggers on task_index through every
change a queued task goes through, give the navigation the count its list has, fold under compaction, are reported
by the integrity check when a trigger is missing, and are filled by migration 0018 from the rows already there."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from tests.migration_helpers import migrate_below_and_back
from tests.test_hazard_process import OPINION
from tests.workflow_helpers import complete, open_task, seed_demo_world, start_report, user
from workflows import queries
from workflows.db import make_engine
from workflows.handover import transfer_task
from workflows.inbox import View, inbox_counts
from workflows.migrate import upgrade_database
from workflows.models import QueueTally, TaskIndexEntry, TaskStatus
from workflows.models.queue_tally import QUEUE_TRIGGERS
from workflows.operations import claim_task, release_task
from workflows.plans.tally import check_tallies, compact_tallies, stored_queue, tally_differences


def kept(session: Session) -> Counter[tuple[int, str | None]]:
    """The stored queue counts, after checking they equal a recount from task_index."""
    session.flush()
    assert tally_differences(session) == []
    return stored_queue(session)


def listed(session: Session, username: str) -> int:
    """What 部门待办 lists for the official, counted from task_index, and the navigation's count, which must agree."""
    holder = user(session, username)
    count = session.scalar(queries.department_queue_query(holder).with_only_columns(func.count())) or 0
    assert inbox_counts(session, holder)[View.QUEUE] == count
    return count


def test_triggers_keep_the_queues_through_every_change(world: Session) -> None:
    before = kept(world)
    queued = listed(world, "ganjingzi1")
    case = start_report(world)
    entry = open_task(world, case, "register_report")
    seat = (entry.org_unit_id, entry.department_code)
    assert kept(world)[seat] == before[seat] + 1 and listed(world, "ganjingzi1") == queued + 1

    official = user(world, "ganjingzi1")
    claim_task(world, official, case.id, entry.task_id)  # out of the queue, into 待办
    assert kept(world)[seat] == before[seat] and listed(world, "ganjingzi1") == queued
    release_task(world, official, case.id, entry.task_id)
    assert kept(world)[seat] == before[seat] + 1

    transfer_task(world, official, case.id, entry.task_id, user(world, "ganjingzi2"), "出差")  # a colleague's 待办
    assert kept(world)[seat] == before[seat] and listed(world, "ganjingzi1") == queued

    second = start_report(world, location="二号车间行车轨道")
    complete(world, "ganjingzi1", second, "register_report", {"decision": "受理", **OPINION})
    triage = open_task(world, second, "triage")  # on to the city's 经济部 queue
    city_seat = (triage.org_unit_id, triage.department_code)
    assert kept(world)[city_seat] == before[city_seat] + 1 and kept(world)[seat] == before[seat]
    city_queue = listed(world, "jingji1")

    # Moved to another department of the unit, and back to none; completed by a direct write; deleted.
    triage.department_code = "office"
    world.flush()
    assert kept(world)[city_seat] == before[city_seat] and listed(world, "jingji1") == city_queue - 1
    triage.department_code = None
    world.flush()
    assert kept(world)[(triage.org_unit_id, None)] == before[(triage.org_unit_id, None)] + 1
    world.execute(update(TaskIndexEntry).where(TaskIndexEntry.id == triage.id)
                  .values(status=TaskStatus.COMPLETED.value))  # fmt: skip
    assert kept(world) == before
    world.execute(update(TaskIndexEntry).where(TaskIndexEntry.id == triage.id).values(status=TaskStatus.READY.value))
    world.execute(delete(TaskIndexEntry).where(TaskIndexEntry.instance_id == second.id))
    assert kept(world) == before and listed(world, "ganjingzi1") == queued


def test_changes_append_and_compaction_folds_them(world: Session) -> None:
    cases = [start_report(world, location=f"{n}号仓库") for n in range(3)]
    official = user(world, "ganjingzi1")
    for case in cases:
        entry = open_task(world, case, "register_report")
        claim_task(world, official, case.id, entry.task_id)
        release_task(world, official, case.id, entry.task_id)
    counts = kept(world)
    rows = world.scalar(select(func.count()).select_from(QueueTally)) or 0
    assert rows > len(counts)  # each change appended its +1 / -1

    compact_tallies(world)

    assert world.scalar(select(func.count()).select_from(QueueTally)) == len(counts)
    assert kept(world) == counts
    assert world.scalar(select(func.count()).where(QueueTally.tasks == 0)) == 0


def test_the_check_reports_a_drifted_count_and_a_missing_trigger(world: Session) -> None:
    start_report(world)
    world.flush()
    assert check_tallies(world) == []
    world.execute(update(QueueTally).values(tasks=QueueTally.tasks + 1))
    assert any("queue_tally" in finding.message for finding in check_tallies(world))

    on_table = " ON task_index" if world.get_bind().dialect.name == "postgresql" else ""
    world.execute(text(f"DROP TRIGGER {QUEUE_TRIGGERS[0]}{on_table}"))
    assert any(QUEUE_TRIGGERS[0] in finding.message for finding in check_tallies(world))


def test_migration_0018_fills_the_counts_the_triggers_keep(fresh_database_url: str) -> None:
    engine = make_engine(fresh_database_url)
    try:
        upgrade_database(engine)
        with Session(engine) as session, session.begin():
            seed_demo_world(session)
        with Session(engine) as session:
            counts = kept(session)
            assert sum(counts.values()) > 0 and check_tallies(session) == []

        migrate_below_and_back(engine, "0017_supervision_step_indexes", "queue_tally")
        with Session(engine) as session:
            assert kept(session) == counts and check_tallies(session) == []
    finally:
        engine.dispose()
