"""The payment pages (issue #6 step 7; `webapp.aid_payment`): bank files for the city's livelihood and finance
departments only, the bank's result uploaded by finance (422 with every problem, nothing changed), and a district
union's corrections of failed rows."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.aid_helpers import YEAR, confirmed_list
from tests.conftest import AuthActions
from tests.test_aid_payment import NEW_CARD, result_rows, result_xlsx
from tests.workflow_helpers import user
from workflows.aid.payment import create_batch, import_bank_result
from workflows.demo import DEMO_PASSWORD
from workflows.models import AidBatch, AidPayment, AidWorker, Department
from workflows.organisation import create_user, unit_by_code

OTHER_CITY = "shenyang_caiwu"


@pytest.fixture
def batch(app_db: Session) -> AidBatch:
    """A committed first batch of 3 甘井子区 and 2 中山区 workers, and a finance official of another city."""
    confirmed_list(app_db, {"甘井子区": 3, "中山区": 2})
    made = create_batch(app_db, user(app_db, "baozhang1"), YEAR, unit_by_code(app_db, "210200").id)
    shenyang = unit_by_code(app_db, "210100")
    app_db.add(Department(org_unit_id=shenyang.id, code="finance", name="财务部"))
    app_db.flush()
    create_user(app_db, OTHER_CITY, DEMO_PASSWORD, "210100", "finance")
    app_db.commit()
    return made


def urls(batch_id: int) -> list[str]:
    return [f"/aid/batches/{batch_id}.xlsx", f"/aid/batches/{batch_id}.csv",
            f"/aid/batches/{batch_id}/result-template.xlsx"]  # fmt: skip


@pytest.mark.parametrize("username", ["baozhang1", "caiwu1", "caiwu_head"])
def test_the_city_s_livelihood_and_finance_departments_download_the_bank_files(
    client: FlaskClient, auth: AuthActions, batch: AidBatch, app_db: Session, username: str
) -> None:
    auth.login(username)
    first = app_db.scalars(select(AidWorker).order_by(AidWorker.row_number)).first()
    assert first is not None
    xlsx, text, template = (client.get(url) for url in urls(batch.id))
    assert xlsx.status_code == text.status_code == template.status_code == 200
    assert "attachment" in xlsx.headers["Content-Disposition"] and ".xlsx" in xlsx.headers["Content-Disposition"]
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[1][2] == first.resident_id and rows[1][3] == first.card_number  # the one place with full numbers
    assert rows[-1][0] == "合计" and rows[-1][5] == "15000.00"
    records = list(csv.reader(io.StringIO(text.data.decode("utf-8-sig"))))
    assert records[-1][:2] == ["合计", "共 5 笔"] and len(records) == 7
    header = next(openpyxl.load_workbook(io.BytesIO(template.data)).worksheets[0].iter_rows(values_only=True))
    assert header[-3:] == ("处理结果", "失败原因", "到账日期")
    assert client.get(urls(batch.id)[0]).data == xlsx.data  # the same bytes again


@pytest.mark.parametrize("username", ["ganjingzi1", "zhongshan1", "shengzong_baozhang1", "jingji1", "admin",
                                      OTHER_CITY])  # fmt: skip
def test_nobody_else_finds_the_bank_files(
    client: FlaskClient, auth: AuthActions, batch: AidBatch, username: str
) -> None:
    auth.login(username)
    for url in [*urls(batch.id), *urls(10**6)]:
        assert client.get(url).status_code == 404, url


def test_the_batch_page_masks_numbers_and_offers_the_upload_to_finance_only(
    client: FlaskClient, auth: AuthActions, batch: AidBatch, app_db: Session
) -> None:
    worker = app_db.scalars(select(AidWorker).order_by(AidWorker.row_number)).first()
    assert worker is not None
    auth.login("baozhang1")
    page = client.get(f"/aid/batches/{batch.id}").get_data(as_text=True)
    assert batch.batch_number in page and "15,000.00 元" in page and "待回盘 5" in page
    assert worker.resident_id not in page and worker.card_number not in page
    assert worker.resident_id[-4:] in page and worker.card_number[-4:] in page
    assert f"/aid/batches/{batch.id}.xlsx" in page and 'name="file"' not in page
    auth.logout()
    auth.login("caiwu1")
    assert 'name="file"' in client.get(f"/aid/batches/{batch.id}").get_data(as_text=True)
    auth.logout()
    auth.login("shengzong_baozhang1")  # the province follows the payment, without the bank files
    page = client.get(f"/aid/batches/{batch.id}").get_data(as_text=True)
    assert batch.batch_number in page and f"/aid/batches/{batch.id}.xlsx" not in page
    auth.logout()
    auth.login("ganjingzi1")
    assert client.get(f"/aid/batches/{batch.id}").status_code == 404


def test_a_bad_result_file_comes_back_with_every_problem_and_changes_nothing(
    client: FlaskClient, auth: AuthActions, batch: AidBatch, app_db: Session
) -> None:
    rows = result_rows(batch)
    rows[0][7] = "已退票"  # 处理结果 of sheet row 2
    rows[2][9] = ""  # 到账日期 of sheet row 4
    auth.login("caiwu1")

    answer = client.post(f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(result_xlsx(rows)), "回盘.xlsx")})

    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "回盘文件有 2 处问题，未作任何更改" in page
    assert "<td>2</td><td>处理结果</td>" in page and "<td>4</td><td>到账日期</td>" in page
    app_db.expire_all()
    assert app_db.get(AidBatch, batch.id).result_sha256 is None  # type: ignore[union-attr]
    assert {p.status for p in app_db.scalars(select(AidPayment))} == {"待回盘"}
    empty = client.post(f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(b""), "")})
    assert empty.status_code == 422 and "回盘文件：请选择" in empty.get_data(as_text=True)


def test_finance_imports_the_result_once_and_goes_back_where_it_came_from(
    client: FlaskClient, auth: AuthActions, batch: AidBatch, app_db: Session
) -> None:
    data = result_xlsx(result_rows(batch, {batch.payments[0].id: "户名不符"}))
    auth.login("baozhang1")
    refused = client.post(f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(data), "回盘.xlsx")})
    assert refused.status_code == 403
    auth.logout()
    auth.login("caiwu1")

    answer = client.post(
        f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(data), "回盘.xlsx"), "next": "/inbox?view=queue"}
    )

    assert answer.status_code == 302 and answer.headers["Location"] == "/inbox?view=queue"
    page = client.get(f"/aid/batches/{batch.id}").get_data(as_text=True)
    assert "已导入银行回盘：成功 4 笔，失败 1 笔" in page and "户名不符" in page and 'name="file"' not in page
    again = client.post(
        f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(data), "回盘.xlsx"), "next": "//evil.example/"}
    )
    assert again.headers["Location"] == f"/aid/batches/{batch.id}"
    assert "该回盘文件此前已导入，未作任何更改" in client.get(again.headers["Location"]).get_data(as_text=True)
    other = result_xlsx(result_rows(batch))
    different = client.post(f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(other), "回盘2.xlsx")})
    assert different.status_code == 409 and "不能再导入不同的文件" in different.get_data(as_text=True)
    app_db.expire_all()
    assert sorted(p.status for p in app_db.scalars(select(AidPayment))) == ["失败", "成功", "成功", "成功", "成功"]


def test_a_district_upload_is_not_found(client: FlaskClient, auth: AuthActions, batch: AidBatch) -> None:
    auth.login("ganjingzi1")
    data = result_xlsx(result_rows(batch))
    answer = client.post(f"/aid/batches/{batch.id}/result", data={"file": (io.BytesIO(data), "r.xlsx")})
    assert answer.status_code == 404


def test_a_large_batch_is_shown_200_rows_a_page(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    confirmed_list(app_db, {"甘井子区": 201})
    made = create_batch(app_db, user(app_db, "baozhang1"), YEAR, unit_by_code(app_db, "210200").id)
    app_db.commit()
    auth.login("baozhang1")
    first = client.get(f"/aid/batches/{made.id}").get_data(as_text=True)
    assert first.count("data-payment-id=") == 200 and 'rel="next"' in first
    second = client.get(f"/aid/batches/{made.id}?page=2").get_data(as_text=True)
    assert second.count("data-payment-id=") == 1 and "<td>201</td>" in second


@pytest.fixture
def failures(app_db: Session, batch: AidBatch) -> list[AidPayment]:
    """The bank failed the first two (甘井子区) rows."""
    failed = batch.payments[:2]
    reasons = {failed[0].id: "户名不符", failed[1].id: "社保卡金融功能未激活"}
    import_bank_result(app_db, user(app_db, "caiwu1"), batch.id, result_xlsx(result_rows(batch, reasons)), "r.xlsx")
    app_db.commit()
    return failed


def test_the_district_corrects_one_failed_row_and_withholds_the_other(
    client: FlaskClient, auth: AuthActions, failures: list[AidPayment], app_db: Session
) -> None:
    auth.login("ganjingzi1")
    page = client.get("/aid/corrections").get_data(as_text=True)
    first, second = failures
    assert page.count('class="aid-correction"') == 2 and "户名不符" in page and "社保卡金融功能未激活" in page
    assert first.card_number not in page and first.card_number[-4:] in page

    bad = client.post("/aid/corrections", data={"payment_id": first.id, "action": "correct", "bank_name": "中国银行",
                                                "card_number": NEW_CARD[:-1] + str((int(NEW_CARD[-1]) + 1) % 10)})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert f"名单第 {first.worker.row_number} 行（{first.worker.name}） 银行卡号：校验失败" in text

    fixed = client.post("/aid/corrections", data={"payment_id": first.id, "action": "correct",
                                                  "bank_name": "中国银行", "card_number": NEW_CARD})
    assert fixed.status_code == 302
    assert "将列入下一批代发清单" in client.get(fixed.headers["Location"]).get_data(as_text=True)
    empty = client.post("/aid/corrections", data={"payment_id": second.id, "action": "withhold", "reason": ""})
    assert empty.status_code == 422 and "暂缓发放原因：不能为空" in empty.get_data(as_text=True)
    held = client.post("/aid/corrections", data={"payment_id": second.id, "action": "withhold", "reason": "无法联系"})
    assert held.status_code == 302
    assert "暂无需要处理的代发失败记录" in client.get("/aid/corrections").get_data(as_text=True)
    app_db.expire_all()
    assert app_db.get(AidWorker, first.worker_id).card_number == NEW_CARD  # type: ignore[union-attr]
    assert app_db.get(AidWorker, second.worker_id).payment_withheld_reason == "无法联系"  # type: ignore[union-attr]


def test_other_unions_neither_see_nor_correct_the_district_s_rows(
    client: FlaskClient, auth: AuthActions, failures: list[AidPayment]
) -> None:
    auth.login("zhongshan1")
    assert "暂无需要处理的代发失败记录" in client.get("/aid/corrections").get_data(as_text=True)
    forged = client.post("/aid/corrections", data={"payment_id": failures[0].id, "action": "withhold",
                                                   "reason": "无法联系"})  # fmt: skip
    assert forged.status_code == 404
    auth.logout()
    auth.login("xigang1")  # sent no workers
    assert "本单位目前没有代发失败需要处理的职工" in client.get("/aid/corrections").get_data(as_text=True)
    auth.logout()
    auth.login("admin")
    assert client.get("/aid/corrections").status_code == 404
