"""The hash-chained audit log: every state change is recorded; tampering is found and located (issue #2 §6)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tests.workflow_helpers import complete, start_report
from workflows.audit import record_event, verify_chain
from workflows.models import AuditEvent


def test_each_step_of_a_case_appends_a_linked_event(world: Session) -> None:
    case = start_report(world)
    complete(world, "ganjingzi1", case, "register_report", {"decision": "受理", "opinion": "同意受理"})
    events = world.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [event.action for event in events] == ["case.started", "task.completed"]
    assert events[1].prev_hash == events[0].hash
    report = verify_chain(world)
    assert report.ok and report.checked == 2


def _three_events(session: Session) -> list[AuditEvent]:
    return [record_event(session, "test.event", "thing", n, {"n": n, "金额": "10.00"}) for n in range(3)]


def test_an_edited_event_is_named_as_the_first_broken_link(session: Session) -> None:
    events = _three_events(session)
    session.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(payload='{"n":99}'))
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok
    assert report.first_broken_id == events[1].id and "修改" in report.reason
    assert report.checked == 1


def test_a_deleted_event_breaks_the_chain_at_its_successor(session: Session) -> None:
    events = _three_events(session)
    session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    session.expire_all()
    report = verify_chain(session)
    assert not report.ok and report.first_broken_id == events[2].id


def test_the_chain_cannot_fork(session: Session) -> None:
    first = record_event(session, "test.event", "thing", 1)
    fork = AuditEvent(
        occurred_at=first.occurred_at,
        action="x",
        object_type="y",
        object_id="z",
        payload="{}",
        prev_hash=first.prev_hash,
        hash="f" * 64,
    )
    session.add(fork)
    with pytest.raises(IntegrityError):
        session.flush()
