"""One studio application or honour nomination around its task (issue 7): the expert panel's aggregate, the public
notice with its objections (公示与异议), and the panel on the task page.

- The notice page `/notices/<case_number>` serves both processes: the period (start, last day, working days), the
  objections so far with the objector's name and contact, and the form to register one while the notice is open.
  Only the city's 经济技术和劳动保护部 reads it (workflows.studio.access.may_handle_objections): 404 to whoever may
  not see the case, 403 to the others who may.
- The task panel shows the year's quota for the case's type, the panel's aggregate (每位专家的评分和表决、平均分、
  同意票数) to the econ-labour department, only the number of votes to an expert of a round still scoring
  (independent scoring, domain §2.c C5), and on the notice steps the period and the objections without the objector.

The routes are registered on `webapp.studio.bp`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from werkzeug.wrappers import Response

import forms
from webapp.database import get_session
from workflows.calendar import beijing_today
from workflows.errors import NotFound, OperationRefused, PermissionDenied
from workflows.models import (
    HonourNomination,
    OrgUnit,
    ProcessInstance,
    PublicNotice,
    StudioApplication,
    StudioExpertScore,
    TaskIndexEntry,
    TaskStatus,
    User,
)
from workflows.queries import visible_case
from workflows.routing import load_routing
from workflows.studio.access import may_handle_objections, may_see_panel_scores
from workflows.studio.calls import city_of
from workflows.studio.notice import OBJECTION_CHANNELS, ObjectionInput, notice_of, register_objection
from workflows.studio.quotas import QuotaUsage, honour_quota_usage, studio_quota_usage

STUDIO = "studio_naming"
HONOUR = "honour_nomination"
PROCESSES = (STUDIO, HONOUR)
AGREE = "同意"  # the expert form's vote (forms/studio-expert-schema.json)
EXPERT_STEP = "expert_review"
NOTICE_STEPS = ("notice", "verify_objection")
OBJECTION_FIELDS = ("received_on", "channel", "objector_name", "objector_contact", "content")


# --- The expert panel's aggregate -------------------------------------------------------------------------------


@dataclass
class PanelSummary:
    """The latest round of an application's panel: the votes so far and the experts still to vote."""

    panel_round: int
    votes: list[StudioExpertScore] = field(default_factory=list)
    waiting: set[int] = field(default_factory=set)  # experts whose panel task is open

    @property
    def open(self) -> bool:
        return bool(self.waiting)

    @property
    def size(self) -> int:
        return len(self.votes) + len(self.waiting)

    @property
    def agreed(self) -> int:
        return sum(1 for vote in self.votes if vote.decision == AGREE)

    @property
    def average(self) -> Decimal | None:
        if not self.votes:
            return None
        total = sum((vote.score for vote in self.votes), Decimal(0))
        return (total / len(self.votes)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def sits_on(self, user: User) -> bool:
        return user.id in self.waiting or any(vote.expert_id == user.id for vote in self.votes)

    def scores_visible_to(self, user: User, city: OrgUnit) -> bool:
        """Scores for the econ-labour department; never for an expert of a round still scoring (independence)."""
        return may_see_panel_scores(user, city) and not (self.open and self.sits_on(user))


def panel_summaries(session: Session, applications: list[StudioApplication]) -> dict[int, PanelSummary]:
    """The latest panel round of each application that went to the panel, keyed by application id."""
    sent = {application.id: application for application in applications if application.panel_round > 0}
    if not sent:
        return {}
    summaries = {app_id: PanelSummary(application.panel_round) for app_id, application in sent.items()}
    scores = session.scalars(
        select(StudioExpertScore)
        .where(StudioExpertScore.application_id.in_(sent))
        .options(selectinload(StudioExpertScore.expert))
        .order_by(StudioExpertScore.id)
    )
    for score in scores:
        if score.panel_round == sent[score.application_id].panel_round:
            summaries[score.application_id].votes.append(score)
    by_instance = {application.instance_id: app_id for app_id, application in sent.items()}
    waiting = session.execute(
        select(TaskIndexEntry.instance_id, TaskIndexEntry.assigned_to_id).where(
            TaskIndexEntry.instance_id.in_(by_instance),
            TaskIndexEntry.bpmn_id == EXPERT_STEP,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    for instance_id, expert_id in waiting:
        if expert_id is not None:
            summaries[by_instance[instance_id]].waiting.add(expert_id)
    return summaries


# --- 公示与异议 --------------------------------------------------------------------------------------------------


def _case_city(session: Session, instance: ProcessInstance) -> OrgUnit:
    city = city_of(session, instance.home_unit)
    if city is None:
        raise NotFound(_("案件不存在"))
    return city


def _notice_case(case_number: str) -> tuple[ProcessInstance, OrgUnit, PublicNotice]:
    """The case and its notice, for the city's econ-labour department: 404 if unseen or never on notice, else 403."""
    session, user = get_session(), current_user.user
    instance = session.scalar(select(ProcessInstance).where(ProcessInstance.case_number == case_number))
    if instance is None or instance.process_key not in PROCESSES:
        raise NotFound(_("案件不存在"))
    visible_case(session, user, instance.id, load_routing())
    city = _case_city(session, instance)
    if not may_handle_objections(user, city):
        raise PermissionDenied(_("只有本市总工会经济技术和劳动保护部可以查看和登记公示异议"))
    notice = notice_of(session, instance)
    if notice is None:
        raise NotFound(_("本案件尚未公示"))
    return instance, city, notice


def _render_notice(
    instance: ProcessInstance,
    notice: PublicNotice,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    html = render_template(
        "studio/notice.html",
        case=instance,
        notice=notice,
        today=beijing_today(),
        channels=OBJECTION_CHANNELS,
        errors=errors or {},
        values=values or {"received_on": beijing_today().isoformat()},
    )
    return html, status


@login_required
def notice(case_number: str) -> tuple[str, int]:
    instance, _city, public_notice = _notice_case(case_number)
    return _render_notice(instance, public_notice)


@login_required
def add_objection(case_number: str) -> Response | tuple[str, int]:
    session, user = get_session(), current_user.user
    instance, _city, public_notice = _notice_case(case_number)
    values = {name: request.form.get(name, "").strip() for name in OBJECTION_FIELDS}
    try:
        received_on = date.fromisoformat(values["received_on"])
    except ValueError:
        errors = {"received_on": _("收到日期：请填写日期，如 %(day)s", day=beijing_today().isoformat())}
        return _render_notice(instance, public_notice, errors, values, 422)
    entry = ObjectionInput(
        received_on, values["channel"], values["content"], values["objector_name"], values["objector_contact"]
    )
    try:
        register_objection(session, public_notice, user, entry)
        session.commit()
    except forms.FormValidationError as exc:
        session.rollback()
        return _render_notice(instance, public_notice, exc.errors, values, 422)
    except OperationRefused as refused:
        session.rollback()
        return _render_notice(instance, public_notice, {"notice": str(refused)}, values, 422)
    flash(_("已登记异议：%(case)s", case=instance.case_number), "success")
    return redirect(url_for("studio.notice", case_number=instance.case_number))


# --- The task panel ---------------------------------------------------------------------------------------------


@dataclass
class TaskPanel:
    process_key: str
    step: str
    title: str
    quota: QuotaUsage
    application: StudioApplication | None = None
    panel: PanelSummary | None = None
    scores_visible: bool = False
    notice: PublicNotice | None = None
    handles_objections: bool = False


def _case_record(session: Session, entry: TaskIndexEntry) -> tuple[OrgUnit, StudioApplication | None, QuotaUsage, str]:
    """The case's city, its application (studio naming only), the year's quota of its type, and the panel's title."""
    if entry.process_key == STUDIO:
        application = session.scalar(
            select(StudioApplication).where(StudioApplication.instance_id == entry.instance_id)
        )
        if application is None:
            raise LookupError(entry.case_number)
        call = application.call
        title = _("%(year)d年%(type)s", year=call.year, type=application.studio_type)
        return call.city_unit, application, studio_quota_usage(session, call, application.studio_type), title
    nomination = session.scalar(select(HonourNomination).where(HonourNomination.instance_id == entry.instance_id))
    if nomination is None:
        raise LookupError(entry.case_number)
    city = session.get(OrgUnit, nomination.city_unit_id)
    assert city is not None
    title = _("%(year)d年%(type)s", year=nomination.year, type=nomination.honour_type)
    return city, None, honour_quota_usage(session, city, nomination.year, nomination.honour_type), title


def studio_task_panel(entry: TaskIndexEntry) -> TaskPanel | None:
    """What the task page shows for a step of a studio application or honour nomination."""
    if entry.process_key not in PROCESSES:
        return None
    session, user = get_session(), current_user.user
    try:
        city, application, quota, title = _case_record(session, entry)
    except LookupError:
        return None
    panel = TaskPanel(entry.process_key, entry.bpmn_id, title, quota, application)
    if application is not None and application.panel_round > 0:
        summary = panel_summaries(session, [application])[application.id]
        panel.scores_visible = summary.scores_visible_to(user, city)
        # The aggregate for the department; the count of votes alone for an expert while the round scores.
        if panel.scores_visible or (entry.bpmn_id == EXPERT_STEP and summary.sits_on(user)):
            panel.panel = summary
    if entry.bpmn_id in NOTICE_STEPS:
        panel.notice = notice_of(session, entry.instance)
        panel.handles_objections = may_handle_objections(user, city)
    return panel
