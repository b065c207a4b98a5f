"""The JSON shapes of tasks, cases (instances) and approval steps; openapi.py documents the same fields.

Units and departments appear as their codes (issue #2), people as usernames with display names beside them, and
times as ISO 8601 in Beijing time with the offset, so a script can compare them without guessing a zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows import queries
from workflows.acting import authority_on, beijing_date
from workflows.calendar import SHANGHAI
from workflows.comments import case_comments
from workflows.db import utcnow
from workflows.models import (
    ACTION_LABELS,
    ApprovalStep,
    Attachment,
    CaseAction,
    CaseComment,
    CaseCopy,
    Delegation,
    InstanceStatus,
    OrgUnit,
    ProcessInstance,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.records import redact
from workflows.routing import RoutingTable

# Our instances are never suspended, but the public contract lists the state; cancelled is the API's terminated.
API_STATUS = {
    InstanceStatus.RUNNING.value: "running",
    InstanceStatus.COMPLETED.value: "completed",
    InstanceStatus.CANCELLED.value: "terminated",
}


def timestamp(moment: datetime | None) -> str | None:
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


class Shapes:
    """Builds answers for one user in one session; caches the few users and units a page mentions.

    Free text others typed (opinions, reasons, comments, notes) passes through `redact`, as in the printed record:
    an identity or card number typed into it by hand is masked.
    """

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
        # Delegated authority (委托) counts: a delegate sees what they may do with the principal's task.
        authority = authority_on(self.session, self.user, entry, self.routing)
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
            "assigned_to": self.username(entry.assigned_to_id),
            "completed_by": self.username(entry.completed_by_id),
            "ready_at": timestamp(entry.ready_at),
            "due_at": timestamp(entry.due_at),
            "completed_at": timestamp(entry.completed_at),
            "actions": sorted(action.value for action in authority.actions),
            "on_behalf_of": authority.principal.username if authority.on_behalf else None,
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
            "kind": step.kind,
            "on_behalf_of": self.username(step.on_behalf_of_id),
            "on_behalf_of_name": step.on_behalf_of_name,
            "withdrawn": step.withdrawn_at is not None,
            "withdrawn_at": timestamp(step.withdrawn_at),
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
            "steps": [self.step(step) for step in queries.readable_approval_steps(self.session, self.user, instance)],
            "actions": [self.case_action(action) for action in case_actions(self.session, instance.id)],
            "comments": [self.comment(comment) for comment in case_comments(self.session, instance.id)],
            "attachments": [self.attachment(found) for found in case_attachments(self.session, instance.id)],
        }

    def case_action(self, action: CaseAction) -> dict[str, Any]:
        """One 流转记录 entry: a hand-over, return, withdrawal, added signer, copy or urge."""
        return {
            "id": action.id,
            "kind": action.kind,
            "label": ACTION_LABELS.get(action.kind, action.kind),
            "task_id": action.task_id,
            "step": action.step_title,
            "user": self.username(action.actor_id),
            "user_name": action.actor_name,
            "on_behalf_of_name": action.on_behalf_of_name,
            "target": redact(action.target),
            "target_user": self.username(action.target_user_id),
            "target_task_id": action.target_task_id,
            "reason": redact(action.reason),
            "at": timestamp(action.created_at),
        }

    def comment(self, comment: CaseComment) -> dict[str, Any]:
        return {
            "id": comment.id,
            "instance_id": comment.instance_id,
            "task_id": comment.task_id,
            "user": self.username(comment.author_id),
            "user_name": comment.author_name,
            "body": redact(comment.body),
            "at": timestamp(comment.created_at),
        }

    def attachment(self, attachment: Attachment) -> dict[str, Any]:
        return {
            "id": attachment.id,
            "instance_id": attachment.instance_id,
            "task_id": attachment.task_id,
            "filename": redact(attachment.filename),
            "content_type": attachment.content_type,
            "size": attachment.size,
            "sha256": attachment.sha256,
            "uploaded_by": self.username(attachment.uploaded_by_id),
            "at": timestamp(attachment.uploaded_at),
        }

    def copy(self, copy: CaseCopy, instance: ProcessInstance) -> dict[str, Any]:
        return {
            "instance_id": instance.id,
            "case_number": instance.case_number,
            "case_title": instance.title,
            "process": instance.process_key,
            "user": self.username(copy.user_id),
            "copied_by": self.username(copy.copied_by_id),
            "note": redact(copy.note),
            "copied_at": timestamp(copy.created_at),
            "read_at": timestamp(copy.read_at),
        }

    def delegation(self, delegation: Delegation) -> dict[str, Any]:
        return {
            "id": delegation.id,
            "principal": delegation.principal.username,
            "principal_name": delegation.principal.display_name,
            "delegate": delegation.delegate.username,
            "delegate_name": delegation.delegate.display_name,
            "starts_on": delegation.starts_on.isoformat(),
            "ends_on": delegation.ends_on.isoformat(),
            "reason": delegation.reason,
            "active": delegation.starts_on <= beijing_date(utcnow()) <= delegation.ends_on,
            "created_at": timestamp(delegation.created_at),
        }


def case_actions(session: Session, instance_id: int) -> Sequence[CaseAction]:
    return session.scalars(
        select(CaseAction).where(CaseAction.instance_id == instance_id).order_by(CaseAction.id)
    ).all()


def case_attachments(session: Session, instance_id: int) -> Sequence[Attachment]:
    return session.scalars(
        select(Attachment).where(Attachment.instance_id == instance_id).order_by(Attachment.id)
    ).all()
