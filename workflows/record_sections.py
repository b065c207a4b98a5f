"""The parts of the approval record (审批表) around the decided steps (issue #4): 流转记录, 备注/评论 and the
attachments with the step each belongs to, plus the formatting every part of the record shares.

Split from `workflows.records`, which assembles the record and owns the hash rules; everything here is already
formatted as printed (Beijing times, Chinese labels) and every free text has passed through `redact`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
from workflows.calendar import SHANGHAI
from workflows.models import (
    ACTION_LABELS,
    ApprovalStep,
    Attachment,
    CaseAction,
    CaseComment,
    TaskIndexEntry,
)

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


def acting_name(actor_name: str, on_behalf_of_name: str | None) -> str:
    """Who acted, as printed: `马晓东`, or `马晓东（代朱丽）` when they acted on a principal's authority (委托)."""
    return f"{actor_name}（代{on_behalf_of_name}）" if on_behalf_of_name else actor_name


@dataclass(frozen=True)
class RecordAttachment:
    filename: str
    size: int  # bytes
    sha256: str
    uploaded_at: str  # Beijing
    step: str = ""  # 所属环节: the title of the step it was uploaded on; "" for a file of the case as a whole


@dataclass(frozen=True)
class RecordAction:
    """One line of 流转记录: a hand-over, return, withdrawal, added signer, copy or urge."""

    number: int  # 序号
    time: str  # Beijing
    kind: str  # 转办 / 退回 / 撤回 / 加签 / 抄送 / 催办
    step: str  # the step it happened on ("" for a copy of the whole case)
    actor: str  # X, or X（代Y）
    target: str  # the colleague, earlier step, added signer, copied people or urged holder
    reason: str  # 理由 / 说明 / 催办留言


@dataclass(frozen=True)
class RecordComment:
    number: int
    time: str  # Beijing
    author: str
    step: str  # the step it was written on ("" for a remark on the case)
    body: str


def step_titles(session: Session, instance_id: int, steps: Sequence[ApprovalStep]) -> dict[str, str]:
    """Engine task id -> the step's title, for attachments and comments that name only their task.

    The decided step's own row wins (it is what the steps table prints); the task index covers steps still open;
    a 流转记录 entry covers a task a return or withdrawal has since removed from the engine (and the index).
    """
    titles: dict[str, str] = {}
    for step in steps:
        if step.kind == "step":
            titles.setdefault(step.task_id, step.step_title)
    indexed = session.execute(
        select(TaskIndexEntry.task_id, TaskIndexEntry.title).where(TaskIndexEntry.instance_id == instance_id)
    )
    for task_id, title in indexed:
        titles.setdefault(task_id, title)
    acted = session.execute(
        select(CaseAction.task_id, CaseAction.step_title).where(
            CaseAction.instance_id == instance_id, CaseAction.task_id.is_not(None), CaseAction.step_title != ""
        )
    )
    for acted_task_id, title in acted:
        if acted_task_id is not None:
            titles.setdefault(acted_task_id, title)
    return titles


def record_attachments(session: Session, instance_id: int, titles: dict[str, str]) -> tuple[RecordAttachment, ...]:
    rows = session.scalars(
        select(Attachment).where(Attachment.instance_id == instance_id).order_by(Attachment.uploaded_at, Attachment.id)
    )
    return tuple(
        RecordAttachment(
            filename=redact(a.filename),
            size=a.size,
            sha256=a.sha256,
            uploaded_at=beijing_time(a.uploaded_at),
            step=titles.get(a.task_id, "") if a.task_id else "",
        )
        for a in rows
    )


def record_actions(session: Session, instance_id: int) -> tuple[RecordAction, ...]:
    """Every CaseAction of the case, oldest first; urges (催办) are among them, so they need no section of their own."""
    rows = session.scalars(
        select(CaseAction).where(CaseAction.instance_id == instance_id).order_by(CaseAction.created_at, CaseAction.id)
    )
    return tuple(
        RecordAction(
            number=number,
            time=beijing_time(action.created_at),
            kind=ACTION_LABELS.get(action.kind, action.kind),
            step=action.step_title,
            actor=acting_name(action.actor_name, action.on_behalf_of_name),
            # The target is built from names and step titles, but a copy's list of names is long free-form text.
            target=redact(action.target),
            reason=redact(action.reason),
        )
        for number, action in enumerate(rows, start=1)
    )


def record_comments(session: Session, instance_id: int, titles: dict[str, str]) -> tuple[RecordComment, ...]:
    rows = session.scalars(
        select(CaseComment)
        .where(CaseComment.instance_id == instance_id)
        .order_by(CaseComment.created_at, CaseComment.id)
    )
    return tuple(
        RecordComment(
            number=number,
            time=beijing_time(comment.created_at),
            author=comment.author_name,
            step=titles.get(comment.task_id, "") if comment.task_id else "",
            body=redact(comment.body),
        )
        for number, comment in enumerate(rows, start=1)
    )


def attachment_payload(attachment: RecordAttachment) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "filename": attachment.filename,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_at": attachment.uploaded_at,
    }
    if attachment.step:  # added with issue #4: present only when set (see the hash rules in workflows.records)
        fields["step"] = attachment.step
    return fields


def action_payload(action: RecordAction) -> dict[str, Any]:
    return {
        "number": action.number,
        "time": action.time,
        "kind": action.kind,
        "step": action.step,
        "actor": action.actor,
        "target": action.target,
        "reason": action.reason,
    }


def comment_payload(comment: RecordComment) -> dict[str, Any]:
    return {
        "number": comment.number,
        "time": comment.time,
        "author": comment.author,
        "step": comment.step,
        "body": comment.body,
    }
