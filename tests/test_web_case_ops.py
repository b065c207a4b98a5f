"""The case-side conventions of issue #4 through the web UI: 抄送, 催办, 评论, 附件, and 404 for what is not visible.

The task-side ones (转办, 退回, 撤回, 加签) are in test_web_task_ops.py, whose case-building helpers these share.
"""

from __future__ import annotations

import io
import re
import uuid

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.test_web_task_ops import actions_of, claimed_triage, html_of, registered, section
from tests.workflow_helpers import user
from workflows.copies import unread_copies
from workflows.models import Attachment, CaseComment, CaseCopy, Reminder, TaskIndexEntry

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


# --- 抄送 ----------------------------------------------------------------------------------------------------------


def test_copy_makes_the_case_readable_for_the_recipient_and_opening_marks_it_read(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    caiwu1 = user(app_db, "caiwu1")
    auth.login("caiwu1")
    assert client.get(f"/cases/{case.id}").status_code == 404  # finance has no part in the case yet

    client.post("/logout")
    auth.login("jingji1")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    assert f'<option value="{caiwu1.id}"' in page[page.index('id="op-copy"') :]
    done = client.post(
        f"/cases/{case.id}/copy",
        data={
            "recipients": [caiwu1.id],
            "note": "涉及奖励资金，请知悉。",
            "task_id": triage.task_id,
            "back_task": triage.task_id,
        },
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/tasks/{triage.task_id}")
    assert unread_copies(app_db, caiwu1) == 1

    client.post("/logout")
    auth.login("caiwu1")
    html = html_of(client.get(f"/cases/{case.id}"))
    assert case.title in html
    records = section(html, "flow-records")
    assert "抄送" in records and "刘丽娟" in records and "涉及奖励资金，请知悉。" in records
    app_db.expire_all()
    assert unread_copies(app_db, caiwu1) == 0
    copy = app_db.scalar(select(CaseCopy).where(CaseCopy.instance_id == case.id, CaseCopy.user_id == caiwu1.id))
    assert copy is not None and copy.read_at is not None


def test_copy_to_another_district_is_refused(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("jingji1")
    refused = client.post(
        f"/cases/{case.id}/copy",
        data={"recipients": [user(app_db, "zhongshan1").id], "task_id": triage.task_id, "back_task": triage.task_id},
    )
    assert refused.status_code == 422
    assert "抄送人：吴海涛不在本案件所属单位或其上级单位，不能抄送" in html_of(refused)
    assert app_db.scalar(select(func.count(CaseCopy.id)).where(CaseCopy.instance_id == case.id)) == 0


# --- 催办 ----------------------------------------------------------------------------------------------------------


def test_urge_reaches_the_holder_once_a_day(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("ganjingzi1")  # started the case; cannot decide the triage
    current = section(html_of(client.get(f"/cases/{case.id}")), "current-tasks")
    assert f'action="/cases/{case.id}/urge"' in current and f'value="{triage.task_id}"' in current

    done = client.post(
        f"/cases/{case.id}/urge", data={"task_id": triage.task_id, "message": "企业催问进度，请尽快研判。"}
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/cases/{case.id}")
    reminder = app_db.scalar(select(Reminder).where(Reminder.task_id == triage.task_id))
    assert reminder is not None and reminder.recipient_id == user(app_db, "jingji1").id
    assert "催办" in section(html_of(client.get(f"/cases/{case.id}")), "flow-records")

    again = client.post(f"/cases/{case.id}/urge", data={"task_id": triage.task_id})
    assert again.status_code == 409 and "您已催办过该任务，请勿频繁催办" in html_of(again)
    app_db.expire_all()
    assert app_db.scalar(select(func.count(Reminder.id)).where(Reminder.task_id == triage.task_id)) == 1

    client.post("/logout")
    auth.login("jingji1")
    page = html_of(client.get(f"/tasks/{triage.task_id}"))
    urges = page[page.index('id="urges"') :]
    assert "马晓东" in urges and "企业催问进度，请尽快研判。" in urges
    assert 'id="op-urge"' not in page  # nobody urges their own task
    own = client.post(f"/cases/{case.id}/urge", data={"task_id": triage.task_id})
    assert own.status_code == 403


# --- 评论 and 附件 -------------------------------------------------------------------------------------------------


def test_comment_appears_on_the_case_and_the_task_page(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("jingji_head")  # a head who only oversees the task
    done = client.post(
        f"/cases/{case.id}/comments",
        data={"body": "请注意核实企业整改能力。", "task_id": triage.task_id, "back_task": triage.task_id},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/tasks/{triage.task_id}")
    comment = app_db.scalar(select(CaseComment).where(CaseComment.instance_id == case.id))
    assert comment is not None and (comment.author_name, comment.task_id) == ("张志强", triage.task_id)

    client.post("/logout")
    auth.login("jingji1")
    assert "请注意核实企业整改能力。" in html_of(client.get(f"/tasks/{triage.task_id}"))
    comments = section(html_of(client.get(f"/cases/{case.id}")), "comments")
    assert "张志强" in comments and "请注意核实企业整改能力。" in comments and "分级研判" in comments

    empty = client.post(f"/cases/{case.id}/comments", data={"body": "   "})
    assert empty.status_code == 422 and "评论内容：必须填写" in html_of(empty)


def test_attachments_for_the_case_and_the_step(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("jingji1")
    step_file = client.post(
        f"/cases/{case.id}/attachments",
        data={"file": (io.BytesIO(PNG), "现场照片.png"), "task_id": triage.task_id, "back_task": triage.task_id},
        content_type="multipart/form-data",
    )
    assert step_file.status_code == 302 and step_file.headers["Location"].endswith(f"/tasks/{triage.task_id}")
    stored = app_db.scalar(select(Attachment).where(Attachment.instance_id == case.id))
    assert stored is not None and (stored.task_id, stored.content_type) == (triage.task_id, "image/png")
    assert "现场照片.png" in html_of(client.get(f"/tasks/{triage.task_id}"))
    files = section(html_of(client.get(f"/cases/{case.id}")), "attachments")
    assert "现场照片.png" in files and "分级研判" in files

    # Someone who may see the step but not decide it may attach to the case only; one who cannot see it gets 404.
    for username, status in (("jingji2", 403), ("ganjingzi1", 404)):
        client.post("/logout")
        auth.login(username)
        refused = client.post(
            f"/cases/{case.id}/attachments",
            data={"file": (io.BytesIO(PNG), "a.png"), "task_id": triage.task_id},
            content_type="multipart/form-data",
        )
        assert refused.status_code == status, username
    case_file = client.post(
        f"/cases/{case.id}/attachments",
        data={"file": (io.BytesIO(PNG), "补充照片.png")},
        content_type="multipart/form-data",
    )
    assert case_file.status_code == 302
    assert app_db.scalar(select(func.count(Attachment.id)).where(Attachment.instance_id == case.id)) == 2


def test_upload_of_a_file_that_is_not_an_allowed_type_is_refused_in_chinese(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case = registered(app_db)
    auth.login("ganjingzi1")
    refused = client.post(
        f"/cases/{case.id}/attachments",
        data={"file": (io.BytesIO(b"MZ\x90\x00 not an image"), "整改报告.exe")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert re.search(r'class="field-error"[^>]*>附件：文件“整改报告.exe”不是 JPEG 或 PNG 或 PDF 文件', html_of(refused))
    none = client.post(f"/cases/{case.id}/attachments", data={}, content_type="multipart/form-data")
    assert none.status_code == 422 and "附件：请选择要上传的文件" in html_of(none)
    # Sent from a task page, the refusal is shown on that page.
    register = app_db.scalar(
        select(TaskIndexEntry).where(TaskIndexEntry.instance_id == case.id, TaskIndexEntry.bpmn_id == "register_report")
    )
    assert register is not None
    from_task = client.post(
        f"/cases/{case.id}/attachments",
        data={"file": (io.BytesIO(b"GIF89a\x01\x00"), "a.gif"), "back_task": register.task_id},
        content_type="multipart/form-data",
    )
    assert from_task.status_code == 422
    assert "该任务已办结" in html_of(from_task) and "附件：文件“a.gif”不是 JPEG 或 PNG 或 PDF 文件" in html_of(
        from_task
    )
    assert app_db.scalar(select(func.count(Attachment.id)).where(Attachment.instance_id == case.id)) == 0
    # A scanned document (PDF, recognised by its bytes) is accepted on the case.
    accepted = client.post(
        f"/cases/{case.id}/attachments",
        data={"file": (io.BytesIO(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "整改报告.pdf")},
        content_type="multipart/form-data",
    )
    assert accepted.status_code in (302, 303)
    stored = app_db.scalars(select(Attachment).where(Attachment.instance_id == case.id)).all()
    assert [(a.filename, a.content_type) for a in stored] == [("整改报告.pdf", "application/pdf")]


# --- Who may do what --------------------------------------------------------------------------------------------


def test_invisible_tasks_and_cases_answer_404_to_every_operation(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    case, triage = claimed_triage(app_db)
    auth.login("zhongshan1")  # another district
    task = f"/tasks/{triage.task_id}"
    for url, data in (
        (task, {}),
        (f"{task}/transfer", {"to_user": user(app_db, "jingji2").id, "reason": "x"}),
        (f"{task}/return", {"target_task_id": str(uuid.uuid4()), "reason": "x"}),
        (f"{task}/add-signer", {"signer": user(app_db, "jingji2").id, "position": "before"}),
        (f"{task}/withdraw", {}),
        (f"/cases/{case.id}/urge", {"task_id": triage.task_id}),
        (f"/cases/{case.id}/copy", {"recipients": [user(app_db, "jingji2").id]}),
        (f"/cases/{case.id}/comments", {"body": "看看"}),
        (f"/cases/{case.id}/attachments", {}),
    ):
        response = client.post(url, data=data) if url != task else client.get(url)
        assert response.status_code == 404, url
    assert client.post("/cases/999999/comments", data={"body": "x"}).status_code == 404
    app_db.expire_all()
    assert actions_of(app_db, case, "transfer") == [] and actions_of(app_db, case, "urge") == []
    assert app_db.scalar(select(func.count(CaseComment.id)).where(CaseComment.instance_id == case.id)) == 0


def test_a_task_of_another_case_named_in_a_case_form_is_not_found(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    first, triage = claimed_triage(app_db)
    second = registered(app_db, location="二号仓库北门")
    auth.login("ganjingzi1")
    assert client.post(f"/cases/{second.id}/urge", data={"task_id": triage.task_id}).status_code == 404
    assert actions_of(app_db, first, "urge") == []
