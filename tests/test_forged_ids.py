"""People picked in the operation forms (转办, 加签, 抄送, 委托) by id: a forged value is a form error, never a 500.

"²" passes str.isdigit() but not int(); 99999999999 overflows PostgreSQL's INTEGER. Both must answer like an
unknown id: the form again with its message (422), nothing changed.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.workflow_helpers import open_task, start_report

FORGED = ["²", "99999999999", "-1", "１２", ""]


@pytest.mark.parametrize("forged", FORGED)
def test_forged_ids_in_the_task_and_case_forms_answer_422(
    client: FlaskClient, auth: AuthActions, app_db: Session, forged: str
) -> None:
    case = start_report(app_db)
    task_id = open_task(app_db, case, "register_report").task_id
    app_db.commit()
    auth.login("ganjingzi1")
    transfer = client.post(f"/tasks/{task_id}/transfer", data={"to_user": forged, "reason": "出差"})
    signer = client.post(
        f"/tasks/{task_id}/add-signer", data={"signer": forged, "position": "before", "reason": "请会签"}
    )
    copy = client.post(f"/cases/{case.id}/copy", data={"recipients": forged, "note": "请阅"})
    assert (transfer.status_code, signer.status_code, copy.status_code) == (422, 422, 422)


@pytest.mark.parametrize("forged", FORGED)
def test_a_forged_delegate_answers_422(client: FlaskClient, auth: AuthActions, forged: str) -> None:
    auth.login("ganjingzi1")
    answer = client.post(
        "/settings/delegations", data={"delegate": forged, "starts_on": "2026-11-23", "ends_on": "2026-11-27"}
    )
    assert answer.status_code == 422
    assert "受托人：请选择" in answer.get_data(as_text=True)


def test_an_absurd_page_number_shows_the_first_page(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("ganjingzi1")
    assert client.get("/?view=queue&page=99999999999999999999").status_code == 200
