"""Process versions, instances (cases), the task index, timers and approval steps (DESIGN §2, §6)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import OrgUnit, User


class ProcessVersion(Base):
    """One deployed version of a BPMN process; the parsed spec is stored once, serialized."""

    __tablename__ = "process_version"
    __table_args__ = (
        UniqueConstraint("process_key", "version"),
        UniqueConstraint("process_key", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    source_file: Mapped[str] = mapped_column(String(255))
    # Deferred (issue #9): a case start, a step and an API answer load the version row for its key and number; the
    # diagram (tens of kB) and the parsed spec are read only by the diagram view and a process's first load.
    bpmn_xml: Mapped[str] = mapped_column(Text, deferred=True)
    serialized_spec: Mapped[str] = mapped_column(Text, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(16))
    deployed_at: Mapped[datetime] = mapped_column(default=utcnow)


class InstanceStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ProcessInstance(Base):
    """A case: one running (or finished) process instance, its engine state in one row."""

    __tablename__ = "process_instance"
    __table_args__ = (
        # Cases closed in a period, by process and home unit (the plan dashboard, issue #9 "Inboxes at volume"):
        # read from the index alone. Its first column also serves every lookup by status.
        Index("ix_process_instance_closed", "status", "completed_at", "process_key", "home_unit_id"),
        # A case's home unit by id without reading its engine state (plan target progress joins thousands of cases).
        Index("ix_process_instance_home", "id", "home_unit_id"),
        # A process's cases by home unit, from the index alone (the 督办台账's "matters of my subtree" on PostgreSQL
        # read 2,039 case rows, engine state and all, for it); its first column serves every lookup by process.
        Index("ix_process_instance_process_home", "process_key", "home_unit_id", "id"),
        # 我发起 and "cases I started" by starter; with the process, a viewer's matters in the 督办台账 from the index
        # alone (a district official had started 6,489 cases of all processes: a 4 ms heap scan on PostgreSQL).
        Index("ix_process_instance_started_by", "started_by_id", "process_key", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    process_version_id: Mapped[int] = mapped_column(ForeignKey("process_version.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=InstanceStatus.RUNNING.value)
    # The engine state without the spec (the spec is referenced by process_version_id).
    state: Mapped[str] = mapped_column(Text, default="")
    serializer_version: Mapped[str] = mapped_column(String(16), default="")
    # Optimistic lock: every step increments it and the UPDATE checks the value that was read.
    version: Mapped[int] = mapped_column(Integer, default=0)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    # The most specific org unit the case belongs to; lanes resolve to it or one of its ancestors.
    home_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    enterprise_id: Mapped[int | None] = mapped_column(ForeignKey("enterprise.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None]

    process_version: Mapped[ProcessVersion] = relationship()
    started_by: Mapped[User] = relationship()
    home_unit: Mapped[OrgUnit] = relationship()

    __mapper_args__ = {"version_id_col": version}


class TaskStatus(StrEnum):
    READY = "ready"
    COMPLETED = "completed"


# The partial-index conditions of the task index (literal values: an index predicate cannot take parameters).
_OPEN = text(f"status = '{TaskStatus.READY.value}'")
_OPEN_CLAIMED = text(f"status = '{TaskStatus.READY.value}' AND claimed_by_id IS NOT NULL")
_OPEN_UNCLAIMED = text(f"status = '{TaskStatus.READY.value}' AND claimed_by_id IS NULL")
_COMPLETED = text(f"status = '{TaskStatus.COMPLETED.value}'")
_NAMED = text("assigned_to_id IS NOT NULL")
# The 督办台账's (workflows.supervision.ledger) process: who may see a supervised matter is decided on PostgreSQL as
# sets of its cases read from these two small indexes of its steps alone (queries.CaseColumns.task_sets).
_SUPERVISION = text("process_key = 'supervision'")
_SUPERVISION_DONE = text(f"process_key = 'supervision' AND status = '{TaskStatus.COMPLETED.value}'")


class TaskIndexEntry(Base):
    """One row per human task of an instance, derived from the engine after every step."""

    __tablename__ = "task_index"
    # Issue #9 "Inboxes at volume" (a million rows, a tenth of them open): each list reads one partial index in its
    # own order and never the table beyond the page it shows. The filtered columns, and `id` (which PostgreSQL does not
    # keep in an index as SQLite does its rowid), are repeated in the indexes so a page's ids and its count come from
    # the index alone; bound `status = ?` parameters still match the partial conditions.
    __table_args__ = (
        UniqueConstraint("instance_id", "task_id"),
        # 待办: open tasks claimed by (or assigned to) someone, by holder and due date.
        Index("ix_task_index_mine", "claimed_by_id", "due_at", "status", "id",
              sqlite_where=_OPEN_CLAIMED, postgresql_where=_OPEN_CLAIMED),
        # 部门待办: a queue's unclaimed open tasks, by unit, department and due date.
        Index("ix_task_index_queue_open", "org_unit_id", "department_code", "due_at", "status", "claimed_by_id", "id",
              sqlite_where=_OPEN_UNCLAIMED, postgresql_where=_OPEN_UNCLAIMED),
        # 已办: tasks a person completed, newest first, in the index's own order.
        Index("ix_task_index_done", "completed_by_id", "completed_at", "id", "status",
              sqlite_where=_COMPLETED, postgresql_where=_COMPLETED),
        # Steps named to a signer (会签, 加签): few rows, so who may see a case need not read the table.
        Index("ix_task_index_named", "assigned_to_id", "status", "instance_id",
              sqlite_where=_NAMED, postgresql_where=_NAMED),
        # Open tasks by process, unit and department (the plan dashboard's counts and drill-down, due reminders).
        Index("ix_task_index_open", "process_key", "org_unit_id", "department_code", "due_at", "status",
              sqlite_where=_OPEN, postgresql_where=_OPEN),
        # A case's tasks: the units and departments it touched (cases closed per responsible unit) and who may see it
        # (queries.viewable_cases), from the index alone.
        Index("ix_task_index_case_seats", "instance_id", "org_unit_id", "department_code", "status", "completed_by_id"),
        # The API and the web address a task by its engine id alone.
        Index("ix_task_index_task_id", "task_id"),
        # Supervision cases by the seats of their steps, and by who completed them (the ledger's visibility).
        Index("ix_task_index_supervision_seats", "org_unit_id", "department_code", "instance_id",
              sqlite_where=_SUPERVISION, postgresql_where=_SUPERVISION),
        Index("ix_task_index_supervision_done", "completed_by_id", "instance_id",
              sqlite_where=_SUPERVISION_DONE, postgresql_where=_SUPERVISION_DONE),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(255))
    process_key: Mapped[str] = mapped_column(String(64))
    case_number: Mapped[str] = mapped_column(String(32))
    case_title: Mapped[str] = mapped_column(String(255))
    lane: Mapped[str] = mapped_column(String(100))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    department_code: Mapped[str | None] = mapped_column(String(32))
    form_name: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    claimed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # A named signer (会签 instance, 加签): only they may complete it, whatever the lane says.
    assigned_to_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    ready_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    instance: Mapped[ProcessInstance] = relationship()
    org_unit: Mapped[OrgUnit] = relationship()


class TimerEntry(Base):
    """A waiting timer event, so a scheduler finds due timers with SQL instead of loading every case."""

    __tablename__ = "timer"
    __table_args__ = (UniqueConstraint("instance_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime] = mapped_column(index=True)


class ApprovalStep(Base):
    """The record of one completed human step: the row the approval record (审批表) prints."""

    __tablename__ = "approval_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    bpmn_id: Mapped[str] = mapped_column(String(100))
    step_title: Mapped[str] = mapped_column(String(255))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(16))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    org_unit_name: Mapped[str] = mapped_column(String(100))
    department_code: Mapped[str | None] = mapped_column(String(32))
    decision: Mapped[str | None] = mapped_column(String(16))
    opinion: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, object]] = mapped_column(JSON)
    data_hash: Mapped[str] = mapped_column(String(64))
    completed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # "step" for a decided step; "added_sign" for the opinion of a signer added with 加签.
    kind: Mapped[str] = mapped_column(String(16), default="step", server_default="step")
    # 委托: the principal whose task the actor decided ("X on behalf of Y").
    on_behalf_of_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    on_behalf_of_name: Mapped[str | None] = mapped_column(String(64))
    # 撤回: the step was taken back by its author; it stays on the record, marked.
    withdrawn_at: Mapped[datetime | None]


class CaseLink(Base):
    """A relation between two cases, e.g. a duplicate hazard report linked to the first report."""

    __tablename__ = "case_link"
    __table_args__ = (UniqueConstraint("instance_id", "linked_instance_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    linked_instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
