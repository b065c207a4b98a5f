"""The organisation: federations and unions as a tree, their departments, users and enterprises."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from workflows.db import Base, utcnow


class UnitKind(StrEnum):
    PROVINCE = "province"  # 省总工会
    CITY = "city"  # 市总工会
    DISTRICT = "district"  # 区总工会
    COUNTY_CITY = "county_city"  # 县级市总工会
    COUNTY = "county"  # 县总工会
    PILOT_ZONE = "pilot_zone"  # 开放先导区总工会
    INDUSTRY = "industry"  # 产业工会
    GRASSROOTS = "grassroots"  # 基层工会


class Level(StrEnum):
    """The routing level a BPMN lane names (DESIGN §3)."""

    PROVINCE = "province"
    CITY = "city"
    DISTRICT = "district"  # any district-level union: district, county, county-level city, pilot zone, industry
    GRASSROOTS = "grassroots"


LEVEL_OF_KIND: dict[UnitKind, Level] = {
    UnitKind.PROVINCE: Level.PROVINCE,
    UnitKind.CITY: Level.CITY,
    UnitKind.DISTRICT: Level.DISTRICT,
    UnitKind.COUNTY_CITY: Level.DISTRICT,
    UnitKind.COUNTY: Level.DISTRICT,
    UnitKind.PILOT_ZONE: Level.DISTRICT,
    UnitKind.INDUSTRY: Level.DISTRICT,
    UnitKind.GRASSROOTS: Level.GRASSROOTS,
}


class Role(StrEnum):
    OFFICIAL = "official"
    HEAD = "head"
    ADMIN = "admin"
    # A system account that starts cases on behalf of people without accounts (the public hazard-report page).
    # It cannot sign in and holds no tasks.
    SERVICE = "service"


# The department codes are fixed by issue #2; scripts and lane maps depend on them.
DEPARTMENTS: dict[str, str] = {
    "office": "办公室",
    "finance": "财务部",
    "econ-labour": "经济技术和劳动保护部",
    "livelihood": "生活保障部",
    "publicity": "宣传教育部",
    "women": "女职工工作部",
    "organisation": "组织建设部",
}


class OrgUnit(Base):
    __tablename__ = "org_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    # Materialised path of ancestor ids ("/1/2/7/"), so subtree checks are one LIKE, never a recursive walk.
    path: Mapped[str] = mapped_column(String(255), index=True, default="/")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parent: Mapped[OrgUnit | None] = relationship(remote_side=[id])
    departments: Mapped[list[Department]] = relationship(back_populates="org_unit")

    @property
    def level(self) -> Level:
        return LEVEL_OF_KIND[UnitKind(self.kind)]

    @property
    def has_departments(self) -> bool:
        return bool(self.departments)

    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def is_within(self, other: OrgUnit) -> bool:
        """True when this unit is `other` or lies in its subtree."""
        return self.path.startswith(other.path)

    def __repr__(self) -> str:
        return f"<OrgUnit {self.code} {self.name}>"


class Department(Base):
    __tablename__ = "department"
    __table_args__ = (UniqueConstraint("org_unit_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))

    org_unit: Mapped[OrgUnit] = relationship(back_populates="departments")


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(16), default=Role.OFFICIAL.value)
    active: Mapped[bool] = mapped_column(default=True)
    # Where notifications are e-mailed when SMTP is configured (issue #8); never required.
    email: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Sign-in lockout (issue #3 §1): consecutive failures, and the time until which sign-in is refused.
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]

    org_unit: Mapped[OrgUnit] = relationship()
    department: Mapped[Department | None] = relationship()

    @property
    def department_code(self) -> str | None:
        return self.department.code if self.department else None

    def __repr__(self) -> str:
        return f"<User {self.username}>"


class Enterprise(Base):
    """A workplace that cases are about (the reported enterprise of a hazard, a studio's employer ...)."""

    __tablename__ = "enterprise"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    # The district-level union responsible for the enterprise (district, county, pilot zone or industry union).
    supervising_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    grassroots_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    address: Mapped[str] = mapped_column(String(255), default="")
    industry: Mapped[str] = mapped_column(String(64), default="")
    employee_count: Mapped[int | None]
    is_tech_enterprise: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    supervising_unit: Mapped[OrgUnit] = relationship(foreign_keys=[supervising_unit_id])
    grassroots_unit: Mapped[OrgUnit | None] = relationship(foreign_keys=[grassroots_unit_id])
