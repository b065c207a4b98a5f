"""The studio application record (创新工作室命名申报审批表, issue 7 "Records") as data.

In the order an official reads it:
1. 申报信息: the application as stored (studio_application, after the hooks resolved enterprise and district).
2. 审批意见: every decided step of the case (approval_step) in the order decided, each with its whole form titled
   from the step's form (workflows.studio.step_fields): the district's recommendation and ranking, the city's review
   with its site-visit score sheet and 合计, the leadership meeting, the objection verification, naming, funding.
   The applicant's own submission prints as a line pointing to 1. unless the case has a resubmission (补正) with
   the same form, when the original is printed in full for comparison.
   The expert panel (会签) prints as one block per round from studio_expert_score: each expert's score, vote and
   opinion, the round's average and agree count. An expert's own step (same expert, vote and opinion) is folded into
   the round instead of printing twice; one that does not match stays in the list.
3. 公示: the notice period and every objection with its verification finding.
4. 命名与资金: the naming document and every payment, with the rule it was paid under.
5. 附件.
No Flask. The caller has checked that the requester may see the case (routing.can_view_case), and says what this
reader may see of the rest (workflows.studio.access): without `panel_scores` a round prints only how many experts
sat on it, and the experts' own steps are left out; without `objectors` an objector is printed as 不公开.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

import forms
import forms.loader
from workflows.models import (
    DEPARTMENTS,
    ApprovalStep,
    PublicNotice,
    Studio,
    StudioApplication,
    StudioExpertScore,
    User,
)
from workflows.queries import case_approval_steps
from workflows.record_sections import (
    RecordAttachment,
    acting_name,
    beijing_time,
    record_attachments,
    redact,
    step_titles,
)
from workflows.records import ROLE_LABELS
from workflows.studio.step_fields import Field, FieldTable, StepForms, step_fields

AGREE = "同意"  # the expert form's vote (forms/studio-expert-schema.json)
PENDING = "待核实"
UNDISCLOSED = "不公开"


@dataclass(frozen=True)
class ApplicationInfo:
    studio_name: str
    studio_type: str
    call_year: int
    enterprise: str
    uscc: str
    tech_enterprise: bool
    applicant_unit: str
    district_unit: str
    lead_name: str
    lead_honour: str
    lead_position: str
    members: str
    running_since: date
    patents: int
    economic_benefit: Decimal
    techniques: int
    results_summary: str
    training_sessions: int
    trained_workers: int
    district_rank: int | None
    site_score: Decimal | None
    status: str


@dataclass(frozen=True)
class StepOpinion:
    number: int
    title: str
    unit: str
    department: str
    person: str
    role: str
    time: str
    withdrawn_at: str
    fields: tuple[Field, ...]
    tables: tuple[FieldTable, ...]
    submission: bool = False  # the application itself, printed once under 申报信息
    kind: str = "step"


@dataclass(frozen=True)
class PanelVote:
    expert: str
    score: Decimal
    decision: str
    opinion: str
    time: str


@dataclass(frozen=True)
class PanelRound:
    number: int  # the entry's place in the list of opinions
    panel_round: int  # 第几轮 (a return to the city's review starts a new round)
    count: int  # experts who have voted
    disclosed: bool  # False: the reader may not see the scores (workflows.studio.access.may_see_panel_scores)
    votes: tuple[PanelVote, ...]  # empty unless disclosed
    average: Decimal | None  # to 0.01, ROUND_HALF_UP; None unless disclosed
    agreed: int
    kind: str = "panel"


@dataclass(frozen=True)
class ObjectionLine:
    number: int
    received_on: date
    channel: str
    objector: str  # name, or 匿名; a mobile number masked
    content: str
    registered_by: str
    conclusion: str  # 异议成立 / 异议不成立 / 待核实
    finding: str
    verified_by: str
    verified_at: str


@dataclass(frozen=True)
class NoticeInfo:
    starts_on: date
    ends_on: date
    working_days: int
    closed_at: str
    objections: tuple[ObjectionLine, ...]


@dataclass(frozen=True)
class FundingLine:
    year: int
    amount: Decimal
    rule_source: str
    voucher_number: str
    paid_on: date
    recorded_by: str


@dataclass(frozen=True)
class NamingInfo:
    document_number: str
    named_on: date
    standing: str
    revoked_on: date | None
    fundings: tuple[FundingLine, ...]


@dataclass(frozen=True)
class ApplicationRecord:
    instance_id: int
    case_number: str
    case_title: str
    home_unit: str
    started_by: str
    started_at: str
    application: ApplicationInfo
    opinions: tuple[StepOpinion | PanelRound, ...]
    notice: NoticeInfo | None
    naming: NamingInfo | None
    attachments: tuple[RecordAttachment, ...]


def application_record(
    session: Session, application: StudioApplication, *, panel_scores: bool = True, objectors: bool = True
) -> ApplicationRecord:
    """The record as `panel_scores` / `objectors` allow the reader to see it (see the module's docstring)."""
    instance = application.instance
    steps = case_approval_steps(session, instance.id)
    return ApplicationRecord(
        instance_id=instance.id,
        case_number=instance.case_number or str(instance.id),
        case_title=redact(instance.title),
        home_unit=instance.home_unit.name,
        started_by=instance.started_by.display_name,
        started_at=beijing_time(instance.created_at),
        application=_application(application),
        opinions=_opinions(session, application, steps, StepForms(session, instance), panel_scores),
        notice=_notice(session, instance.id, objectors),
        naming=_naming(session, application),
        attachments=record_attachments(session, instance.id, step_titles(session, instance.id, steps)),
    )


def _application(a: StudioApplication) -> ApplicationInfo:
    return ApplicationInfo(
        studio_name=a.studio_name, studio_type=a.studio_type, call_year=a.call.year, enterprise=a.enterprise.name,
        uscc=a.enterprise.uscc, tech_enterprise=a.tech_enterprise, applicant_unit=a.applicant_unit.name,
        district_unit=a.district_unit.name, lead_name=a.lead_name, lead_honour=a.lead_honour,
        lead_position=a.lead_position, members=redact(a.members), running_since=a.running_since, patents=a.patents,
        economic_benefit=a.economic_benefit, techniques=a.techniques, results_summary=redact(a.results_summary),
        training_sessions=a.training_sessions, trained_workers=a.trained_workers, district_rank=a.district_rank,
        site_score=a.site_score, status=a.status,
    )  # fmt: skip


def _opinions(
    session: Session,
    application: StudioApplication,
    all_steps: Sequence[ApprovalStep],
    step_forms: StepForms,
    panel_scores: bool,
) -> tuple[StepOpinion | PanelRound, ...]:
    scores = list(
        session.scalars(
            select(StudioExpertScore)
            .where(StudioExpertScore.application_id == application.id)
            .order_by(StudioExpertScore.panel_round, StudioExpertScore.scored_at, StudioExpertScore.id)
        )
    )
    folded = _fold_expert_steps(all_steps, scores)
    if not panel_scores:  # no expert's step at all, folded or not: each carries a score and a vote
        panel_steps = {step.bpmn_id for step in all_steps if step.id in folded}
        folded |= {step.id for step in all_steps if step.bpmn_id in panel_steps}
    submissions = _submissions_to_skip(all_steps, step_forms)
    rounds: dict[int, list[StudioExpertScore]] = {}
    for score in scores:
        rounds.setdefault(score.panel_round, []).append(score)
    # (when, order, entry): steps by the time decided; a round at its first vote.
    timeline: list[tuple[datetime, int, ApprovalStep | list[StudioExpertScore]]] = [
        (step.completed_at, step.id, step) for step in all_steps if step.id not in folded
    ]
    timeline += [(min(s.scored_at for s in votes), 0, votes) for votes in rounds.values()]
    timeline.sort(key=lambda item: (item[0], item[1]))
    entries: list[StepOpinion | PanelRound] = []
    for number, (_when, _order, item) in enumerate(timeline, start=1):
        if isinstance(item, ApprovalStep):
            entries.append(_step_opinion(number, item, step_forms, item.id in submissions))
        else:
            entries.append(_panel_round(number, item, panel_scores))
    return tuple(entries)


def _submissions_to_skip(steps: Sequence[ApprovalStep], step_forms: StepForms) -> set[int]:
    """The start step, whose data is the application printed under 申报信息, unless a later step was filled in
    with the same form (a resubmission): then the original is printed for comparison."""
    if not steps or not step_forms.is_submission(steps[0]):
        return set()
    first = steps[0]
    name = step_forms.form_name(first)
    resubmitted = name is not None and any(
        forms.loader.form_name(step_forms.form_name(step) or "") == forms.loader.form_name(name) for step in steps[1:]
    )
    return set() if resubmitted else {first.id}


def _fold_expert_steps(steps: Sequence[ApprovalStep], scores: list[StudioExpertScore]) -> set[int]:
    """Ids of the experts' own steps that a score row stands for: same expert, vote and opinion, nearest in time."""
    folded: set[int] = set()
    for score in scores:
        candidates = [
            step
            for step in steps
            if step.id not in folded
            and step.kind == "step"
            and step.actor_id == score.expert_id
            and (step.decision or "") == score.decision
            and (step.opinion or "").strip() == score.opinion.strip()
        ]
        if candidates:
            nearest = min(candidates, key=lambda step: abs((step.completed_at - score.scored_at).total_seconds()))
            folded.add(nearest.id)
    return folded


def _step_opinion(number: int, step: ApprovalStep, step_forms: StepForms, submission: bool) -> StepOpinion:
    printed = step_fields({} if submission else dict(step.data or {}), None if submission else step_forms.form(step))
    return StepOpinion(
        number=number,
        title=step.step_title,
        unit=step.org_unit_name,
        department=DEPARTMENTS.get(step.department_code, step.department_code) if step.department_code else "",
        person=acting_name(step.actor_name, step.on_behalf_of_name),
        role=ROLE_LABELS.get(step.actor_role, step.actor_role),
        time=beijing_time(step.completed_at),
        withdrawn_at=beijing_time(step.withdrawn_at),
        fields=printed.fields,
        tables=printed.tables,
        submission=submission,
    )


def _panel_round(number: int, votes: list[StudioExpertScore], disclosed: bool) -> PanelRound:
    average = (sum((v.score for v in votes), Decimal(0)) / len(votes)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return PanelRound(
        number=number,
        panel_round=votes[0].panel_round,
        count=len(votes),
        disclosed=disclosed,
        votes=tuple(
            PanelVote(v.expert.display_name, v.score, v.decision, redact(v.opinion), beijing_time(v.scored_at))
            for v in votes
        )
        if disclosed
        else (),
        average=average if disclosed else None,
        agreed=sum(1 for v in votes if v.decision == AGREE) if disclosed else 0,
    )


def _objector(name: str | None, contact: str | None, disclosed: bool) -> str:
    if not disclosed:
        return UNDISCLOSED
    who = name or "匿名"
    if not contact:
        return who
    shown = forms.mask_mobile(contact) if forms.mobile_problem(contact) is None else redact(contact)
    return f"{who}（{shown}）"


def _notice(session: Session, instance_id: int, objectors: bool) -> NoticeInfo | None:
    notice = session.scalar(select(PublicNotice).where(PublicNotice.instance_id == instance_id))
    if notice is None:
        return None
    verifier_ids = {o.verified_by_id for o in notice.objections if o.verified_by_id is not None}
    verifiers: dict[int, str] = {
        user_id: name
        for user_id, name in session.execute(select(User.id, User.display_name).where(User.id.in_(verifier_ids)))
    }
    objections = tuple(
        ObjectionLine(
            number=number,
            received_on=o.received_on,
            channel=o.channel,
            objector=_objector(o.objector_name, o.objector_contact, objectors),
            content=redact(o.content),
            registered_by=o.registered_by.display_name,
            conclusion=PENDING if o.upheld is None else ("异议成立" if o.upheld else "异议不成立"),
            finding=redact(o.finding),
            verified_by=verifiers.get(o.verified_by_id, "") if o.verified_by_id is not None else "",
            verified_at=beijing_time(o.verified_at),
        )
        for number, o in enumerate(notice.objections, start=1)
    )
    return NoticeInfo(notice.starts_on, notice.ends_on, notice.working_days, beijing_time(notice.closed_at), objections)


def _naming(session: Session, application: StudioApplication) -> NamingInfo | None:
    studio = session.scalar(select(Studio).where(Studio.application_id == application.id))
    if studio is None:
        return None
    fundings = tuple(
        FundingLine(f.year, f.amount, f.rule_source, f.voucher_number, f.paid_on, f.recorded_by.display_name)
        for f in studio.fundings
    )
    return NamingInfo(studio.document_number, studio.named_on, studio.standing, studio.revoked_on, fundings)
