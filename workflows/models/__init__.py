"""SQLAlchemy models. Importing this package registers every table on `Base.metadata`."""

from workflows.models.access import ApiToken, RateLimitEvent
from workflows.models.aid import AidCityList, AidImport, AidReview, AidWorker
from workflows.models.aid_payment import AidBatch, AidPayment, PaymentStatus
from workflows.models.attachment import Attachment
from workflows.models.audit import AuditEvent
from workflows.models.calendar import WorkingDayOverride
from workflows.models.collaboration import (
    ACTION_LABELS,
    ActionKind,
    CaseAction,
    CaseComment,
    CaseCopy,
    CommonPhrase,
    Delegation,
    Reminder,
    ReminderKind,
    TaskOpening,
)
from workflows.models.hazard import HazardReport
from workflows.models.honour import HonourNomination
from workflows.models.metric_tally import MetricTally
from workflows.models.notice import NoticeObjection, PublicNotice
from workflows.models.notification import NOTIFICATION_LABELS, Notification, NotificationKind
from workflows.models.org import DEPARTMENTS, Department, Enterprise, Level, OrgUnit, Role, UnitKind, User
from workflows.models.plan import (
    Plan,
    PlanItem,
    PlanItemProcess,
    PlanMeasure,
    PlanResponsibility,
    PlanTarget,
    PlanUrge,
    ResponsibilityRole,
    UnitGroup,
)
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
from workflows.models.queue_tally import QueueTally
from workflows.models.reference import ReferenceRevision
from workflows.models.studio import (
    QUOTA_HOLDING,
    ApplicationStatus,
    AssessmentResult,
    Studio,
    StudioApplication,
    StudioAssessment,
    StudioCall,
    StudioExpertScore,
    StudioFunding,
    StudioStanding,
)
from workflows.models.supervision import (
    FeedbackKind,
    SupervisionFeedback,
    SupervisionItem,
    SupervisionStatus,
    SupervisionUnit,
)
from workflows.models.tally import ClosedCaseTally, OpenTaskTally

__all__ = [
    "ACTION_LABELS",
    "DEPARTMENTS",
    "NOTIFICATION_LABELS",
    "QUOTA_HOLDING",
    "ActionKind",
    "AidBatch",
    "AidCityList",
    "AidImport",
    "AidPayment",
    "AidReview",
    "AidWorker",
    "ApiToken",
    "ApplicationStatus",
    "ApprovalStep",
    "AssessmentResult",
    "Attachment",
    "AuditEvent",
    "CaseAction",
    "CaseComment",
    "CaseCopy",
    "CaseLink",
    "ClosedCaseTally",
    "CommonPhrase",
    "Delegation",
    "Department",
    "Enterprise",
    "FeedbackKind",
    "HazardReport",
    "HonourNomination",
    "InstanceStatus",
    "Level",
    "MetricTally",
    "NoticeObjection",
    "Notification",
    "NotificationKind",
    "OpenTaskTally",
    "OrgUnit",
    "PaymentStatus",
    "Plan",
    "PlanItem",
    "PlanItemProcess",
    "PlanMeasure",
    "PlanResponsibility",
    "PlanTarget",
    "PlanUrge",
    "PolicyParameter",
    "ProcessInstance",
    "ProcessVersion",
    "PublicNotice",
    "QueueTally",
    "RateLimitEvent",
    "ReferenceRevision",
    "Reminder",
    "ReminderKind",
    "ResponsibilityRole",
    "Role",
    "Studio",
    "StudioApplication",
    "StudioAssessment",
    "StudioCall",
    "StudioExpertScore",
    "StudioFunding",
    "StudioStanding",
    "SupervisionFeedback",
    "SupervisionItem",
    "SupervisionStatus",
    "SupervisionUnit",
    "TaskIndexEntry",
    "TaskOpening",
    "TaskStatus",
    "TimerEntry",
    "UnitGroup",
    "UnitKind",
    "User",
    "WorkingDayOverride",
]
