"""A few hazard-report cases at different steps, so a demo inbox is not empty. Fictional data."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.operations import complete_task, start_case

_REPORTER = {"name": "李大勇", "mobile": "13904111234", "anonymous": False, "employee_of_reported_unit": True}


def _intake(uscc: str, location: str, description: str) -> dict[str, Any]:
    return {
        "channel": "随手拍",
        "enterprise_uscc": uscc,
        "location": location,
        "category": "物的不安全状态",
        "description": description,
        "possible_consequence": "人员伤亡",
        "reporter": _REPORTER,
    }


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None, f"demo user {username} missing: run seed_demo first"
    return user


def _complete(session: Session, username: str, case: ProcessInstance, bpmn_id: str, data: dict[str, Any]) -> None:
    entry = session.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.bpmn_id == bpmn_id,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    assert entry is not None
    complete_task(session, _user(session, username), case.id, entry.task_id, data)


def seed_demo_cases(session: Session) -> int:
    """Start the demo cases unless any case exists already; returns how many were started."""
    if session.scalar(select(ProcessInstance.id).limit(1)) is not None:
        return 0
    reporter = _user(session, "haichang_gonghui")
    start_case(
        session,
        reporter,
        "hazard_report",
        _intake("91210211MA0Q3R5K70", "三号车间东侧配电箱", "配电箱门损坏，带电部位裸露，职工经过时有触电危险。"),
    )
    at_triage = start_case(
        session,
        _user(session, "ganjingzi1"),
        "hazard_report",
        _intake("91210211MA0Q3R5K70", "锅炉房压力表", "锅炉压力表超过检定有效期仍在使用。"),
    )
    _complete(
        session, "ganjingzi1", at_triage, "register_report", {"decision": "受理", "opinion": "材料齐全，同意受理。"}
    )
    at_verify = start_case(
        session,
        _user(session, "shahekou1"),
        "hazard_report",
        _intake("91210204MA0TEN001X", "二号库房消防通道", "消防通道堆放纸箱，安全出口被堵塞。"),
    )
    _complete(session, "shahekou1", at_verify, "register_report", {"decision": "受理", "opinion": "同意受理。"})
    _complete(
        session, "jingji1", at_verify, "triage", {"triage_level": "一般", "opinion": "一般隐患，请沙河口区总工会核查。"}
    )
    return 3
