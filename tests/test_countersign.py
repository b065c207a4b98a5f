"""会签 / 或签 / 比例 / 一票否决 as a multi-instance user task with a completion condition (issue #4)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.workflow_helpers import user
from workflows.engine.deployment import deploy_file
from workflows.engine.runtime import load_workflow
from workflows.models import ApprovalStep, InstanceStatus, Level, ProcessInstance, TaskIndexEntry, TaskStatus
from workflows.operations import complete_task, start_case
from workflows.policy.countersign import SignRule, countersign_outcome
from workflows.queries import my_tasks_query
from workflows.routing import ProcessInfo, RoutingTable, load_routing

DIAGRAM = Path(__file__).parent / "bpmn" / "countersign_review.bpmn"
SIGNERS = ("jingji1", "caiwu1", "baozhang1")


@pytest.fixture
def routing() -> RoutingTable:
    base = load_routing()
    info = ProcessInfo("countersign_review", "会签测试", "HQ", frozenset({Level.CITY}), "office", "test")
    return replace(base, processes={**base.processes, "countersign_review": info})


def start(world: Session, routing: RoutingTable, rule: str, veto: bool = False) -> ProcessInstance:
    deploy_file(world, DIAGRAM, routing)
    signers = [user(world, name).id for name in SIGNERS]
    return start_case(
        world,
        user(world, "bangong1"),
        "countersign_review",
        {"signers": signers, "rule": rule, "veto": veto},
        routing=routing,
    )


def sign(world: Session, routing: RoutingTable, case: ProcessInstance, name: str, decision: str) -> None:
    signer = user(world, name)
    entry = world.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.assigned_to_id == signer.id,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    assert entry is not None, f"{name} has no open signature"
    complete_task(
        world, signer, case.id, entry.task_id, {"decision": decision, "opinion": f"{decision}。"}, routing=routing
    )


def open_signers(world: Session, case: ProcessInstance) -> list[int]:
    entries = world.scalars(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.bpmn_id == "countersign",
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    return sorted(entry.assigned_to_id for entry in entries if entry.assigned_to_id is not None)


def outcome(case: ProcessInstance) -> bool | None:
    workflow = load_workflow(case)
    archive = [t for t in workflow.get_tasks() if t.task_spec.bpmn_id == "archive"]
    if not archive:
        return None
    passed: bool = archive[0].data["passed"]
    return passed


def test_each_signer_gets_their_own_task_in_their_inbox(world: Session, routing: RoutingTable) -> None:
    case = start(world, routing, "all")
    ids = sorted(user(world, name).id for name in SIGNERS)
    assert open_signers(world, case) == ids
    mine = world.scalars(my_tasks_query(user(world, "caiwu1"))).all()
    assert any(entry.instance_id == case.id for entry in mine)


def test_countersign_all_waits_for_everyone_and_records_each_opinion(world: Session, routing: RoutingTable) -> None:
    case = start(world, routing, "all")
    sign(world, routing, case, "jingji1", "同意")
    sign(world, routing, case, "caiwu1", "同意")
    assert len(open_signers(world, case)) == 1
    sign(world, routing, case, "baozhang1", "同意")
    assert open_signers(world, case) == [] and outcome(case) is True
    opinions = world.scalars(
        select(ApprovalStep.actor_name).where(
            ApprovalStep.instance_id == case.id, ApprovalStep.bpmn_id == "countersign"
        )
    ).all()
    assert sorted(opinions) == sorted(["王建国", "刘丽娟", "杨秀英"])


def test_or_sign_completes_on_the_first_agreement(world: Session, routing: RoutingTable) -> None:
    case = start(world, routing, "any")
    sign(world, routing, case, "caiwu1", "不同意")
    assert len(open_signers(world, case)) == 2
    sign(world, routing, case, "jingji1", "同意")
    assert open_signers(world, case) == [] and outcome(case) is True
    assert case.status == InstanceStatus.RUNNING


def test_one_veto_rejects_the_step_at_once(world: Session, routing: RoutingTable) -> None:
    case = start(world, routing, "all", veto=True)
    sign(world, routing, case, "jingji1", "不同意")
    assert open_signers(world, case) == [] and outcome(case) is False


def test_ratio_passes_once_reached(world: Session, routing: RoutingTable) -> None:
    case = start(world, routing, "ratio:2/3")
    sign(world, routing, case, "jingji1", "同意")
    assert len(open_signers(world, case)) == 2
    sign(world, routing, case, "baozhang1", "同意")
    assert open_signers(world, case) == [] and outcome(case) is True


@pytest.mark.parametrize(
    ("decisions", "total", "rule", "veto", "expected"),
    [
        (["同意", "同意"], 3, "all", False, None),
        (["同意", "同意", "同意"], 3, "all", False, True),
        (["同意", "不同意"], 3, "all", False, None),
        (["同意", "不同意", "同意"], 3, "all", False, False),
        (["不同意"], 3, "all", True, False),
        (["不同意", "不同意"], 3, "any", False, None),
        (["不同意", "不同意", "不同意"], 3, "any", False, False),
        (["同意"], 3, "any", False, True),
        (["同意", "同意"], 3, "ratio:2/3", False, True),
        (["不同意", "不同意"], 3, "ratio:2/3", False, False),
        (["同意", "不同意"], 3, "ratio:2/3", False, None),
        (["同意", "同意", "不同意"], 4, "ratio:0.5", True, False),
    ],
)
def test_countersign_outcome_table(
    decisions: list[str], total: int, rule: str, veto: bool, expected: bool | None
) -> None:
    assert countersign_outcome(decisions, total, rule, veto) is expected


@pytest.mark.parametrize("text", ["most", "ratio:0", "ratio:3/2"])
def test_unknown_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        SignRule.parse(text)
