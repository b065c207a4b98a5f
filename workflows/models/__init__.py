"""SQLAlchemy models. Importing this package registers every table on `Base.metadata`."""

from workflows.models.access import ApiToken, RateLimitEvent
from workflows.models.attachment import Attachment
from workflows.models.audit import AuditEvent
from workflows.models.hazard import HazardReport
from workflows.models.org import DEPARTMENTS, Department, Enterprise, Level, OrgUnit, Role, UnitKind, User
from workflows.models.policy import PolicyParameter
from workflows.models.process import (
    ApprovalStep,
    CaseLink,
    InstanceStatus,
    ProcessInstance,
    ProcessVersion,
    TaskIndexEntry,
    TaskStatus,
    TimerEntry,
)

__all__ = [
    "DEPARTMENTS",
    "ApiToken",
    "ApprovalStep",
    "Attachment",
    "AuditEvent",
    "CaseLink",
    "Department",
    "Enterprise",
    "HazardReport",
    "InstanceStatus",
    "Level",
    "OrgUnit",
    "PolicyParameter",
    "ProcessInstance",
    "ProcessVersion",
    "RateLimitEvent",
    "Role",
    "TaskIndexEntry",
    "TaskStatus",
    "TimerEntry",
    "UnitKind",
    "User",
]
