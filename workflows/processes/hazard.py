"""Domain rules of the hazard-report process (安全隐患随手拍, seed 000 item 13; domain research §2.b)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.models import (
    CaseLink,
    Enterprise,
    HazardReport,
    InstanceStatus,
    Level,
    OrgUnit,
    ProcessInstance,
    User,
)
from workflows.policy.hazard import hazard_reward_tiers
from workflows.processes import ProcessHooks, StartPlan
from workflows.routing import ProcessInfo

_NOT_KEY_CHARS = re.compile(r"[\s\W_]+", re.UNICODE)


def location_key(location: str) -> str:
    """Normalise a location for duplicate detection: full-width to half-width, no spacing or punctuation."""
    return _NOT_KEY_CHARS.sub("", unicodedata.normalize("NFKC", location)).lower()


def open_reports_at(
    session: Session,
    enterprise_id: int,
    location: str,
    *,
    exclude_instance_id: int | None = None,
    registered_only: bool = False,
) -> list[ProcessInstance]:
    """Open, non-duplicate hazard cases about the same enterprise and location, first registered first.

    Only the first valid reporter by registration time is rewarded (seed 000 item 13; domain §2.b, R6/R16).
    """
    query = (
        select(ProcessInstance)
        .join(HazardReport, HazardReport.instance_id == ProcessInstance.id)
        .where(
            HazardReport.enterprise_id == enterprise_id,
            HazardReport.location_key == location_key(location),
            HazardReport.duplicate_of_id.is_(None),
            ProcessInstance.status == InstanceStatus.RUNNING.value,
        )
        .order_by(HazardReport.registered_at.is_(None), HazardReport.registered_at, ProcessInstance.id)
    )
    if exclude_instance_id is not None:
        query = query.where(ProcessInstance.id != exclude_instance_id)
    if registered_only:
        query = query.where(HazardReport.registered_at.is_not(None))
    return list(session.scalars(query))


def _enterprise_for_intake(session: Session, data: dict[str, Any]) -> Enterprise:
    uscc = data["enterprise_uscc"].upper()
    enterprise = session.scalar(select(Enterprise).where(Enterprise.uscc == uscc))
    if enterprise is not None:
        return enterprise
    # An enterprise not yet on file is registered with the district-level union the reporter names.
    errors = {}
    if not data.get("enterprise_name"):
        errors["enterprise_name"] = "被报告企业名称：企业尚未登记，请填写企业名称"
    code = data.get("enterprise_district_code")
    unit = session.scalar(select(OrgUnit).where(OrgUnit.code == code)) if code else None
    if unit is None or unit.level != Level.DISTRICT:
        errors["enterprise_district_code"] = (
            "企业所属区市县（先导区、产业）工会代码：企业尚未登记，请填写有效的区级工会代码"
        )
    if errors:
        raise FormValidationError(errors)
    assert unit is not None
    enterprise = Enterprise(name=data["enterprise_name"], uscc=uscc, supervising_unit_id=unit.id)
    session.add(enterprise)
    session.flush()
    return enterprise


class HazardReportHooks(ProcessHooks):
    def prepare_start(self, session: Session, user: User, info: ProcessInfo, data: dict[str, Any]) -> StartPlan:
        enterprise = _enterprise_for_intake(session, data)
        home_unit = enterprise.grassroots_unit or enterprise.supervising_unit
        earlier = open_reports_at(session, enterprise.id, data["location"])
        # The reporter's identity stays in the hazard record; case data only says whether a reward can be claimed
        # (confidentiality of reporters, domain §2.b B9).
        initial = {key: value for key, value in data.items() if key != "reporter"}
        initial.update(
            reporter_anonymous=bool(data["reporter"].get("anonymous", False)),
            enterprise_id=enterprise.id,
            enterprise_name=enterprise.name,
            duplicate_candidates=[case.case_number for case in earlier],
            # The reward tiers in force when the report is received apply to it.
            reward_tiers={key: str(value) for key, value in hazard_reward_tiers(session, beijing_today()).items()},
        )
        title = f"{enterprise.name}·{data['location']}"[:255]
        return StartPlan(home_unit=home_unit, title=title, enterprise=enterprise, initial_data=initial)

    def after_start(self, session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
        reporter = data.get("reporter", {})
        assert instance.enterprise_id is not None
        session.add(
            HazardReport(
                instance_id=instance.id,
                home_unit_id=instance.home_unit_id,
                enterprise_id=instance.enterprise_id,
                channel=data["channel"],
                location=data["location"],
                location_key=location_key(data["location"]),
                category=data["category"],
                description=data["description"],
                reporter_name=reporter.get("name"),
                reporter_mobile=reporter["mobile"],
                reporter_resident_id=reporter.get("resident_id"),
                anonymous=bool(reporter.get("anonymous", False)),
                employee_of_reported_unit=bool(reporter.get("employee_of_reported_unit", False)),
            )
        )

    def check_step(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
    ) -> dict[str, str]:
        if bpmn_id == "register_report":
            report = self._report(session, instance)
            earlier = open_reports_at(
                session, report.enterprise_id, report.location, exclude_instance_id=instance.id, registered_only=True
            )
            if data.get("decision") == "重复报告":
                first = session.scalar(
                    select(ProcessInstance).where(ProcessInstance.case_number == data["duplicate_of"])
                )
                if first is None or first not in earlier:
                    return {"duplicate_of": "重复于案件编号：不是同一企业、同一地点已登记受理的在办报告"}
            elif earlier and not data.get("not_duplicate_reason"):
                numbers = "、".join(case.case_number or "" for case in earlier)
                return {
                    "not_duplicate_reason": f"不属于重复报告的理由：同一企业同一地点已有登记在办的报告 {numbers}，"
                    "请说明理由或选择“重复报告”"
                }
        if bpmn_id == "rectify_notice" and date.fromisoformat(data["rectification_deadline"]) < beijing_today():
            return {"rectification_deadline": "整改期限：不能早于今天"}
        if bpmn_id == "reward_decision" and data.get("decision") == "同意":
            ceiling = Decimal(str(case_data.get("reward_max", "0")))
            if data["reward_amount"] > ceiling:
                return {"reward_amount": f"奖励金额（元）：不能超过本档上限 {ceiling} 元"}
        if bpmn_id == "reward_payment":
            approved = Decimal(str(case_data.get("reward_amount", "0")))
            if data["paid_amount"] != approved:
                return {"paid_amount": f"发放金额（元）：应与审批金额 {approved} 元一致"}
        return {}

    def after_step(
        self, session: Session, instance: ProcessInstance, bpmn_id: str, data: dict[str, Any], user: User
    ) -> None:
        if bpmn_id not in _RECORDED_STEPS:
            return  # triage, rectification, feedback…: nothing of theirs goes to the report row (no read of it)
        report = self._report(session, instance)
        if bpmn_id == "register_report":
            report.registered_at = utcnow()
            if data["decision"] == "重复报告":
                first = session.scalar(
                    select(ProcessInstance).where(ProcessInstance.case_number == data["duplicate_of"])
                )
                assert first is not None
                report.duplicate_of_id = first.id
                session.add(CaseLink(instance_id=instance.id, linked_instance_id=first.id, kind="duplicate_of"))
        elif bpmn_id == "verify":
            report.verification_result = data["verification_result"]
            report.hazard_level = data["hazard_level"]
        elif bpmn_id == "notify_regulator":
            report.regulator_notified_on = date.fromisoformat(data["notified_on"])
            report.regulator_document_number = data["document_number"]
        elif bpmn_id == "reward_decision" and data["decision"] == "同意":
            report.reward_amount = data["reward_amount"]
        elif bpmn_id == "reward_payment":
            report.reward_paid_on = date.fromisoformat(data["paid_date"])
            report.reward_payee_name = data["payee_name"]
            report.reward_bank_name = data["bank_name"]
            report.reward_card_number = data["card_number"]

    def reopen_step(self, session: Session, instance: ProcessInstance, bpmn_id: str) -> None:
        report = self._report(session, instance)
        if bpmn_id == "register_report":
            report.registered_at = None
            if report.duplicate_of_id is not None:
                link = session.scalar(
                    select(CaseLink).where(CaseLink.instance_id == instance.id, CaseLink.kind == "duplicate_of")
                )
                if link is not None:
                    session.delete(link)
                report.duplicate_of_id = None
        elif bpmn_id == "verify":
            report.verification_result = None
            report.hazard_level = None
        elif bpmn_id == "notify_regulator":
            report.regulator_notified_on = None
            report.regulator_document_number = None
        elif bpmn_id == "reward_decision":
            report.reward_amount = None
        elif bpmn_id == "reward_payment":
            report.reward_paid_on = None
            report.reward_payee_name = None
            report.reward_bank_name = None
            report.reward_card_number = None
        session.flush()

    @staticmethod
    def _report(session: Session, instance: ProcessInstance) -> HazardReport:
        """The case's report: read once per transaction (a step checks and then records it), then from memory."""
        loaded: dict[int, HazardReport] = session.info.setdefault(_REPORTS, {})
        report = loaded.get(instance.id)
        if report is None or report not in session:
            report = session.scalar(_REPORT, {"instance_id": instance.id})
            assert report is not None, f"case {instance.case_number} has no hazard record"
            loaded[instance.id] = report
        return report


_REPORTS = "hazard_reports"
# The steps whose answers after_step writes to the case's hazard_report row.
_RECORDED_STEPS = frozenset({"register_report", "verify", "notify_regulator", "reward_decision", "reward_payment"})
_REPORT = select(HazardReport).where(HazardReport.instance_id == bindparam("instance_id"))  # built once: every step
