"""The scheduler: one broken case never stops the others' timers (DESIGN §7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.test_hazard_process import rectify, register_and_triage, verify
from tests.workflow_helpers import open_steps, start_report
from workflows import timers
from workflows.db import utcnow
from workflows.models import ProcessInstance


def case_waiting_for_reply(session: Session, location: str) -> ProcessInstance:
    case = start_report(session, location=location)
    register_and_triage(session, case)
    verify(session, case, "属实", "一般")
    rectify(session, case, (utcnow() + timedelta(days=3)).date().isoformat())
    return case


def test_a_case_that_fails_to_fire_does_not_hold_up_the_others(world: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    broken, healthy = case_waiting_for_reply(world, "一号仓库"), case_waiting_for_reply(world, "二号仓库")
    original = timers.load_workflow

    def fail_for_broken(instance: ProcessInstance) -> Any:
        if instance.id == broken.id:
            raise RuntimeError("corrupt state")
        return original(instance)

    monkeypatch.setattr(timers, "load_workflow", fail_for_broken)
    assert timers.fire_due_timers(world, utcnow() + timedelta(days=5)) == 1
    assert open_steps(world, healthy) == ["enterprise_reply", "escalate_overdue"]
    assert open_steps(world, broken) == ["enterprise_reply"]  # untouched, retried on the next pass

    monkeypatch.setattr(timers, "load_workflow", original)
    assert timers.fire_due_timers(world, utcnow() + timedelta(days=5)) == 1
    assert open_steps(world, broken) == ["enterprise_reply", "escalate_overdue"]
