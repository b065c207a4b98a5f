"""Case page (issue #3 §3, issue #4): summary, open tasks, approval timeline, 流转记录, comments, attachments,
related cases and the live BPMN diagram.

Everything shown comes from the instance row, the task index and the approval steps; the page never loads the
workflow. The diagram is drawn in the browser by the bpmn-js viewer served from our own static files: the page
fetches `cases.diagram` (the XML of the version the case runs on plus the BPMN ids to highlight) as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, make_response, render_template, send_file
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webapp.database import get_session
from workflows import queries
from workflows.acting import authority_on
from workflows.attachments import UploadPolicy, open_attachment, size_text
from workflows.comments import case_comments
from workflows.copies import mark_copy_read
from workflows.db import utcnow
from workflows.errors import NotFound
from workflows.inbox import Light, due_light, near_due_limit
from workflows.models import (
    ACTION_LABELS,
    DEPARTMENTS,
    ApprovalStep,
    Attachment,
    CaseAction,
    HazardReport,
    ProcessInstance,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.privacy import ReporterContact, hazard_record, may_reveal_contact, reporter_contact, reveal_contact
from workflows.records import ROLE_LABELS, redact
from workflows.rollback import withdrawable
from workflows.routing import Action, RoutingTable, load_routing
from workflows.working_days import calendar_overrides

bp = Blueprint("cases", __name__)


def upload_policy() -> UploadPolicy:
    """What officials may attach to a case or a step (configuration: CASE_UPLOAD_MAX_BYTES, CASE_UPLOAD_TYPES)."""
    config = current_app.config
    return UploadPolicy(
        max_bytes=int(config["CASE_UPLOAD_MAX_BYTES"]), allowed_types=frozenset(config["CASE_UPLOAD_TYPES"])
    )


def upload_hint() -> str:
    policy = upload_policy()
    size = size_text(policy.max_bytes)
    return _("可上传 %(types)s 文件，单个不超过 %(size)s", types=policy.allowed_names(), size=size)


def related_label(kind: str) -> str:
    labels = {"duplicate_of": _("重复于"), "duplicated_by": _("被重复报告")}
    return labels.get(kind, kind)


@dataclass(frozen=True)
class OpenTask:
    entry: TaskIndexEntry
    holder: str | None  # display name of whoever claimed it; None while it waits in the department queue
    department: str
    light: Light | None
    can_open: bool  # whether this user may open the task page (to claim or complete it)
    can_urge: bool  # 催办: anyone who may see the case but cannot decide the task may urge its holder


@dataclass(frozen=True)
class TimelineStep:
    step: ApprovalStep
    role: str
    department: str
    opinion: str


@dataclass(frozen=True)
class RelatedCase:
    label: str
    case: ProcessInstance


def _open_tasks(session: Session, user: User, tasks: Iterable[TaskIndexEntry], routing: RoutingTable) -> list[OpenTask]:
    open_entries = [task for task in tasks if task.status == TaskStatus.READY]
    holder_ids = {task.claimed_by_id for task in open_entries if task.claimed_by_id is not None}
    holders = (
        {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(holder_ids)))}
        if holder_ids
        else {}
    )
    now = utcnow()
    near = near_due_limit(now, int(current_app.config["NEAR_DUE_WORKING_DAYS"]), calendar_overrides(session))
    rows = []
    for task in open_entries:
        # Delegated authority (委托) counts: a delegate opens and decides the principal's tasks.
        actions = authority_on(session, user, task, routing).actions
        rows.append(
            OpenTask(
                entry=task,
                holder=holders.get(task.claimed_by_id) if task.claimed_by_id is not None else None,
                department=DEPARTMENTS.get(task.department_code, task.department_code) if task.department_code else "",
                light=due_light(task.due_at, now, near),
                can_open=Action.VIEW in actions,
                can_urge=Action.COMPLETE not in actions,
            )
        )
    return rows


def _timeline(steps: Sequence[ApprovalStep]) -> list[TimelineStep]:
    # Opinions are free text: an identity or card number typed into one is masked, as in the printed record.
    return [
        TimelineStep(
            step=step,
            role=ROLE_LABELS.get(step.actor_role, step.actor_role),
            department=DEPARTMENTS.get(step.department_code, step.department_code) if step.department_code else "",
            opinion=redact(step.opinion),
        )
        for step in steps
    ]


def _related(session: Session, user: User, instance_id: int, routing: RoutingTable) -> list[RelatedCase]:
    """Linked cases this user may open; a link to a case they cannot see would leak its number and title."""
    related = []
    for kind, other in queries.related_cases(session, instance_id):
        try:
            queries.visible_case(session, user, other.id, routing)
        except NotFound:
            continue
        related.append(RelatedCase(related_label(kind), other))
    return related


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class FlowRecord:
    """One 流转记录 line: what was done (转办, 退回, ...), by whom, to whom or what, and why."""

    action: CaseAction
    label: str
    reason: str


def _flow_records(session: Session, instance_id: int) -> list[FlowRecord]:
    actions = session.scalars(
        select(CaseAction).where(CaseAction.instance_id == instance_id).order_by(CaseAction.created_at, CaseAction.id)
    )
    return [FlowRecord(a, ACTION_LABELS.get(a.kind, a.kind), redact(a.reason)) for a in actions]


def reporter_field_labels() -> dict[str, str]:
    """Labels of the hazard record's personal fields (workflows.privacy.FIELDS)."""
    return {
        "reporter_name": _("举报人姓名"),
        "reporter_mobile": _("手机号码"),
        "reporter_resident_id": _("身份证号码"),
        "reward_payee_name": _("收款人姓名"),
        "reward_bank_name": _("开户银行"),
        "reward_card_number": _("银行卡号"),
    }


@dataclass(frozen=True)
class ReporterPanel:
    """举报人信息: masked for everyone who may open the case; full only on the audited reveal response."""

    contact: ReporterContact
    can_reveal: bool
    labels: dict[str, str]


def _reporter_panel(
    session: Session, user: User, case: ProcessInstance, revealed: ReporterContact | None
) -> ReporterPanel | None:
    report: HazardReport | None = hazard_record(session, case)
    if report is None:
        return None
    contact = revealed or reporter_contact(report)
    can_reveal = revealed is None and not contact.anonymous and may_reveal_contact(session, user, case)
    return ReporterPanel(contact, can_reveal, reporter_field_labels())


def render_case(
    case: ProcessInstance,
    user: User,
    *,
    op_errors: dict[str, dict[str, str]] | None = None,
    op_values: dict[str, Any] | None = None,
    status: int = 200,
    revealed: ReporterContact | None = None,
) -> tuple[str, int]:
    session = get_session()
    routing = load_routing()
    tasks = queries.case_tasks(session, case.id)
    process = routing.processes.get(case.process_key)
    html = render_template(
        "case.html",
        case=case,
        process_title=process.title if process else case.process_version.name,
        open_tasks=_open_tasks(session, user, tasks, routing),
        timeline=_timeline(queries.readable_approval_steps(session, user, case)),
        related=_related(session, user, case.id, routing),
        attachments=session.scalars(
            select(Attachment).where(Attachment.instance_id == case.id).order_by(Attachment.id)
        ).all(),
        step_titles={task.task_id: task.title for task in tasks},
        flow_records=_flow_records(session, case.id),
        comments=case_comments(session, case.id),
        # 撤回: the user's own done steps whose next holder has not opened the next task yet.
        withdrawable_tasks=[
            task for task in tasks if task.completed_by_id == user.id and withdrawable(session, user, task)
        ],
        upload_hint=upload_hint(),
        reporter=_reporter_panel(session, user, case, revealed),
        op_errors=op_errors or {},
        op_values=op_values or {},
    )
    return html, status


@bp.route("/cases/<int:instance_id>")
@login_required
def show(instance_id: int) -> tuple[str, int]:
    session = get_session()
    user = current_user.user
    case = queries.visible_case(session, user, instance_id, load_routing())
    # Opening a case copied to the user (抄送) marks the copy read.
    if mark_copy_read(session, user, case.id):
        session.commit()
    return render_case(case, user)


@bp.post("/cases/<int:instance_id>/reporter")
@login_required
def reveal_reporter(instance_id: int) -> Response:
    """查看完整信息: the case page with the reporter's full details, for this response only, audited."""
    session = get_session()
    user = current_user.user
    case = queries.visible_case(session, user, instance_id, load_routing())
    contact = reveal_contact(session, user, case)
    session.commit()
    html, status = render_case(case, user, revealed=contact)
    response = make_response(html, status)
    # Identity and card numbers must not stay in a shared or back-button cache.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/cases/<int:instance_id>/attachments/<int:attachment_id>")
@login_required
def attachment(instance_id: int, attachment_id: int) -> Response:
    """A file of the case, for whoever may open the case; served as a download, never rendered as a page."""
    session = get_session()
    case = queries.visible_case(session, current_user.user, instance_id, load_routing())
    stored = session.get(Attachment, attachment_id)
    if stored is None or stored.instance_id != case.id:
        raise NotFound(_("附件不存在"))
    response = send_file(
        open_attachment(current_app.config["UPLOAD_DIR"], stored.sha256),
        mimetype=stored.content_type,
        as_attachment=not stored.content_type.startswith("image/"),
        download_name=stored.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/cases/<int:instance_id>/diagram")
@login_required
def diagram(instance_id: int) -> dict[str, Any]:
    """The diagram of the version this case runs on, with the BPMN ids to mark as current and as done."""
    session = get_session()
    case = queries.visible_case(session, current_user.user, instance_id, load_routing())
    tasks = queries.case_tasks(session, case.id)
    steps = queries.readable_approval_steps(session, current_user.user, case)
    # Approval steps also cover the start form, which has no task index row; a step that is open again
    # (a rectification sent back) is both done and current, and the current marker is drawn over the done one.
    completed = _unique(
        [step.bpmn_id for step in steps] + [task.bpmn_id for task in tasks if task.status == TaskStatus.COMPLETED]
    )
    return {
        "xml": case.process_version.bpmn_xml,
        "current": _unique(task.bpmn_id for task in tasks if task.status == TaskStatus.READY),
        "completed": completed,
    }
