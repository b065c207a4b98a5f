"""Helpers for driving cases through the workflow layer in tests, as the web layer will."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.operations import Completion, complete_task, start_case

ENTERPRISE_USCC = "91210211MA0Q3R5K70"  # a demo enterprise supervised by 甘井子区总工会


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None, username
    return found


def intake(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "channel": "随手拍",
        "enterprise_uscc": ENTERPRISE_USCC,
        "location": "三号车间东侧配电箱",
        "category": "物的不安全状态",
        "description": "配电箱门损坏，带电部位裸露，职工经过时有触电危险。",
        "possible_consequence": "触电伤亡",
        "reporter": {
            "name": "李大勇",
            "mobile": "13904111234",
            "resident_id": "210211196803150130",
            "anonymous": "false",
            "employee_of_reported_unit": "true",
        },
    }
    data.update(overrides)
    return data


def open_task(session: Session, case: ProcessInstance, bpmn_id: str) -> TaskIndexEntry:
    entry = session.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.bpmn_id == bpmn_id,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    assert entry is not None, f"no open task {bpmn_id}; open: {open_steps(session, case)}"
    return entry


def open_steps(session: Session, case: ProcessInstance) -> list[str]:
    return sorted(
        session.scalars(
            select(TaskIndexEntry.bpmn_id).where(
                TaskIndexEntry.instance_id == case.id, TaskIndexEntry.status == TaskStatus.READY.value
            )
        )
    )


def complete(session: Session, username: str, case: ProcessInstance, bpmn_id: str, data: dict[str, Any]) -> Completion:
    entry = open_task(session, case, bpmn_id)
    return complete_task(session, user(session, username), case.id, entry.task_id, data)


def start_report(session: Session, username: str = "ganjingzi1", **overrides: Any) -> ProcessInstance:
    return start_case(session, user(session, username), "hazard_report", intake(**overrides))


STEP_OPINION = "经研究，同意。"
# A general hazard's steps from registration to the reward decision, as (step, who does it, form data): the path
# the API-driven tests walk.
HAZARD_STEPS_TO_REWARD: list[tuple[str, str, dict[str, Any]]] = [
    ("register_report", "ganjingzi1", {"decision": "受理", "opinion": STEP_OPINION}),
    ("triage", "jingji1", {"triage_level": "一般", "opinion": STEP_OPINION}),
    (
        "verify",
        "ganjingzi1",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": "属实",
            "hazard_level": "一般",
            "reporter_responsible": False,
            "evidence": "现场查看，防护罩确已拆除。",
            "opinion": STEP_OPINION,
        },
    ),
    (
        "rectify_notice",
        "ganjingzi1",
        {
            "rectification_mode": "限期整改",
            "notice_number": "甘工整改〔2026〕9号",
            "rectification_deadline": "2099-12-31",
            "requirements": "恢复防护罩并加装联锁。",
            "responsible_person": "设备科刘科长",
        },
    ),
    ("enterprise_reply", "ganjingzi1", {"reply_date": "2026-11-28", "measures": "已恢复防护罩并加装联锁。"}),
    (
        "reinspect",
        "ganjingzi2",
        {
            "reinspection_date": "2026-12-01",
            "reinspection_result": "整改合格",
            "findings": "复查确认已整改。",
            "opinion": STEP_OPINION,
        },
    ),
    ("reward_decision", "jingji1", {"decision": "同意", "reward_amount": "300", "opinion": STEP_OPINION}),
]


def seed_demo_world(session: Session) -> None:
    """A migrated database's demo world: policy parameters, the organisation and plans, every diagram deployed, and
    the demo cases (the migration tests fill tallies from these)."""
    from workflows.demo import seed_demo
    from workflows.demo_cases import seed_demo_cases
    from workflows.engine.deployment import deploy_paths
    from workflows.policy.parameters import seed_policy_parameters
    from workflows.routing import BPMN_DIR, load_routing

    seed_policy_parameters(session)
    seed_demo(session)
    deploy_paths(session, [BPMN_DIR], load_routing())
    assert seed_demo_cases(session) > 0
