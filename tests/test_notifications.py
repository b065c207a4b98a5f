"""The notification centre (issue #8 §Notifications): each event tells the right people through the existing
operations (a task's holder, or its whole queue while unclaimed; never the person who acted), and the centre's
page, unread badge and marking read."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import test_countersign
from tests.conftest import AuthActions
from tests.test_hazard_process import verify
from tests.test_timers import case_waiting_for_reply
from tests.workflow_helpers import complete, open_task, start_report, user
from workflows import timers
from workflows.copies import copy_case, mark_copy_read
from workflows.db import utcnow
from workflows.errors import NotFound
from workflows.handover import transfer_task
from workflows.models import Level, Notification, NotificationKind, ProcessInstance, TaskIndexEntry, User
from workflows.notification_centre import mark_all_read, mark_read, notification_page, unread_count
from workflows.notifications import task_recipient_ids
from workflows.operations import claim_task
from workflows.reminders import send_due_reminders, urge_task
from workflows.rollback import return_task
from workflows.routing import ProcessInfo, load_routing
from workflows.signing import SignPosition, add_signer

GANJINGZI = ["ganjingzi1", "ganjingzi2", "ganjingzi_head"]  # 甘井子区总工会: the district works as a whole
JINGJI = ["jingji1", "jingji2", "jingji_head"]  # 大连市总工会 经济技术和劳动保护部
REGISTER = {"decision": "受理", "opinion": "同意受理。"}


def told(session: Session, *, since: int = 0, task_id: str | None = None, **where: object) -> list[tuple[str, str]]:
    """(username, kind) of every notification written after id `since`, optionally about one task, sorted."""
    query = (
        select(User.username, Notification.kind)
        .join(User, User.id == Notification.recipient_id)
        .where(Notification.id > since)
    )
    if task_id is not None:
        query = query.where(Notification.task_id == task_id)
    for name, value in where.items():
        query = query.where(getattr(Notification, name) == value)
    return sorted((username, kind) for username, kind in session.execute(query))


def last_id(session: Session) -> int:
    return session.scalar(select(Notification.id).order_by(Notification.id.desc()).limit(1)) or 0


def reported(session: Session, location: str = "三号车间东侧配电箱") -> ProcessInstance:
    """A report started by the enterprise's grassroots union: its registration waits at 甘井子区."""
    return start_report(session, "haichang_gonghui", location=location)


def registered(session: Session, location: str = "三号车间东侧配电箱") -> tuple[ProcessInstance, TaskIndexEntry]:
    case = reported(session, location)
    complete(session, "ganjingzi1", case, "register_report", REGISTER)
    return case, open_task(session, case, "triage")


# --- Writing: who is told about what -------------------------------------------------------------------------------


def test_a_new_task_tells_its_whole_queue_and_never_the_one_who_moved_the_case(world: Session) -> None:
    case = reported(world)
    register = open_task(world, case, "register_report")
    assert told(world, task_id=register.task_id) == [(name, "task") for name in GANJINGZI]
    (notification,) = world.scalars(select(Notification).where(Notification.task_id == register.task_id).limit(1))
    assert notification.title == "新待办：登记查重"
    assert notification.body.startswith(case.case_number or "?") and case.title in notification.body
    assert notification.instance_id == case.id and notification.read_at is None

    before = last_id(world)
    complete(world, "ganjingzi1", case, "register_report", REGISTER)
    triage = open_task(world, case, "triage")
    assert told(world, since=before) == [(name, "task") for name in JINGJI]
    assert told(world, since=before, task_id=triage.task_id) == [(name, "task") for name in JINGJI]

    complete(world, "jingji1", case, "triage", {"triage_level": "一般", "opinion": "请核查。"})
    # ganjingzi1 verifies; the next step waits in the queue he belongs to, and he is not told of his own doing.
    before = last_id(world)
    verify(world, case, "属实", "一般")
    notice = open_task(world, case, "rectify_notice")
    assert told(world, since=before) == [("ganjingzi2", "task"), ("ganjingzi_head", "task")]
    before = last_id(world)
    claim_task(world, user(world, "ganjingzi2"), case.id, notice.task_id)
    assert told(world, since=before) == []  # a claim from the queue is nobody's new work


def test_a_returned_step_tells_its_earlier_holder_with_the_reason_not_as_a_new_task(world: Session) -> None:
    case, triage = registered(world)
    claim_task(world, user(world, "jingji1"), case.id, triage.task_id)
    register = world.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None
    before = last_id(world)

    return_task(world, user(world, "jingji1"), case.id, triage.task_id, register.task_id, "企业名称与登记不符")

    assert told(world, since=before) == [("ganjingzi1", "returned")]
    (notification,) = world.scalars(select(Notification).where(Notification.id > before))
    assert notification.title == "退回：登记查重" and notification.task_id == register.task_id
    assert "王建国退回，理由：企业名称与登记不符" in notification.body


def test_urging_tells_the_holder_or_the_whole_queue_but_not_the_one_urging(world: Session) -> None:
    case, triage = registered(world)
    before = last_id(world)
    urge_task(world, user(world, "jingji_head"), triage, frozenset(), "请今天内研判")
    # Unclaimed: the queue hears it; the head urging is one of the queue and is left out.
    assert told(world, since=before) == [("jingji1", "urged"), ("jingji2", "urged")]

    claim_task(world, user(world, "jingji1"), case.id, triage.task_id)
    before = last_id(world)
    urge_task(world, user(world, "ganjingzi1"), triage, frozenset(), "")
    assert told(world, since=before) == [("jingji1", "urged")]
    (notification,) = world.scalars(select(Notification).where(Notification.id > before))
    assert notification.title == "催办：分级研判" and notification.body.endswith("马晓东催办")


def test_a_copy_tells_each_recipient_with_the_note(world: Session) -> None:
    case, _triage = registered(world)
    before = last_id(world)
    ganjingzi1 = user(world, "ganjingzi1")
    copy_case(world, ganjingzi1, case, [user(world, "jingji2"), ganjingzi1, user(world, "ganjingzi_head")], "请知悉")

    assert told(world, since=before) == [("ganjingzi_head", "copied"), ("jingji2", "copied")]
    notification = world.scalars(select(Notification).where(Notification.id > before)).first()
    assert notification is not None
    assert (notification.instance_id, notification.task_id) == (case.id, None)
    assert notification.body == "马晓东抄送：请知悉" and (case.case_number or "?") in notification.title
    # Opening the copied case reads its 抄送 notification.
    assert mark_copy_read(world, user(world, "jingji2"), case.id)
    unread = told(world, since=before, read_at=None)
    assert unread == [("ganjingzi_head", "copied")]  # jingji2's is read, the head's not yet


def test_due_soon_and_overdue_reminders_tell_the_workers_once(world: Session) -> None:
    case, triage = registered(world)
    claim_task(world, user(world, "jingji2"), case.id, triage.task_id)
    now = utcnow()
    triage.due_at = now + timedelta(hours=3)
    world.flush()
    before = last_id(world)

    send_due_reminders(world, now, now + timedelta(days=1))
    send_due_reminders(world, now, now + timedelta(days=1))  # the reminder exists: nobody is told again
    assert told(world, since=before, task_id=triage.task_id) == [("jingji2", "due_soon")]

    later = now + timedelta(hours=4)
    send_due_reminders(world, later, later + timedelta(days=1))
    assert told(world, since=before, task_id=triage.task_id) == [("jingji2", "due_soon"), ("jingji2", "overdue")]
    overdue = world.scalars(select(Notification).where(Notification.kind == "overdue").order_by(Notification.id.desc()))
    assert next(iter(overdue)).title == "已超期：分级研判"


def test_named_signers_are_told_personally(world: Session) -> None:
    """会签: each signer's instance is theirs alone, their colleagues hear nothing; 加签: the added signer."""
    before = last_id(world)
    base = load_routing()
    info = ProcessInfo("countersign_review", "会签测试", "HQ", frozenset({Level.CITY}), "office", "test")
    test_countersign.start(world, replace(base, processes={**base.processes, "countersign_review": info}), "all")
    assert told(world, since=before) == sorted((name, "task") for name in test_countersign.SIGNERS)

    case, triage = registered(world, "二号仓库")
    claim_task(world, user(world, "jingji1"), case.id, triage.task_id)
    before = last_id(world)
    add_signer(world, user(world, "jingji1"), case.id, triage.task_id, user(world, "jingji_head"), SignPosition.BEFORE)
    assert told(world, since=before) == [("jingji_head", "task")]

    # 转办 hands an open task to a colleague: new work for them.
    case, triage = registered(world, "三号仓库")
    claim_task(world, user(world, "jingji1"), case.id, triage.task_id)
    before = last_id(world)
    transfer_task(world, user(world, "jingji1"), case.id, triage.task_id, user(world, "jingji2"), "出差")
    assert told(world, since=before) == [("jingji2", "task")]


def test_a_timer_that_opens_a_step_tells_its_workers(world: Session) -> None:
    case = case_waiting_for_reply(world, "一号仓库")
    before = last_id(world)
    assert timers.fire_due_timers(world, utcnow() + timedelta(days=5)) == 1
    escalation = open_task(world, case, "escalate_overdue")
    expected = sorted((world.get(User, user_id).username, "task") for user_id in task_recipient_ids(world, escalation))
    assert expected and told(world, since=before) == expected


# --- Reading: the centre ---------------------------------------------------------------------------------------------


def test_the_centre_lists_newest_first_filters_and_marks_only_ones_own(world: Session) -> None:
    case, triage = registered(world)
    urge_task(world, user(world, "ganjingzi1"), triage, frozenset(), "请尽快")
    jingji2 = user(world, "jingji2")
    start_unread = unread_count(world, jingji2)
    mine = notification_page(world, jingji2, per_page=100).items
    assert [n.kind for n in mine[:2]] == ["urged", "task"]  # newest first
    assert [n.kind for n in notification_page(world, jingji2, kind=NotificationKind.URGED).items] == ["urged"]

    mark_read(world, jingji2, mine[0].id)
    assert unread_count(world, jingji2) == start_unread - 1
    assert mine[0].id not in {n.id for n in notification_page(world, jingji2, unread_only=True, per_page=100).items}
    with pytest.raises(NotFound):
        mark_read(world, user(world, "jingji1"), mine[1].id)  # someone else's
    assert mark_all_read(world, jingji2) == start_unread - 1
    assert unread_count(world, jingji2) == 0
    assert case.id in {n.instance_id for n in mine}


def test_the_badge_the_list_reading_one_and_all_through_the_web(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = registered(app_db)
    urge_task(app_db, user(app_db, "ganjingzi1"), triage, frozenset(), "请尽快研判")
    app_db.commit()
    jingji2 = user(app_db, "jingji2")
    unread = unread_count(app_db, jingji2)
    urged = app_db.scalars(
        select(Notification).where(Notification.recipient_id == jingji2.id, Notification.kind == "urged")
    ).one()
    others = app_db.scalars(select(Notification).where(Notification.recipient_id != jingji2.id)).first()
    assert others is not None and unread >= 2

    auth.login("jingji2")
    page = client.get("/").get_data(as_text=True)
    assert f'data-unread="{unread}"' in page  # the top bar's 通知 badge, on every page

    listing = client.get("/notifications?unread=1&kind=urged").get_data(as_text=True)
    assert f'data-notification-id="{urged.id}"' in listing and "催办：分级研判" in listing
    assert "请尽快研判" in listing and (case.case_number or "?") in listing
    assert f'data-href="/tasks/{triage.task_id}"' in listing

    opened = client.post(f"/notifications/{urged.id}/read")
    assert opened.status_code == 303 and opened.headers["Location"].endswith(f"/tasks/{triage.task_id}")
    assert client.post(f"/notifications/{others.id}/read").status_code == 404

    # Opening the task page reads the rest of what was said about the task (its 新待办).
    client.get(f"/tasks/{triage.task_id}")
    app_db.expire_all()
    assert app_db.scalars(
        select(Notification).where(
            Notification.recipient_id == jingji2.id,
            Notification.task_id == triage.task_id,
            Notification.read_at.is_(None),
        )
    ).all() == []

    done = client.post("/notifications/read-all")
    assert done.status_code == 303
    assert unread_count(app_db, jingji2) == 0
    page = client.get("/notifications").get_data(as_text=True)
    assert 'data-unread="' not in page.split("</header>")[0]  # no badge once everything is read
    assert 'data-read="no"' not in page

