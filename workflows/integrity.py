"""`flask --app webapp check`: prove the stored state is consistent (issue #5, crash safety).

Each check is a plain function over a Session that returns findings (empty when consistent); `run_checks` runs
them all. What is proved:

- every process instance deserializes, and its status agrees with the engine (completed exactly when the engine is);
- the task index equals what the engine says (`task_index.index_matches_engine`), and the timer table holds exactly
  the engine's waiting timer events of live instances;
- every approval step belongs to an existing case; its `data_hash` is recomputed from its stored data when that data
  is complete (steps with masked identity or card numbers are hashed over the full submission, which is not
  stored); and the steps of a case match, one for one, the audit events that recorded them (`STEP_EVENTS`), so a
  duplicated, edited or invented step and a lost one are all reported;
- the audit chain verifies (`audit.verify_chain`);
- optionally, every attachment row has its file in the upload folder;
- imports left no partial rows: `IMPORT_CHECKS` lists one check per bulk import (a function
  `(Session) -> list[Finding]`); the hardship-aid list's compares each import's recorded row count with its rows;
- the plan dashboard's tallies (issue #9, workflows.models.tally) equal a recount from the task index and the cases,
  and the triggers that keep the open-task tally exist (an SQLite batch migration recreating task_index drops them);
- every supervised matter's case is a supervision case (the 督办台账's visibility rule relies on it).

A crash can leave none of these broken, because each request writes everything in one transaction; the check is
how a restarted server, a restored backup or an operator proves it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

import forms
from forms.sensitive import sensitive_paths
from workflows.aid.importing import check_aid_imports
from workflows.attachments import attachment_path
from workflows.audit import verify_chain
from workflows.engine.deployment import FORM_PROPERTY, properties, specs_for
from workflows.engine.runtime import load_workflow
from workflows.findings import Check, Finding
from workflows.models import (
    ApprovalStep,
    Attachment,
    AuditEvent,
    InstanceStatus,
    ProcessInstance,
    ProcessVersion,
    TimerEntry,
)
from workflows.plans.tally import check_tallies
from workflows.routing import RoutingTable, load_routing
from workflows.supervision.ledger import check_matter_cases
from workflows.task_index import ADDED_SIGN_FORM, expected_timers, index_matches_engine

# Audit events that each record exactly one approval step, with the step's data_hash in their payload. Whoever adds
# another way of writing an approval step (workflows.steps.write_approval_step) adds its event here.
STEP_EVENTS = frozenset({"case.started", "task.completed", "task.held_for_signers", "task.signed"})
# Instances are loaded in batches and dropped from the session after each, so a large database fits in memory.
BATCH = 50


@dataclass
class IntegrityReport:
    findings: list[Finding] = field(default_factory=list)
    instances: int = 0
    approval_steps: int = 0
    audit_events: int = 0
    timers: int = 0

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        return (
            f"检查通过：{self.instances} 个案件的流程状态均可读取，任务索引与流程引擎一致；"
            f"{self.approval_steps} 条审批记录与审计事件一一对应；审计链完整（{self.audit_events} 条事件）；"
            f"定时器 {self.timers} 个均对应在办案件的等待事件"
        )


# Checks that a bulk import left no partial rows (see the module docstring).
IMPORT_CHECKS: tuple[Check, ...] = (check_aid_imports,)


def case_label(instance: ProcessInstance) -> str:
    return f"案件 {instance.case_number or f'#{instance.id}'}"


def _short(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:200] + "…"


# --- instances, task index, timers ----------------------------------------------------------------------------------


def check_instance(session: Session, instance: ProcessInstance, routing: RoutingTable) -> list[Finding]:
    """The engine state of one case loads, and its index, timers and status agree with it."""
    label = case_label(instance)
    try:
        workflow = load_workflow(instance)
    except Exception as exc:  # any failure to load is the finding: garbage JSON, a missing spec, a bad task tree
        return [Finding("instance.state", label, f"流程状态无法读取（{_short(exc)}）")]
    findings = []
    try:
        differences = index_matches_engine(session, instance, workflow, routing)
    except Exception as exc:  # e.g. a lane that no longer resolves to a unit
        differences = [f"无法由引擎状态推算任务索引（{_short(exc)}）"]
    findings += [Finding("task_index", label, f"任务索引与流程引擎不一致：{text}") for text in differences]

    wanted = expected_timers(workflow) if instance.status == InstanceStatus.RUNNING else {}
    stored = {t.task_id: t for t in session.scalars(select(TimerEntry).where(TimerEntry.instance_id == instance.id))}
    for task_id in wanted.keys() - stored.keys():
        message = f"引擎中等待的定时事件 {wanted[task_id][0]}（{task_id}）没有定时器记录"
        findings.append(Finding("timer", label, message))
    for task_id in stored.keys() - wanted.keys():
        timer = stored[task_id]
        reason = "案件不在办理中" if instance.status != InstanceStatus.RUNNING else "引擎中没有对应的等待定时事件"
        findings.append(Finding("timer", label, f"定时器 #{timer.id}（{timer.bpmn_id}，{task_id}）无效：{reason}"))
    for task_id in wanted.keys() & stored.keys():
        if stored[task_id].due_at != wanted[task_id][1]:
            findings.append(Finding("timer", label, f"定时器 #{stored[task_id].id} 的到期时间与流程引擎不一致"))

    if instance.status != InstanceStatus.CANCELLED and workflow.is_completed() != (
        instance.status == InstanceStatus.COMPLETED
    ):
        engine_state = "已结束" if workflow.is_completed() else "未结束"
        findings.append(Finding("instance.status", label, f"案件状态为 {instance.status}，但流程引擎{engine_state}"))
    return findings


def _instance_ids(session: Session) -> list[int]:
    return list(session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))


def _batches(ids: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start : start + BATCH]


def check_instances(session: Session, routing: RoutingTable | None = None) -> list[Finding]:
    routing = routing or load_routing()
    findings: list[Finding] = []
    for batch in _batches(_instance_ids(session)):
        instances = session.scalars(select(ProcessInstance).where(ProcessInstance.id.in_(batch)))
        for instance in instances:
            findings += check_instance(session, instance, routing)
        # Engine states are large: keep only one batch in the identity map.
        session.expunge_all()
    return findings


def check_orphan_timers(session: Session) -> list[Finding]:
    """Timer rows whose case does not exist (possible only where foreign keys were not enforced)."""
    query = (
        select(TimerEntry)
        .outerjoin(ProcessInstance, ProcessInstance.id == TimerEntry.instance_id)
        .where(ProcessInstance.id.is_(None))
    )
    return [
        Finding("timer", f"定时器 #{timer.id}", f"所属案件 #{timer.instance_id} 不存在")
        for timer in session.scalars(query)
    ]


# --- approval steps ---------------------------------------------------------------------------------------------------


def _step_label(step: ApprovalStep, case_number: str | None) -> str:
    case = case_number or f"#{step.instance_id}"
    return f"案件 {case} 审批记录 #{step.id}（{step.step_title}）"


class _StepForms:
    """The form each step was filled in with, by process version and BPMN id, to tell complete data from masked."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._by_version: dict[int, dict[str, str]] = {}

    def _forms_of(self, version_id: int) -> dict[str, str]:
        if version_id not in self._by_version:
            version = self._session.get(ProcessVersion, version_id)
            found: dict[str, str] = {}
            if version is not None:
                spec, subprocess_specs = specs_for(version)
                for process_spec in (spec, *subprocess_specs.values()):
                    for task_spec in process_spec.task_specs.values():
                        name = properties(task_spec).get(FORM_PROPERTY)
                        bpmn_id = getattr(task_spec, "bpmn_id", None)
                        if name and bpmn_id:
                            found[bpmn_id] = name
            self._by_version[version_id] = found
        return self._by_version[version_id]

    def form(self, step: ApprovalStep, version_id: int) -> forms.FormDefinition | None:
        name = ADDED_SIGN_FORM if step.kind == "added_sign" else self._forms_of(version_id).get(step.bpmn_id)
        return forms.load_form(name) if name else None


def _holds_masked_value(form: forms.FormDefinition, data: dict[str, Any]) -> bool:
    """Whether the stored data has an identity or card field, stored masked, so its hash cannot be recomputed."""
    for path, _format in sensitive_paths(form.schema):
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if value not in (None, ""):
            return True
    return False


def _recorded_step_hashes(session: Session) -> dict[str, list[tuple[int, str, str | None]]]:
    """(event id, data_hash, record_hash) of every audit event that recorded an approval step, by case number.

    record_hash (the stored record's hash, steps.step_hashes) is absent from events written before it existed.
    """
    recorded: dict[str, list[tuple[int, str, str | None]]] = defaultdict(list)
    events = session.execute(
        select(AuditEvent.id, AuditEvent.action, AuditEvent.object_id, AuditEvent.payload)
        .where(AuditEvent.action.in_(STEP_EVENTS))
        .order_by(AuditEvent.id)
    )
    for event_id, action, object_id, payload in events:
        try:
            content = json.loads(payload)
        except ValueError:
            continue  # an edited payload breaks the chain, which check_audit_chain reports
        case_number = object_id if action == "case.started" else content.get("case")
        if isinstance(content, dict) and case_number and content.get("data_hash"):
            record_hash = content.get("record_hash")
            recorded[str(case_number)].append(
                (event_id, str(content["data_hash"]), str(record_hash) if record_hash else None)
            )
    return recorded


def check_approval_steps(session: Session) -> list[Finding]:
    findings: list[Finding] = []
    recorded = _recorded_step_hashes(session)
    step_forms = _StepForms(session)
    cases = {
        instance_id: (number, version_id)
        for instance_id, number, version_id in session.execute(
            select(ProcessInstance.id, ProcessInstance.case_number, ProcessInstance.process_version_id)
        )
    }
    steps_by_case: dict[int, list[ApprovalStep]] = defaultdict(list)
    for step in session.scalars(select(ApprovalStep).order_by(ApprovalStep.id)):
        steps_by_case[step.instance_id].append(step)

    for instance_id, steps in steps_by_case.items():
        if instance_id not in cases:
            findings += [
                Finding("approval_step", _step_label(step, None), f"所属案件 #{instance_id} 不存在") for step in steps
            ]
            continue
        case_number, version_id = cases[instance_id]
        masked: set[int] = set()  # steps whose stored record is checked through their audit event instead
        for step in steps:
            form = step_forms.form(step, version_id)
            complete_data = form is None or not _holds_masked_value(form, step.data)
            if not complete_data:
                masked.add(step.id)
            elif forms.data_hash(step.data) != step.data_hash:
                findings.append(
                    Finding("approval_step", _step_label(step, case_number), "记录内容与其哈希不符（记录被修改）")
                )
        # One step per recording event: a surplus step is a duplicate or a forgery, a surplus event a lost step.
        events = recorded.pop(case_number or "", [])
        unmatched: dict[str, list[str | None]] = defaultdict(list)
        for _event_id, data_hash, record_hash in events:
            unmatched[data_hash].append(record_hash)
        for step in steps:
            if unmatched[step.data_hash]:
                stored = forms.data_hash(step.data)
                candidates = unmatched[step.data_hash]
                record_hash = stored if stored in candidates else candidates[0]
                candidates.remove(record_hash)
                if step.id in masked and record_hash is not None and record_hash != stored:
                    findings.append(
                        Finding("approval_step", _step_label(step, case_number), "记录内容与审计事件不符（记录被修改）")
                    )
            else:
                findings.append(
                    Finding(
                        "approval_step",
                        _step_label(step, case_number),
                        "没有与之对应的审计事件（重复写入，或记录的哈希被修改）",
                    )
                )
        for event_id, data_hash, _record_hash in events:
            if unmatched[data_hash]:
                unmatched[data_hash].pop()
                findings.append(
                    Finding("approval_step", f"案件 {case_number}", f"审计事件 #{event_id} 记录的审批记录缺失")
                )
    # Events of cases that have no step left at all (every step deleted, or the case row itself).
    numbers = {number for number, _version in cases.values()}
    for case_number, events in recorded.items():
        missing = "审批记录缺失" if case_number in numbers else "案件不存在"
        findings += [
            Finding("approval_step", f"案件 {case_number}", f"审计事件 #{event_id} 记录的{missing}")
            for event_id, _hash, _record in events
        ]
    return findings


# --- audit chain, attachments -----------------------------------------------------------------------------------------


def check_audit_chain(session: Session) -> list[Finding]:
    report = verify_chain(session)
    if report.ok:
        return []
    return [Finding("audit", f"审计事件 #{report.first_broken_id}", f"审计链在此断开：{report.reason}")]


def check_attachment_files(session: Session, upload_dir: str | Path) -> list[Finding]:
    """Every attachment row has its file, under its SHA-256, in the upload folder."""
    findings = []
    rows = session.execute(
        select(Attachment, ProcessInstance.case_number)
        .outerjoin(ProcessInstance, ProcessInstance.id == Attachment.instance_id)
        .order_by(Attachment.id)
    )
    for attachment, case_number in rows:
        try:
            present = attachment_path(upload_dir, attachment.sha256).is_file()
        except Exception:  # not a SHA-256 at all
            present = False
        if not present:
            case = case_number or f"#{attachment.instance_id}"
            subject = f"案件 {case} 附件 #{attachment.id}（{attachment.filename}）"
            findings.append(Finding("attachment", subject, "文件缺失"))
    return findings


# --- all of it --------------------------------------------------------------------------------------------------------


def run_checks(
    session: Session, *, routing: RoutingTable | None = None, upload_dir: str | Path | None = None
) -> IntegrityReport:
    """Every check above, on the session's view of the database; the caller decides what to do with findings."""
    report = IntegrityReport()
    report.findings += check_instances(session, routing)
    report.findings += check_orphan_timers(session)
    report.findings += check_approval_steps(session)
    report.findings += check_audit_chain(session)
    if upload_dir is not None:
        report.findings += check_attachment_files(session, upload_dir)
    for check in IMPORT_CHECKS:
        report.findings += check(session)
    report.findings += check_tallies(session)
    report.findings += check_matter_cases(session)
    report.instances = session.scalar(select(func.count()).select_from(ProcessInstance)) or 0
    report.approval_steps = session.scalar(select(func.count()).select_from(ApprovalStep)) or 0
    report.audit_events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    report.timers = session.scalar(select(func.count()).select_from(TimerEntry)) or 0
    return report


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only session on one consistent snapshot, so writes committed meanwhile cannot look like findings.

    PostgreSQL: a REPEATABLE READ transaction. SQLite: an explicit BEGIN, whose first read fixes the snapshot
    (the driver would otherwise end the read transaction after every statement). Always rolled back.
    """
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        elif connection.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN")
        session = Session(bind=connection, autoflush=False)
        try:
            yield session
        finally:
            session.close()
            connection.rollback()
