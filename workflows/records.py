"""The approval record (审批表) of a case as data, and the check behind its verification page (DESIGN §6).

The record holds exactly what the PDF prints, already formatted (Beijing times, Chinese labels), and its
`record_hash` is the SHA-256 of `forms.canonical_json(record.payload())`: the printed fields under fixed keys, so
anyone holding the stored data can recompute it, and any later change to the case (a new step, an attachment, the
case closing) gives a new hash.

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
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.calendar import SHANGHAI
from workflows.models import DEPARTMENTS, ApprovalStep, Attachment, AuditEvent, ProcessInstance, Role
from workflows.queries import case_approval_steps
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
# Candidates only: a match is masked when it is a valid resident ID (checksum) or a Luhn-valid card number.
_RESIDENT_ID_LIKE = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
_CARD_LIKE = re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])")


def beijing_time(moment: datetime | None) -> str:
    """As printed: `2026年11月20日 14:03`, Beijing time (same as the web UI's `beijing_datetime`)."""
    if moment is None:
        return ""
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def redact(text: str | None) -> str:
    """Free text (an opinion, a title) with any identity or bank card number in it masked.

    Forms mask the fields that hold such numbers; this catches one typed into an opinion by hand.
    """
    if not text:
        return ""

    def resident_id(match: re.Match[str]) -> str:
        value = match.group(0)
        return forms.mask_resident_id(value) if forms.is_valid_resident_id(value) else value

    def card(match: re.Match[str]) -> str:
        value = match.group(0)
        return forms.mask_bank_card(value) if forms.bank_card_problem(value) is None else value

    return _CARD_LIKE.sub(card, _RESIDENT_ID_LIKE.sub(resident_id, text))


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


@dataclass(frozen=True)
class RecordAttachment:
    filename: str
    size: int  # bytes
    sha256: str
    uploaded_at: str  # Beijing


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
) -> dict[str, Any]:
    """The printed data under fixed keys: the input of `record_hash` (documented, so it can be recomputed)."""
    return {
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
        "steps": [
            {
                "number": s.number,
                "title": s.title,
                "role": s.role,
                "unit": s.unit,
                "department": s.department,
                "person": s.person,
                "decision": s.decision,
                "opinion": s.opinion,
                "time": s.time,
            }
            for s in steps
        ],
        "attachments": [
            {"filename": a.filename, "size": a.size, "sha256": a.sha256, "uploaded_at": a.uploaded_at}
            for a in attachments
        ],
    }


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
        person=step.actor_name,
        decision=redact(step.decision),
        opinion=redact(step.opinion),
        time=beijing_time(step.completed_at),
    )


def approval_record(
    session: Session, instance: ProcessInstance, *, routing: RoutingTable | None = None
) -> ApprovalRecord:
    """The current record of `instance`, read from the stored steps and attachments."""
    routing = routing or load_routing()
    steps = case_approval_steps(session, instance.id)
    attachments = session.scalars(
        select(Attachment).where(Attachment.instance_id == instance.id).order_by(Attachment.uploaded_at, Attachment.id)
    ).all()
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
        "attachments": tuple(
            RecordAttachment(redact(a.filename), a.size, a.sha256, beijing_time(a.uploaded_at)) for a in attachments
        ),
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
