"""The approval record (审批表) of a case as data, and the check behind its verification page (DESIGN §6).

The record holds exactly what the PDF prints, already formatted (Beijing times, Chinese labels, free text passed
through `redact`), and its `record_hash` is the SHA-256 of `forms.canonical_json(record.payload())`: the printed
fields under fixed keys, so anyone holding the stored data can recompute it, and any later change to the case (a
new step, an attachment, a 流转记录 entry, a comment, the case closing) gives a new hash.

The payload (see `record_payload`):
- `document_number`; `case`: case_number, process, title, status, home_unit, started_by, started_at, completed_at.
- `steps`, in the order they were decided: number, title, role, unit, department, person, decision, opinion, time.
  `person` is `X（代Y）` for a step decided on a principal's authority (委托); a signature added with 加签 is a step
  whose title ends in （前加签）/（后加签）; a withdrawn step (撤回) stays and carries `withdrawn_at`.
- `attachments`, by upload time: filename, size, sha256, uploaded_at, and `step` (the step it was uploaded on).
- `actions` (流转记录), by time: number, time, kind (转办/退回/撤回/加签/抄送/催办), step, actor, target, reason.
- `comments` (备注/评论), by time: number, time, author, step, body.
Keys added with issue #4 (a step's `withdrawn_at`, an attachment's `step`, the `actions` and `comments` lists) are
left out while empty, so a record printed before they existed still verifies as long as the case has none of them.

The document number is `审批表 ` + the case number (e.g. `审批表 YH-2026-000012`): one record per case, and the
case number is already unique and never changes. Versions of the same record are told apart by their hash.

A hash is looked up through the audit log: printing a record appends a `record.issued` event (object id = the hash,
payload = the case), once per hash. The verification page therefore answers "this is the current record of case X",
"this was issued for case X, but the case has changed since", or "never issued", without hashing every case.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.models import DEPARTMENTS, ApprovalStep, AuditEvent, ProcessInstance, Role
from workflows.queries import case_approval_steps
from workflows.record_sections import (
    RecordAction,
    RecordAttachment,
    RecordComment,
    acting_name,
    action_payload,
    attachment_payload,
    beijing_time,
    comment_payload,
    record_actions,
    record_attachments,
    record_comments,
    redact,
    step_titles,
)
from workflows.routing import RoutingError, RoutingTable, load_routing

DOCUMENT_PREFIX = "审批表"
ISSUED_ACTION = "record.issued"
ISSUED_OBJECT = "approval_record"

ROLE_LABELS: dict[str, str] = {
    Role.OFFICIAL.value: "经办人",
    Role.HEAD.value: "负责人",
    Role.ADMIN.value: "管理员",
    Role.SERVICE.value: "系统",
}
STATUS_LABELS: dict[str, str] = {"running": "办理中", "completed": "已办结", "cancelled": "已撤销"}

_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class RecordStep:
    number: int  # 序号
    title: str  # 环节
    role: str  # 角色: 经办人 / 负责人
    unit: str  # 审批单位
    department: str  # 部门 ("" for a unit without departments)
    person: str  # 审批人
    decision: str  # 审批结论
    opinion: str  # 审批意见
    time: str  # 审批时间, Beijing
    withdrawn_at: str = ""  # 撤回: when its author took it back (Beijing); printed as （已撤回）


@dataclass(frozen=True)
class ApprovalRecord:
    instance_id: int  # not printed and not hashed: the URL of the case, for the web layer
    status: str  # the status code (running/completed/cancelled); the record prints `status_label`
    document_number: str
    case_number: str
    process_title: str
    title: str
    status_label: str
    home_unit: str
    started_by: str
    started_at: str
    completed_at: str
    steps: tuple[RecordStep, ...]
    attachments: tuple[RecordAttachment, ...]
    actions: tuple[RecordAction, ...]  # 流转记录, urges (催办) included
    comments: tuple[RecordComment, ...]  # 备注/评论
    record_hash: str

    def payload(self) -> dict[str, Any]:
        return record_payload(
            document_number=self.document_number,
            case_number=self.case_number,
            process_title=self.process_title,
            title=self.title,
            status_label=self.status_label,
            home_unit=self.home_unit,
            started_by=self.started_by,
            started_at=self.started_at,
            completed_at=self.completed_at,
            steps=self.steps,
            attachments=self.attachments,
            actions=self.actions,
            comments=self.comments,
        )


def record_payload(
    *,
    document_number: str,
    case_number: str,
    process_title: str,
    title: str,
    status_label: str,
    home_unit: str,
    started_by: str,
    started_at: str,
    completed_at: str,
    steps: tuple[RecordStep, ...],
    attachments: tuple[RecordAttachment, ...],
    actions: tuple[RecordAction, ...],
    comments: tuple[RecordComment, ...],
) -> dict[str, Any]:
    """The printed data under fixed keys: the input of `record_hash` (documented above, so it can be recomputed)."""
    payload: dict[str, Any] = {
        "document_number": document_number,
        "case": {
            "case_number": case_number,
            "process": process_title,
            "title": title,
            "status": status_label,
            "home_unit": home_unit,
            "started_by": started_by,
            "started_at": started_at,
            "completed_at": completed_at,
        },
        "steps": [_step_payload(s) for s in steps],
        "attachments": [attachment_payload(a) for a in attachments],
    }
    # Added with issue #4: present only when there is something in them (see the module's docstring).
    if actions:
        payload["actions"] = [action_payload(a) for a in actions]
    if comments:
        payload["comments"] = [comment_payload(c) for c in comments]
    return payload


def _step_payload(step: RecordStep) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "number": step.number,
        "title": step.title,
        "role": step.role,
        "unit": step.unit,
        "department": step.department,
        "person": step.person,
        "decision": step.decision,
        "opinion": step.opinion,
        "time": step.time,
    }
    if step.withdrawn_at:
        fields["withdrawn_at"] = step.withdrawn_at
    return fields


def document_number(instance: ProcessInstance) -> str:
    return f"{DOCUMENT_PREFIX} {instance.case_number or instance.id}"


def _process_title(instance: ProcessInstance, routing: RoutingTable) -> str:
    try:
        return routing.process(instance.process_key).title
    except RoutingError:
        # A process no longer in the lane map still prints: its deployed name is the next best title.
        return instance.process_version.name


def _step(number: int, step: ApprovalStep) -> RecordStep:
    return RecordStep(
        number=number,
        title=step.step_title,
        role=ROLE_LABELS.get(step.actor_role, step.actor_role),
        unit=step.org_unit_name,
        department=DEPARTMENTS.get(step.department_code, step.department_code) if step.department_code else "",
        person=acting_name(step.actor_name, step.on_behalf_of_name),
        decision=redact(step.decision),
        opinion=redact(step.opinion),
        time=beijing_time(step.completed_at),
        withdrawn_at=beijing_time(step.withdrawn_at),
    )


def approval_record(
    session: Session, instance: ProcessInstance, *, routing: RoutingTable | None = None
) -> ApprovalRecord:
    """The current record of `instance`, read from its stored steps, attachments, actions and comments."""
    routing = routing or load_routing()
    steps = case_approval_steps(session, instance.id)
    titles = step_titles(session, instance.id, steps)
    fields: dict[str, Any] = {
        "document_number": document_number(instance),
        "case_number": instance.case_number or str(instance.id),
        "process_title": _process_title(instance, routing),
        "title": redact(instance.title),
        "status_label": STATUS_LABELS.get(instance.status, instance.status),
        "home_unit": instance.home_unit.name,
        "started_by": instance.started_by.display_name,
        "started_at": beijing_time(instance.created_at),
        "completed_at": beijing_time(instance.completed_at),
        "steps": tuple(_step(number, step) for number, step in enumerate(steps, start=1)),
        "attachments": record_attachments(session, instance.id, titles),
        "actions": record_actions(session, instance.id),
        "comments": record_comments(session, instance.id, titles),
    }
    record_hash = forms.data_hash(record_payload(**fields))
    return ApprovalRecord(instance_id=instance.id, status=instance.status, record_hash=record_hash, **fields)


def normalise_hash(record_hash: str) -> str | None:
    """The hash in lower case if it looks like a SHA-256 hex digest, else None (nothing to look up)."""
    value = record_hash.strip().lower()
    return value if _HASH.match(value) else None


def record_matches(session: Session, instance: ProcessInstance, record_hash: str) -> bool:
    """Whether `record_hash` is the hash of the case's record as it is stored now."""
    return approval_record(session, instance).record_hash == normalise_hash(record_hash)


def register_issue(session: Session, record: ApprovalRecord, *, actor_id: int | None = None) -> bool:
    """Note in the audit log that `record` was printed, once per hash; True when this call added the event.

    Flushes; the caller commits with the rest of its request.
    """
    if _issued_instance_id(session, record.record_hash) is not None:
        return False
    record_event(
        session,
        ISSUED_ACTION,
        ISSUED_OBJECT,
        record.record_hash,
        {"case": record.case_number, "instance_id": record.instance_id, "steps": len(record.steps)},
        actor_id=actor_id,
    )
    return True


def _issued_instance_id(session: Session, record_hash: str) -> int | None:
    payload = session.scalar(
        select(AuditEvent.payload)
        .where(
            AuditEvent.action == ISSUED_ACTION,
            AuditEvent.object_type == ISSUED_OBJECT,
            AuditEvent.object_id == record_hash,
        )
        .limit(1)
    )
    if payload is None:
        return None
    instance_id = json.loads(payload).get("instance_id")
    return instance_id if isinstance(instance_id, int) else None


class Verdict(StrEnum):
    CURRENT = "current"  # the hash is that of the case's record as stored now
    OUTDATED = "outdated"  # issued for a case whose record has changed since
    UNKNOWN = "unknown"  # never issued (mistyped, made up, or from another system)


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    # The CURRENT record of the case the hash was issued for (None when unknown).
    record: ApprovalRecord | None = None


def verify_record_hash(session: Session, record_hash: str) -> Verification:
    value = normalise_hash(record_hash)
    instance_id = _issued_instance_id(session, value) if value else None
    instance = session.get(ProcessInstance, instance_id) if instance_id is not None else None
    if instance is None:
        return Verification(Verdict.UNKNOWN)
    record = approval_record(session, instance)
    return Verification(Verdict.CURRENT if record.record_hash == value else Verdict.OUTDATED, record)


def find_record_by_hash(session: Session, record_hash: str) -> ApprovalRecord | None:
    """The record whose CURRENT hash is `record_hash`, if it was ever printed; None otherwise."""
    verification = verify_record_hash(session, record_hash)
    return verification.record if verification.verdict is Verdict.CURRENT else None
