"""Who may do what with a task (issue #2 §4): `task_actions`, `can_start`, and the operations that enforce them.

The table runs `task_actions` over real task-index rows of a hazard case in the seeded demo world: the first
task `register_report` sits at 甘井子区总工会 (no departments), `triage` at 大连市总工会 econ-labour.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session

from tests.workflow_helpers import complete, open_task, start_report, user
from workflows.errors import NotFound, PermissionDenied, TaskAlreadyHandled
from workflows.models import ProcessInstance, TaskIndexEntry, TaskStatus, User
from workflows.operations import claim_task, complete_task, release_task
from workflows.organisation import UserAdminError, create_user
from workflows.queries import department_queue, my_tasks
from workflows.routing import Action, can_start, load_routing, task_actions

OPINION = {"opinion": "经研究，同意。"}
REGISTER = {"decision": "受理", **OPINION}
TRIAGE = {"triage_level": "一般", **OPINION}
PASSWORD = "test-password-1"

# Users the demo data lacks, created on demand: (unit code, department code, role).
EXTRA_USERS: dict[str, tuple[str, str | None, str]] = {
    "shenyang1": ("210100", None, "official"),  # another city (placeholder cities have no departments)
    "shengzong_jingji_head": ("210000", "econ-labour", "head"),  # province head of the owning department
}
INACTIVE_SUFFIX = "(停用)"


def actor(session: Session, name: str) -> User:
    """A demo user by name; `EXTRA_USERS` are created, and `name(停用)` is that demo user deactivated."""
    if name.endswith(INACTIVE_SUFFIX):
        found = user(session, name.removesuffix(INACTIVE_SUFFIX))
        found.active = False
        session.flush()
        return found
    if name in EXTRA_USERS:
        unit, department, role = EXTRA_USERS[name]
        return create_user(session, name, PASSWORD, unit, department, role)
    return user(session, name)


def register_task(session: Session) -> tuple[ProcessInstance, TaskIndexEntry]:
    case = start_report(session)
    return case, open_task(session, case, "register_report")


def register_done(session: Session) -> tuple[ProcessInstance, TaskIndexEntry]:
    case, entry = register_task(session)
    complete(session, "ganjingzi1", case, "register_report", REGISTER)
    assert entry.status == TaskStatus.COMPLETED and entry.completed_by_id == user(session, "ganjingzi1").id
    return case, entry


def triage_task(session: Session) -> tuple[ProcessInstance, TaskIndexEntry]:
    case = start_report(session)
    complete(session, "ganjingzi1", case, "register_report", REGISTER)
    return case, open_task(session, case, "triage")


def triage_claimed(session: Session) -> tuple[ProcessInstance, TaskIndexEntry]:
    case, entry = triage_task(session)
    claim_task(session, user(session, "jingji1"), case.id, entry.task_id)
    assert entry.claimed_by_id == user(session, "jingji1").id
    return case, entry


STAGES: dict[str, Callable[[Session], tuple[ProcessInstance, TaskIndexEntry]]] = {
    "register": register_task,
    "register_done": register_done,
    "triage": triage_task,
    "triage_claimed": triage_claimed,
}

ALL_WORK = "view claim complete transfer return add_signer"
NOTHING = ""

# (stage, user, expected actions, id)
TABLE: list[tuple[str, str, str, str]] = [
    # The district task, unclaimed, at 甘井子区总工会 (a unit without departments).
    ("register", "ganjingzi1", ALL_WORK, "district official of the case's district"),
    ("register", "ganjingzi2", ALL_WORK, "second official of the same district"),
    ("register", "ganjingzi_head", ALL_WORK, "district head on an unclaimed task acts like an official"),
    ("register", "zhongshan1", NOTHING, "official of another district"),
    ("register", "haichang_gonghui", NOTHING, "grassroots union below the district"),
    ("register", "jingji_head", "view", "city head of the owning department sees the district task"),
    ("register", "jingji1", NOTHING, "city official of the owning department does not see district tasks"),
    ("register", "baozhang_head", NOTHING, "city head of another department (livelihood)"),
    ("register", "caiwu_head", NOTHING, "city head of finance"),
    ("register", "shengzong_jingji_head", "view", "province head of the owning department"),
    ("register", "shengzong_jingji1", "view", "province official of the owning department sees its whole tree"),
    ("register", "shengzong_baozhang_head", NOTHING, "province head of another department"),
    ("register", "admin", "view", "admin of the city sees its subtree, never acts"),
    ("register", "ganjingzi1" + INACTIVE_SUFFIX, NOTHING, "deactivated district official"),
    # The same task once ganjingzi1 completed it.
    ("register_done", "ganjingzi1", "view", "completed task: the official who completed it may only view"),
    ("register_done", "ganjingzi2", "view", "completed task: colleague may only view"),
    ("register_done", "ganjingzi_head", "view", "completed task: head may only view"),
    ("register_done", "jingji_head", "view", "completed task: city head of the owning department views"),
    ("register_done", "zhongshan1", NOTHING, "completed task of another district"),
    # The city task, unclaimed, at 大连市总工会 econ-labour.
    ("triage", "jingji1", ALL_WORK, "city official of the lane's department"),
    ("triage", "jingji2", ALL_WORK, "second official of the lane's department"),
    ("triage", "jingji_head", ALL_WORK, "head on an unclaimed task acts like an official"),
    ("triage", "caiwu1", NOTHING, "city official of another department (finance)"),
    ("triage", "caiwu_head", NOTHING, "city head of another department (finance)"),
    ("triage", "baozhang_head", NOTHING, "city head of livelihood"),
    ("triage", "shengzong_jingji1", "view", "province official of the same department sees the city task"),
    ("triage", "shengzong_jingji_head", "view", "province head of the same department sees the city task"),
    ("triage", "shenyang1", NOTHING, "official of another city"),
    ("triage", "ganjingzi1", NOTHING, "district official on a city task"),
    ("triage", "ganjingzi_head", NOTHING, "district head on a city task above them"),
    ("triage", "admin", "view", "admin sees the city task, never claims it"),
    ("triage", "jingji1" + INACTIVE_SUFFIX, NOTHING, "deactivated city official"),
    # The city task claimed by jingji1.
    ("triage_claimed", "jingji1", "view release complete transfer return add_signer", "claimant"),
    ("triage_claimed", "jingji2", "view", "colleague of the claimant may only view"),
    ("triage_claimed", "jingji_head", "view release", "head may release a colleague's claim"),
    ("triage_claimed", "caiwu1", NOTHING, "other department, claimed"),
    ("triage_claimed", "admin", "view", "admin on a claimed task"),
    ("triage_claimed", "jingji1" + INACTIVE_SUFFIX, NOTHING, "deactivated claimant"),
]


@pytest.mark.parametrize(("stage", "username", "expected"), [row[:3] for row in TABLE], ids=[row[3] for row in TABLE])
def test_task_actions(world: Session, stage: str, username: str, expected: str) -> None:
    _case, entry = STAGES[stage](world)
    who = actor(world, username)
    assert task_actions(who, entry, load_routing()) == frozenset(Action(name) for name in expected.split())


def test_task_lands_where_the_table_assumes(world: Session) -> None:
    """The table's premise: register at 甘井子区总工会 without department, triage at the city's econ-labour."""
    case, register = register_task(world)
    assert (register.org_unit.code, register.department_code, register.claimed_by_id) == ("210211", None, None)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    triage = open_task(world, case, "triage")
    assert (triage.org_unit.code, triage.department_code, triage.claimed_by_id) == ("210200", "econ-labour", None)


def test_other_cities_have_no_departments(world: Session) -> None:
    """Why the table uses the province for 'same department elsewhere': a department user elsewhere is impossible."""
    with pytest.raises(UserAdminError, match="该单位没有此部门"):
        create_user(world, "shenyang_jingji1", PASSWORD, "210100", "econ-labour")


START_TABLE: list[tuple[str, bool, str]] = [
    ("haichang_gonghui", True, "grassroots union official"),
    ("ganjingzi1", True, "district official"),
    ("ganjingzi_head", True, "district head"),
    ("jingji1", True, "city official"),
    ("caiwu1", True, "city official of another department"),
    ("shenyang1", True, "official of another city (a city level)"),
    ("admin", False, "admin"),
    ("shengzong_jingji1", False, "province official (not in start_levels)"),
    ("shengzong_baozhang_head", False, "province head"),
    ("ganjingzi1" + INACTIVE_SUFFIX, False, "deactivated official"),
]


@pytest.mark.parametrize(("username", "allowed"), [r[:2] for r in START_TABLE], ids=[r[2] for r in START_TABLE])
def test_can_start_hazard_report(world: Session, username: str, allowed: bool) -> None:
    assert can_start(actor(world, username), load_routing().process("hazard_report")) is allowed


def test_start_levels_come_from_routing_json() -> None:
    assert {level.value for level in load_routing().process("hazard_report").start_levels} == {
        "grassroots",
        "district",
        "city",
    }


@pytest.mark.parametrize("username", ["admin", "shengzong_jingji1"])
def test_start_case_refuses_who_may_not_start(world: Session, username: str) -> None:
    with pytest.raises(PermissionDenied):
        start_report(world, username)


def test_start_case_by_grassroots_official(world: Session) -> None:
    case = start_report(world, "haichang_gonghui")
    assert case.started_by_id == user(world, "haichang_gonghui").id
    assert open_task(world, case, "register_report").org_unit.code == "210211"


# --- the operations enforce the same decisions ------------------------------------------------------------------


def test_task_of_another_district_looks_like_it_does_not_exist(world: Session) -> None:
    case, entry = register_task(world)
    zhongshan1 = user(world, "zhongshan1")
    with pytest.raises(NotFound) as missing:
        claim_task(world, zhongshan1, case.id, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(NotFound) as hidden:
        claim_task(world, zhongshan1, case.id, entry.task_id)
    assert str(hidden.value) == str(missing.value)
    with pytest.raises(NotFound):
        complete_task(world, zhongshan1, case.id, entry.task_id, REGISTER)
    with pytest.raises(NotFound):
        release_task(world, zhongshan1, case.id, entry.task_id)
    assert (entry.status, entry.claimed_by_id) == (TaskStatus.READY, None)


def test_other_department_cannot_claim_or_complete(world: Session) -> None:
    case, entry = triage_task(world)
    caiwu1 = user(world, "caiwu1")
    with pytest.raises(NotFound):
        claim_task(world, caiwu1, case.id, entry.task_id)
    with pytest.raises(NotFound):
        complete_task(world, caiwu1, case.id, entry.task_id, TRIAGE)
    assert (entry.status, entry.claimed_by_id) == (TaskStatus.READY, None)


@pytest.mark.parametrize("stage", ["register", "triage"])
def test_admin_sees_but_is_denied(world: Session, stage: str) -> None:
    case, entry = STAGES[stage](world)
    admin = user(world, "admin")
    with pytest.raises(PermissionDenied):
        claim_task(world, admin, case.id, entry.task_id)
    data = REGISTER if stage == "register" else TRIAGE
    with pytest.raises(PermissionDenied):
        complete_task(world, admin, case.id, entry.task_id, data)
    assert (entry.status, entry.claimed_by_id, entry.completed_by_id) == (TaskStatus.READY, None, None)


def test_inactive_user_is_told_the_task_does_not_exist(world: Session) -> None:
    case, entry = triage_task(world)
    with pytest.raises(NotFound):
        claim_task(world, actor(world, "jingji1" + INACTIVE_SUFFIX), case.id, entry.task_id)


def test_colleague_cannot_complete_or_claim_a_claimed_task(world: Session) -> None:
    case, entry = triage_claimed(world)
    jingji2 = user(world, "jingji2")
    with pytest.raises(PermissionDenied):
        complete_task(world, jingji2, case.id, entry.task_id, TRIAGE)
    with pytest.raises(PermissionDenied):
        claim_task(world, jingji2, case.id, entry.task_id)
    with pytest.raises(PermissionDenied):
        release_task(world, jingji2, case.id, entry.task_id)
    assert (entry.status, entry.claimed_by_id) == (TaskStatus.READY, user(world, "jingji1").id)


def test_head_cannot_complete_a_colleagues_claimed_task(world: Session) -> None:
    case, entry = triage_claimed(world)
    with pytest.raises(PermissionDenied):
        complete_task(world, user(world, "jingji_head"), case.id, entry.task_id, TRIAGE)
    assert entry.status == TaskStatus.READY


def test_head_releases_a_claim_back_into_the_department_queue(world: Session) -> None:
    case, entry = triage_claimed(world)
    jingji1, jingji2, head = (user(world, name) for name in ("jingji1", "jingji2", "jingji_head"))
    assert entry not in department_queue(world, jingji2)
    assert entry in my_tasks(world, jingji1)

    release_task(world, head, case.id, entry.task_id)

    assert entry.claimed_by_id is None and entry.status == TaskStatus.READY
    assert entry in department_queue(world, jingji2)
    assert entry not in my_tasks(world, jingji1)
    # Back in the queue, anyone of the department may take it.
    assert task_actions(jingji2, entry, load_routing()) == {
        Action.VIEW,
        Action.CLAIM,
        Action.COMPLETE,
        Action.TRANSFER,
        Action.RETURN,
        Action.ADD_SIGNER,
    }
    claim_task(world, jingji2, case.id, entry.task_id)
    assert entry.claimed_by_id == jingji2.id
    complete_task(world, jingji2, case.id, entry.task_id, TRIAGE)
    assert entry.status == TaskStatus.COMPLETED and entry.completed_by_id == jingji2.id


def test_claimant_completes_and_the_task_is_then_handled(world: Session) -> None:
    case, entry = triage_claimed(world)
    jingji1 = user(world, "jingji1")
    complete_task(world, jingji1, case.id, entry.task_id, TRIAGE)
    assert entry.status == TaskStatus.COMPLETED and entry.completed_by_id == jingji1.id
    with pytest.raises(TaskAlreadyHandled):
        complete_task(world, jingji1, case.id, entry.task_id, TRIAGE)
    # Someone who may not even see it is still told it does not exist, not that it was handled.
    with pytest.raises(NotFound):
        complete_task(world, user(world, "caiwu1"), case.id, entry.task_id, TRIAGE)
