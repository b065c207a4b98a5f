"""Innovation studios (劳模/职工创新工作室, seed 000 item 4; seed 004): the year's call, applications, the registry.

The workflow carries ids and routing values only; what an official reads (scores, quotas, the registry history)
lives here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ForeignKey, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow
from workflows.models.org import Enterprise, OrgUnit, User
from workflows.models.process import ProcessInstance


class ApplicationStatus(StrEnum):
    APPLIED = "申报中"
    RETURNED = "退回修改"
    NOT_RECOMMENDED = "区县不予推荐"
    NOT_PASSED = "审核未通过"
    PANEL_REJECTED = "专家评审未通过"
    NOT_APPROVED = "会议未通过"
    ON_NOTICE = "公示中"
    OBJECTION_UPHELD = "异议成立"
    NAMED = "已命名"
    FUNDED = "已拨付"
    AWARDED = "已授予"  # honours


# Statuses that hold one of the year's names: approved by the leadership meeting and not since struck out.
QUOTA_HOLDING = (
    ApplicationStatus.ON_NOTICE,
    ApplicationStatus.NAMED,
    ApplicationStatus.FUNDED,
    ApplicationStatus.AWARDED,
)


class StudioStanding(StrEnum):
    GOOD = "正常"
    YELLOW = "黄牌整改"
    REVOKED = "已摘牌"


class AssessmentResult(StrEnum):
    GOOD = "良好"
    YELLOW = "黄牌"
    RED = "红牌"


class StudioCall(Base):
    """A city's call for one naming year: quotas and funding fixed when it opens (from that year's parameters)."""

    __tablename__ = "studio_call"
    __table_args__ = (UniqueConstraint("city_unit_id", "year", name="uq_studio_call_city_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    city_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    year: Mapped[int]
    deadline: Mapped[date]
    model_worker_quota: Mapped[int]
    worker_quota: Mapped[int]
    model_worker_funding: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    worker_funding: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # Where the quotas came from: the policy parameter's source, or "开启人填写" when the year has none.
    quota_source: Mapped[str] = mapped_column(String(255))
    funding_source: Mapped[str] = mapped_column(String(255))
    note: Mapped[str] = mapped_column(Text, default="")
    opened_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)

    city_unit: Mapped[OrgUnit] = relationship()
    opened_by: Mapped[User] = relationship()

    def quota(self, studio_type: str) -> int:
        return self.model_worker_quota if studio_type == "劳模创新工作室" else self.worker_quota

    def funding(self, studio_type: str) -> Decimal:
        return self.model_worker_funding if studio_type == "劳模创新工作室" else self.worker_funding


class StudioApplication(Base):
    __tablename__ = "studio_application"

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), unique=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("studio_call.id"), index=True)
    studio_name: Mapped[str] = mapped_column(String(100))
    studio_type: Mapped[str] = mapped_column(String(16))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    # As declared when applying: the technology-enterprise share is reported per year (seed 004).
    tech_enterprise: Mapped[bool] = mapped_column(default=False)
    applicant_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    district_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    lead_name: Mapped[str] = mapped_column(String(40))
    lead_honour: Mapped[str] = mapped_column(String(40))
    lead_position: Mapped[str] = mapped_column(String(60))
    members: Mapped[str] = mapped_column(Text)
    running_since: Mapped[date]
    patents: Mapped[int] = mapped_column(default=0)
    economic_benefit: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=Decimal("0.00"))
    techniques: Mapped[int] = mapped_column(default=0)
    results_summary: Mapped[str] = mapped_column(Text)
    training_sessions: Mapped[int] = mapped_column(default=0)
    trained_workers: Mapped[int] = mapped_column(default=0)
    district_rank: Mapped[int | None]
    site_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 1))
    panel_round: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default=ApplicationStatus.APPLIED.value, index=True)
    decided_at: Mapped[datetime | None]

    instance: Mapped[ProcessInstance] = relationship()
    call: Mapped[StudioCall] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    applicant_unit: Mapped[OrgUnit] = relationship(foreign_keys=[applicant_unit_id])
    district_unit: Mapped[OrgUnit] = relationship(foreign_keys=[district_unit_id])


class StudioExpertScore(Base):
    """One expert's score and vote in one panel round (会签); a new round follows a return to the city's review."""

    __tablename__ = "studio_expert_score"
    __table_args__ = (UniqueConstraint("application_id", "panel_round", "expert_id", name="uq_studio_expert_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("studio_application.id"), index=True)
    panel_round: Mapped[int]
    expert_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    score: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    decision: Mapped[str] = mapped_column(String(8))
    opinion: Mapped[str] = mapped_column(Text)
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)

    expert: Mapped[User] = relationship()


class Studio(Base):
    """The studio registry (工作室名录): one row per named studio, its standing kept current, history alongside."""

    __tablename__ = "studio"

    id: Mapped[int] = mapped_column(primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("studio_application.id"), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    studio_type: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(index=True)
    city_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprise.id"))
    lead_name: Mapped[str] = mapped_column(String(40))
    document_number: Mapped[str] = mapped_column(String(64))
    named_on: Mapped[date]
    standing: Mapped[str] = mapped_column(String(8), default=StudioStanding.GOOD.value)
    revoked_on: Mapped[date | None]

    application: Mapped[StudioApplication] = relationship()
    enterprise: Mapped[Enterprise] = relationship()
    fundings: Mapped[list[StudioFunding]] = relationship(back_populates="studio", order_by="StudioFunding.id")
    assessments: Mapped[list[StudioAssessment]] = relationship(
        back_populates="studio", order_by="StudioAssessment.year"
    )


class StudioFunding(Base):
    __tablename__ = "studio_funding"
    __table_args__ = (UniqueConstraint("studio_id", "year", name="uq_studio_funding_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studio.id"))
    year: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The parameter (or call) the amount came from, so the ledger shows which year's rule paid it.
    rule_source: Mapped[str] = mapped_column(String(255))
    voucher_number: Mapped[str] = mapped_column(String(64))
    paid_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    studio: Mapped[Studio] = relationship(back_populates="fundings")
    recorded_by: Mapped[User] = relationship()


class StudioAssessment(Base):
    """The annual assessment (年度考核) of a named studio; a yellow card waits for its re-check (复查)."""

    __tablename__ = "studio_assessment"
    __table_args__ = (UniqueConstraint("studio_id", "year", name="uq_studio_assessment_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    studio_id: Mapped[int] = mapped_column(ForeignKey("studio.id"))
    year: Mapped[int]
    result: Mapped[str] = mapped_column(String(4))
    opinion: Mapped[str] = mapped_column(Text)
    rectification_deadline: Mapped[date | None]
    assessed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    assessed_at: Mapped[datetime] = mapped_column(default=utcnow)
    recheck_passed: Mapped[bool | None]
    recheck_opinion: Mapped[str | None] = mapped_column(Text)
    rechecked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    rechecked_at: Mapped[datetime | None]

    studio: Mapped[Studio] = relationship(back_populates="assessments")
    assessed_by: Mapped[User] = relationship(foreign_keys=[assessed_by_id])
    rechecked_by: Mapped[User | None] = relationship(foreign_keys=[rechecked_by_id])
