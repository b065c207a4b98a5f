"""Comments on a case (备注, not decisions) and 常用语, the opinions an official picks instead of typing (issue #4)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import forms
from workflows.audit import record_event
from workflows.errors import NotFound
from workflows.models import CaseComment, CommonPhrase, ProcessInstance, User

MAX_COMMENT_LENGTH = 2000
MAX_PHRASE_LENGTH = 200
MAX_PHRASES_PER_USER = 50

# Configurable defaults every official starts with (common OA practice, not a seed rule).
DEFAULT_PHRASES: tuple[str, ...] = (
    "同意。",
    "不同意。",
    "情况属实，同意。",
    "材料不全，请补充后再报。",
    "已阅。",
    "请抓紧办理。",
)


def add_comment(
    session: Session, user: User, instance: ProcessInstance, body: str, *, task_id: str | None = None
) -> CaseComment:
    """A comment on a case the caller has checked `user` may see."""
    body = body.strip()
    if not body:
        raise forms.FormValidationError({"body": "评论内容：必须填写"})
    if len(body) > MAX_COMMENT_LENGTH:
        raise forms.FormValidationError({"body": f"评论内容：不能超过 {MAX_COMMENT_LENGTH} 字"})
    comment = CaseComment(
        instance_id=instance.id, task_id=task_id, author_id=user.id, author_name=user.display_name, body=body
    )
    session.add(comment)
    session.flush()
    record_event(
        session,
        "case.commented",
        "case",
        instance.case_number or str(instance.id),
        {"comment": comment.id},
        actor_id=user.id,
    )
    return comment


def case_comments(session: Session, instance_id: int) -> Sequence[CaseComment]:
    return session.scalars(
        select(CaseComment).where(CaseComment.instance_id == instance_id).order_by(CaseComment.id)
    ).all()


def phrases_for(session: Session, user: User) -> list[str]:
    """The defaults, then the user's own, without repeats."""
    own = session.scalars(
        select(CommonPhrase.text).where(CommonPhrase.user_id == user.id).order_by(CommonPhrase.id)
    ).all()
    return list(dict.fromkeys([*DEFAULT_PHRASES, *own]))


def own_phrases(session: Session, user: User) -> Sequence[CommonPhrase]:
    return session.scalars(select(CommonPhrase).where(CommonPhrase.user_id == user.id).order_by(CommonPhrase.id)).all()


def add_phrase(session: Session, user: User, text: str) -> CommonPhrase:
    text = text.strip()
    if not text:
        raise forms.FormValidationError({"text": "常用语：必须填写"})
    if len(text) > MAX_PHRASE_LENGTH:
        raise forms.FormValidationError({"text": f"常用语：不能超过 {MAX_PHRASE_LENGTH} 字"})
    if text in phrases_for(session, user):
        raise forms.FormValidationError({"text": "常用语：已有相同的常用语"})
    count = session.scalar(select(func.count(CommonPhrase.id)).where(CommonPhrase.user_id == user.id)) or 0
    if count >= MAX_PHRASES_PER_USER:
        raise forms.FormValidationError({"text": f"常用语：最多保存 {MAX_PHRASES_PER_USER} 条"})
    phrase = CommonPhrase(user_id=user.id, text=text)
    session.add(phrase)
    session.flush()
    return phrase


def delete_phrase(session: Session, user: User, phrase_id: int) -> None:
    phrase = session.get(CommonPhrase, phrase_id)
    if phrase is None or phrase.user_id != user.id:
        raise NotFound("常用语不存在")
    session.delete(phrase)
    session.flush()
