"""The JSON shapes of tasks, cases (instances) and approval steps; openapi.py documents the same fields.

Units and departments appear as their codes (issue #2), people as usernames with display names beside them, and
times as ISO 8601 in Beijing time with the offset, so a script can compare them without guessing a zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflows import queries
from workflows.calendar import SHANGHAI
from workflows.models import ApprovalStep, InstanceStatus, OrgUnit, ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.records import redact
from workflows.routing import RoutingTable, task_actions

# Our instances are never suspended, but the public contract lists the state; cancelled is the API's terminated.
API_STATUS = {
    InstanceStatus.RUNNING.value: "running",
    InstanceStatus.COMPLETED.value: "completed",
    InstanceStatus.CANCELLED.value: "terminated",
}


def timestamp(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


class Shapes:
    """Builds answers for one user in one session; caches the few users and units a page mentions."""

    def __init__(self, session: Session, user: User, routing: RoutingTable) -> None:
        self.session = session
        self.user = user
        self.routing = routing
        self._usernames: dict[int, str] = {}

    def username(self, user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in self._usernames:
            found = self.session.get(User, user_id)
            self._usernames[user_id] = found.username if found is not None else str(user_id)
        return self._usernames[user_id]

    def unit_code(self, unit_id: int) -> str | None:
        unit = self.session.get(OrgUnit, unit_id)  # the identity map makes repeats free
        return unit.code if unit is not None else None

    def task(self, entry: TaskIndexEntry) -> dict[str, Any]:
        return {
            "id": entry.task_id,
            "instance_id": entry.instance_id,
            "case_number": entry.case_number,
            "case_title": entry.case_title,
            "name": entry.title,
            "bpmn_id": entry.bpmn_id,
            "process": entry.process_key,
            "lane": entry.lane,
            "department": entry.department_code,
            "org_unit": entry.org_unit.code,
            "status": entry.status,
            "claimed_by": self.username(entry.claimed_by_id),
            "completed_by": self.username(entry.completed_by_id),
            "ready_at": timestamp(entry.ready_at),
            "due_at": timestamp(entry.due_at),
            "completed_at": timestamp(entry.completed_at),
            "actions": sorted(action.value for action in task_actions(self.user, entry, self.routing)),
        }

    def step(self, step: ApprovalStep) -> dict[str, Any]:
        return {
            "task_id": step.task_id,
            "bpmn_id": step.bpmn_id,
            "name": step.step_title,
            "user": self.username(step.actor_id),
            "user_name": step.actor_name,
            "role": step.actor_role,
            "org_unit": self.unit_code(step.org_unit_id),
            "org_unit_name": step.org_unit_name,
            "department": step.department_code,
            "decision": redact(step.decision) if step.decision else step.decision,
            "opinion": redact(step.opinion) if step.opinion else step.opinion,
            "at": timestamp(step.completed_at),
        }

    def open_tasks(self, instance: ProcessInstance) -> list[dict[str, Any]]:
        return [
            self.task(entry)
            for entry in queries.case_tasks(self.session, instance.id)
            if entry.status == TaskStatus.READY.value
        ]

    def instance(self, instance: ProcessInstance) -> dict[str, Any]:
        return {
            "id": instance.id,
            "number": instance.case_number,
            "title": instance.title,
            "process": instance.process_key,
            "process_version": instance.process_version.version,
            "status": API_STATUS.get(instance.status, instance.status),
            "org_unit": instance.home_unit.code,
            "started_by": self.username(instance.started_by_id),
            "started_at": timestamp(instance.created_at),
            "completed_at": timestamp(instance.completed_at),
            "tasks": self.open_tasks(instance),
            "steps": [self.step(step) for step in queries.case_approval_steps(self.session, instance.id)],
        }
