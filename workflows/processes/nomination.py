"""What studio naming and honour nominations share: the district's ranked recommendation (or return, or rejection),
the public notice (公示) and the verification of its objections, and the record's final status."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.models import ApplicationStatus, HonourNomination, ProcessInstance, StudioApplication, User
from workflows.processes import ProcessHooks
from workflows.studio import notice as notices
from workflows.studio.applicants import rank_problem

Nominated = StudioApplication | HonourNomination
RECOMMEND, RETURN, NOT_RECOMMENDED = "推荐", "退回修改", "不予推荐"


def decide(record: Nominated, status: ApplicationStatus) -> None:
    record.status = status.value
    record.decided_at = utcnow()


class NominationHooks(ProcessHooks):
    """Steps `district_recommend`, `notice` and `verify_objection`, the same in both diagrams."""

    def rank_scope(self, record: Nominated) -> tuple[Any, list[ColumnElement[bool]]]:
        """The rank column and the live recommendations of the same district and round that share the ranking."""
        raise NotImplementedError

    def shared_check(
        self, session: Session, instance: ProcessInstance, record: Nominated, bpmn_id: str, data: dict[str, Any]
    ) -> dict[str, str]:
        if bpmn_id == "district_recommend" and data["decision"] == RECOMMEND:
            column, conditions = self.rank_scope(record)
            problem = rank_problem(session, column, conditions, data.get("rank"))
            return {"rank": problem} if problem else {}
        if bpmn_id == "notice":
            problem = notices.closing_problem(notices.notice_of(session, instance), beijing_today())
            return {"opinion": problem} if problem else {}
        return {}

    def shared_step(
        self,
        session: Session,
        instance: ProcessInstance,
        record: Nominated,
        bpmn_id: str,
        data: dict[str, Any],
        user: User,
    ) -> dict[str, Any]:
        if bpmn_id == "district_recommend":
            decision = data["decision"]
            record.district_rank = data.get("rank") if decision == RECOMMEND else None
            if decision == RETURN:
                record.status = ApplicationStatus.RETURNED.value
            elif decision == NOT_RECOMMENDED:
                decide(record, ApplicationStatus.NOT_RECOMMENDED)
        elif bpmn_id == "notice":
            return {"objection_count": notices.close_notice(session, notices.case_notice(session, instance))}
        elif bpmn_id == "verify_objection":
            notice = notices.case_notice(session, instance)
            notices.record_verification(session, notice, user, data["conclusion"], data["finding"])
            if data["conclusion"] == notices.UPHELD:
                decide(record, ApplicationStatus.OBJECTION_UPHELD)
        session.flush()
        return {}

    @staticmethod
    def put_on_notice(session: Session, instance: ProcessInstance, record: Nominated) -> dict[str, str]:
        """The approved record holds its quota place while the notice runs; returns the notice's case data."""
        record.status = ApplicationStatus.ON_NOTICE.value
        return notices.notice_case_data(session, notices.publish_notice(session, instance, beijing_today()))
