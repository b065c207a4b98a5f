"""The aid list's documents (issue #6 "Records"): review summary, payment roster, reconciliation, per-worker record.

Data functions on the seeded `world`; PDFs read back as text (pypdf, as tests/test_records.py does), Excel with
openpyxl; routes for who may fetch what. Identity and card numbers must appear masked and never in full.
"""

from __future__ import annotations

import io
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pypdf
import pytest
from flask.testing import FlaskClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from tests.aid_helpers import YEAR, confirmed_list, imported_list
from tests.conftest import AuthActions
from tests.workflow_helpers import user
from workflows.aid.reports import (
    find_city,
    paginate_roster,
    payment_roster,
    reconciliation,
    review_summary,
    roster_rows,
    summary_workers,
)
from workflows.aid.worker_record import worker_record
from workflows.db import utcnow
from workflows.models import AidBatch, AidCityList, AidPayment, AidReview, AidWorker, OrgUnit, PaymentStatus
from workflows.records import redact
from workflows.tabular import write_xlsx_sheets

DALIAN = "210200"
MONEY = re.compile(r"\d{1,3}(?:,\d{3})*\.\d{2}")


def compact(text: str) -> str:
    """PDF text without line breaks and spaces: a table cell may wrap anywhere."""
    return re.sub(r"\s", "", text)


def pdf_pages(data: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages]


def amounts(line: str) -> list[Decimal]:
    return [Decimal(found.replace(",", "")) for found in MONEY.findall(line)]


def dalian(session: Session) -> OrgUnit:
    city = session.scalar(select(OrgUnit).where(OrgUnit.code == DALIAN))
    assert city is not None
    return city


def with_amounts(workers: list[AidWorker]) -> list[AidWorker]:
    """Distinct amounts (1,000.00, 1,037.15, …) so a sum over the wrong rows cannot come out right by chance."""
    for n, worker in enumerate(workers):
        worker.aid_amount = Decimal("1000.00") + Decimal("37.15") * n
    return workers


def pay(
    session: Session, workers: list[AidWorker], sequence: int, outcomes: list[str], reasons: list[str] | None = None
) -> AidBatch:
    """A batch of `workers` with the bank's answer per row (成功 / 失败 / 待回盘), written as the payment step would."""
    maker = user(session, "caiwu1")
    batch = AidBatch(
        year=YEAR, city_unit_id=workers[0].city_unit_id, sequence=sequence, batch_number=f"DL{YEAR}-{sequence:03d}",
        row_count=len(workers), total=sum((w.aid_amount or Decimal(0) for w in workers), Decimal("0.00")),
        created_by_id=maker.id,
        result_imported_by_id=maker.id if any(o != PaymentStatus.PENDING for o in outcomes) else None,
        result_imported_at=utcnow() if any(o != PaymentStatus.PENDING for o in outcomes) else None,
    )  # fmt: skip
    session.add(batch)
    session.flush()
    session.execute(
        insert(AidPayment),
        [
            {"batch_id": batch.id, "worker_id": w.id, "amount": w.aid_amount, "bank_name": w.bank_name,
             "card_number": w.card_number, "status": outcome,
             "failure_reason": ((reasons or ["账户名与户名不符"] * len(workers))[i]
                                if outcome == PaymentStatus.FAILED else ""),
             "paid_on": date(2018, 3, 20) if outcome == PaymentStatus.PAID else None}
            for i, (w, outcome) in enumerate(zip(workers, outcomes, strict=True))
        ],
    )  # fmt: skip
    session.flush()
    return batch


def conclude(
    session: Session, workers: list[AidWorker], conclusion: str, reason: str = "", evidence: str = "",
    by: str = "ganjingzi1",
) -> None:
    """The district's conclusion as `workflows.aid.review.record_review` writes it (row and history), without the
    process around it (whose review step these documents do not need)."""
    reviewer, now = user(session, by), utcnow()
    for worker in workers:
        worker.review_conclusion, worker.review_reason = conclusion, reason
        worker.review_evidence, worker.reviewed_by_id, worker.reviewed_at = evidence, reviewer.id, now
        session.add(AidReview(worker_id=worker.id, conclusion=conclusion, reason=reason, evidence=evidence,
                              reviewed_by_id=reviewer.id, reviewed_at=now))  # fmt: skip
    session.flush()


# --- 审查结果汇总表 ---------------------------------------------------------------------------------------------


def reviewed_list(session: Session) -> list[AidWorker]:
    """甘井子区 6 workers (3 符合, 2 不符合 for one reason, 1 for another... one pending); 中山区 4, none reviewed."""
    workers = imported_list(session, {"甘井子区": 7, "中山区": 4})
    conclude(session, workers[:3], "符合")
    conclude(session, workers[3:5], "不符合", reason="已再就业")
    conclude(session, workers[5:6], "不符合", reason="家庭收入高于标准")
    return workers


def test_the_summary_counts_each_district_and_groups_the_reasons(world: Session) -> None:
    reviewed_list(world)

    summary = review_summary(world, dalian(world), YEAR, opinion="  经审查，同意上报。  ")

    lines = {line.district.name: line for line in summary.districts}
    assert list(lines) == ["中山区总工会", "甘井子区总工会"]  # by district code: 210202 before 210211
    ganjingzi = lines["甘井子区总工会"]
    assert (ganjingzi.sent, ganjingzi.eligible, ganjingzi.not_eligible, ganjingzi.pending) == (7, 3, 3, 1)
    assert [(r.reason, r.count) for r in ganjingzi.reasons] == [("已再就业", 2), ("家庭收入高于标准", 1)]
    zhongshan = lines["中山区总工会"]
    assert (zhongshan.sent, zhongshan.eligible, zhongshan.not_eligible, zhongshan.pending) == (4, 0, 0, 4)
    total = summary.total
    assert (total.sent, total.eligible, total.not_eligible, total.pending) == (11, 3, 3, 5)
    assert summary.opinion == "经审查，同意上报。"


def test_the_summary_pdf_and_excel(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    workers = reviewed_list(app_db)
    app_db.commit()
    auth.login("baozhang1")

    answer = client.get(f"/aid/{YEAR}/{DALIAN}/summary.pdf")

    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.headers["Cache-Control"] == "private, no-store"
    text = "".join(pdf_pages(answer.data))
    assert "大连市总工会2017年度去产能企业特困职工援助审查结果汇总表" in text
    assert "甘井子区总工会" in text and "中山区总工会" in text
    assert "已再就业：2 人" in text and "家庭收入高于标准：1 人" in text
    assert re.search(r"合计\s*11\s*3\s*3\s*5", text), text
    assert "第 1 页 / 共 1 页" in text

    sheet = client.get(f"/aid/{YEAR}/{DALIAN}/summary.xlsx")
    assert sheet.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(sheet.data))
    assert book.sheetnames == ["审查结果汇总", "审查明细"]
    rows = list(book["审查结果汇总"].iter_rows(values_only=True))
    assert rows[0] == ("区县（产业）工会", "报送人数", "符合", "不符合", "未审查", "不符合原因（人数）")
    assert rows[2] == ("甘井子区总工会", "7", "3", "3", "1", "已再就业：2 人；家庭收入高于标准：1 人")
    assert rows[3] == ("合计", "11", "3", "3", "5", "已再就业：2 人；家庭收入高于标准：1 人")
    detail = list(book["审查明细"].iter_rows(values_only=True))
    assert detail[0] == ("序号", "姓名", "身份证号", "区县", "审查结论", "不符合原因", "再就业日期")
    assert len(detail) == 12
    by_name = {row[1]: row for row in detail[1:]}
    fourth = by_name[workers[3].name]
    assert fourth[2] == workers[3].resident_id[:6] + "********" + workers[3].resident_id[-4:]
    assert fourth[3:6] == ("甘井子区总工会", "不符合", "已再就业")
    assert by_name[workers[6].name][4] == "未审查"
    everything = text + repr(rows) + repr(detail)
    for worker in workers:
        assert worker.resident_id not in everything


def test_the_summary_worker_list_masks_ids_and_numbers_in_district_order(world: Session) -> None:
    workers = reviewed_list(world)
    listed = list(summary_workers(world, dalian(world), YEAR))
    assert [w.number for w in listed] == list(range(1, 12))
    assert [w.district for w in listed] == ["中山区总工会"] * 4 + ["甘井子区总工会"] * 7
    assert all(w.resident_id.count("*") == 8 for w in listed)
    assert {w.name for w in listed} == {w.name for w in workers}


# --- 发放花名册 ------------------------------------------------------------------------------------------------


def test_pagination_puts_a_subtotal_after_each_district_and_sums_each_page(world: Session) -> None:
    workers = with_amounts(confirmed_list(world, {"甘井子区": 7, "中山区": 5}))
    rows = roster_rows(world, dalian(world), YEAR)

    pages = paginate_roster(rows, lines_per_page=5)

    lines = [line for page in pages for line in page.lines]
    assert len(lines) == 14 and len(pages) == 3  # 12 rows + 2 subtotals
    assert [getattr(line, "label", None) for line in lines].count(None) == 12
    zhongshan, ganjingzi = (line for line in lines if hasattr(line, "label"))
    assert (zhongshan.label, zhongshan.count) == ("中山区总工会 小计", 5)
    assert ganjingzi.amount == sum((w.aid_amount or Decimal(0) for w in workers[:7]), Decimal(0))
    for page in pages:
        assert page.amount == sum(line.amount for line in page.lines if not hasattr(line, "label"))
    assert sum(page.amount for page in pages) == sum(w.aid_amount or Decimal(0) for w in workers)


def test_the_roster_pdf_has_right_page_totals_subtotals_and_grand_total(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    # 中山区 20 + 甘井子区 24 rows and 2 subtotals: 46 lines, two full pages of 22 and a last page of 2.
    workers = with_amounts(confirmed_list(app_db, {"甘井子区": 24, "中山区": 20}))
    pay(app_db, workers[:10], 1, [PaymentStatus.PAID] * 8 + [PaymentStatus.FAILED] * 2)
    app_db.commit()
    roster = payment_roster(app_db, dalian(app_db), YEAR)
    auth.login("caiwu1")

    answer = client.get(f"/aid/{YEAR}/{DALIAN}/roster.pdf")

    assert answer.status_code == 200
    pages = pdf_pages(answer.data)
    # Every printed page is exactly one page of the Python pagination: no row spilled over.
    assert len(pages) == len(roster.pages) == 3
    printed_rows = 0
    subtotals: dict[str, Decimal] = {}
    for text in pages:
        row_amounts: list[Decimal] = []
        page_total = None
        for line in text.splitlines():
            if "本页合计" in line:
                page_total = amounts(line)[-1]
            elif "小计" in line:
                subtotals[line.split("小计")[0].strip()] = amounts(line)[-1]
            elif "总计" in line:
                assert amounts(line)[-1] == sum(w.aid_amount or Decimal(0) for w in workers)
                assert "44 人" in line
            elif "********" in line:  # a worker row: its masked ID
                row_amounts.append(amounts(line)[-1])
        assert row_amounts and page_total == sum(row_amounts), text
        printed_rows += len(row_amounts)
    assert printed_rows == 44
    assert subtotals == {
        "甘井子区总工会": sum((w.aid_amount or Decimal(0) for w in workers[:24]), Decimal(0)),
        "中山区总工会": sum((w.aid_amount or Decimal(0) for w in workers[24:]), Decimal(0)),
    }
    text = "".join(pages)
    assert "领款人签字" in text and "第 3 页 / 共 3 页" in text
    assert "成功" in text and "失败" in text and "未发放" in text and f"DL{YEAR}-001" in text
    for worker in workers:
        assert worker.resident_id not in text and worker.card_number not in text
    first = workers[0]
    assert first.name in text and first.resident_id[-4:] in text and first.card_number[-4:] in text


def test_the_roster_shows_each_workers_latest_payment(world: Session) -> None:
    workers = confirmed_list(world, {"甘井子区": 3})
    pay(world, workers[:2], 1, [PaymentStatus.FAILED, PaymentStatus.PAID])
    pay(world, workers[:1], 2, [PaymentStatus.PENDING])

    rows = {row.name: row for row in roster_rows(world, dalian(world), YEAR)}

    assert (rows[workers[0].name].status, rows[workers[0].name].batch_number) == ("待回盘", f"DL{YEAR}-002")
    assert (rows[workers[1].name].status, rows[workers[1].name].batch_number) == ("成功", f"DL{YEAR}-001")
    assert (rows[workers[2].name].status, rows[workers[2].name].batch_number) == ("未发放", "")


def test_only_confirmed_workers_are_on_the_roster(world: Session) -> None:
    workers = confirmed_list(world, {"甘井子区": 3})
    workers[1].confirmed_at = None
    world.flush()
    assert [row.name for row in roster_rows(world, dalian(world), YEAR)] == [workers[0].name, workers[2].name]


# --- 发放情况报告 ----------------------------------------------------------------------------------------------


def paid_in_part(session: Session) -> list[AidWorker]:
    """甘井子区 6: 3 paid, 1 failed and uncorrected, 1 withheld, 1 awaiting the bank; 中山区 2: 1 paid, 1 never sent."""
    workers = confirmed_list(session, {"甘井子区": 6, "中山区": 2}, amount=Decimal("2500.00"))
    workers[4].payment_withheld_reason = "社保卡金融功能未激活，职工无法补办"
    pay(session, [*workers[:5], workers[6]], 1, ["成功", "成功", "成功", "失败", "失败", "成功"])
    pay(session, [workers[5]], 2, ["待回盘"])
    return workers


def test_reconciliation_per_district_and_against_the_allocation(world: Session) -> None:
    paid_in_part(world)
    city = dalian(world)

    report = reconciliation(world, city, YEAR)

    ganjingzi = next(line for line in report.districts if line.district.name == "甘井子区总工会")
    assert (ganjingzi.confirmed, ganjingzi.paid, ganjingzi.failed, ganjingzi.withheld) == (6, 3, 1, 1)
    assert (ganjingzi.awaiting_bank, ganjingzi.outstanding) == (1, 3)
    assert ganjingzi.paid_amount == Decimal("7500.00") and ganjingzi.outstanding_amount == Decimal("7500.00")
    total = report.total
    assert (total.confirmed, total.paid, total.outstanding) == (8, 4, 4)
    assert total.confirmed_amount == Decimal("20000.00") and total.paid_amount == Decimal("10000.00")
    assert report.allocated is None and report.within_allocation is None


def allocate(session: Session, amount: str) -> None:
    from workflows.models import ProcessInstance

    # AidCityList needs its case: any instance row of the seeded database will do for a report.
    instance = session.scalar(select(ProcessInstance).limit(1))
    if instance is None:
        from tests.workflow_helpers import start_report

        instance = start_report(session, "ganjingzi1")
    session.add(
        AidCityList(
            year=YEAR, city_unit_id=dalian(session).id, instance_id=instance.id,
            dispatched_by_id=user(session, "shengzong_baozhang1").id, allocated_amount=Decimal(amount),
            allocation_document="辽工发〔2018〕12号", allocated_on=date(2018, 3, 1),
        )
    )  # fmt: skip
    session.flush()


@pytest.mark.parametrize(("allocated", "within"), [("20000.00", True), ("10000.00", True), ("9999.99", False)])
def test_paid_is_checked_against_the_allocation(world: Session, allocated: str, within: bool) -> None:
    paid_in_part(world)
    allocate(world, allocated)
    report = reconciliation(world, dalian(world), YEAR)
    assert report.allocated == Decimal(allocated) and report.within_allocation is within


def test_the_reconciliation_pdf_and_excel(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    paid_in_part(app_db)
    allocate(app_db, "20000.00")
    app_db.commit()
    auth.login("shengzong_baozhang1")

    text = "".join(pdf_pages(client.get(f"/aid/{YEAR}/{DALIAN}/reconciliation.pdf").data))

    assert "大连市总工会2017年度去产能企业特困职工援助金发放情况报告" in text
    assert "失败待更正" in text and "暂缓发放" in text
    assert re.search(r"甘井子区总工会\s*6\s*15,000\.00\s*3\s*7,500\.00", text), text
    assert re.search(r"合计\s*8\s*20,000\.00\s*4\s*10,000\.00", text), text
    assert "辽工发〔2018〕12号" in text and "已发放金额未超过拨付金额，结余 10,000.00 元" in text

    sheet = client.get(f"/aid/{YEAR}/{DALIAN}/reconciliation.xlsx")
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.data)).worksheets[0].iter_rows(values_only=True))
    assert rows[0][:5] == ("区县（产业）工会", "确认发放人数", "确认发放金额", "已发放人数", "已发放金额")
    total = next(row for row in rows if row[0] == "合计")
    assert total[:5] == ("合计", "8", "20000.00", "4", "10000.00")
    assert total[-2:] == ("4", "10000.00")  # outstanding
    assert rows[-4][:2] == ("省总工会拨付金额", "20000.00")
    assert rows[-1][:2] == ("核对结果", "已发放金额未超过拨付金额")


# --- 个人档案 -------------------------------------------------------------------------------------------------


def returned_and_repaid(session: Session) -> AidWorker:
    """A worker found 符合, returned by the province, found 符合 again, confirmed, failed once and repaid."""
    worker = imported_list(session, {"甘井子区": 2})[0]
    conclude(session, [worker], "符合", evidence="入户核查")
    conclude(session, [worker], "退回", reason="请核实再就业情况", by="shengzong_baozhang1")
    worker.review_conclusion, worker.returned_reason = None, "请核实再就业情况"
    conclude(session, [worker], "符合", evidence="社保无缴费")
    worker.confirmed_at, worker.aid_amount = utcnow(), Decimal("3000.00")
    pay(session, [worker], 1, [PaymentStatus.FAILED], reasons=["社保卡金融功能未激活"])
    failed = session.scalars(select(AidPayment).where(AidPayment.worker_id == worker.id)).one()
    failed.corrected_by_id, failed.corrected_at = user(session, "ganjingzi1").id, utcnow()
    worker.card_number = "6222020000000000013"[:-1] + "8"  # the corrected card (any 19 digits; masked anyway)
    session.flush()
    pay(session, [worker], 2, [PaymentStatus.PAID])
    return worker


def test_the_worker_record_lists_every_conclusion_and_payment_attempt(world: Session) -> None:
    worker = returned_and_repaid(world)

    record = worker_record(world, worker)

    assert [r.conclusion for r in record.reviews] == ["符合", "退回", "符合"]
    assert str(record.reviews[0].by) == "马晓东（甘井子区总工会）"
    assert record.reviews[1].reason == "请核实再就业情况" and record.reviews[1].by.name == "唐文静"
    attempts = [(p.batch_number, p.status) for p in record.payments]
    assert attempts == [(f"DL{YEAR}-001", "失败"), (f"DL{YEAR}-002", "成功")]
    assert record.payments[0].failure_reason == "社保卡金融功能未激活"
    assert record.payments[0].corrected_by is not None and record.payments[0].corrected_by.name == "马晓东"
    assert record.payments[1].result_by is not None and record.payments[1].result_by.name == "刘丽娟"
    assert record.resident_id.count("*") == 8 and worker.resident_id not in repr(record)
    assert worker.card_number not in repr(record)


def test_the_worker_record_pdf(client: FlaskClient, auth: AuthActions, app_db: Session) -> None:
    worker = returned_and_repaid(app_db)
    app_db.commit()
    auth.login("ganjingzi1")

    answer = client.get(f"/aid/workers/{worker.id}/record.pdf")

    assert answer.status_code == 200
    text = compact("".join(pdf_pages(answer.data)))
    assert worker.name in text and worker.enterprise_name in text and "内部退养" in text
    assert worker.resident_id not in text and worker.resident_id[-4:] in text
    assert worker.card_number not in text and worker.mobile not in text
    assert "退回" in text and "请核实再就业情况" in text and "唐文静（辽宁省总工会）" in text
    assert "社保卡金融功能未激活" in text and f"DL{YEAR}-002" in text and "3,000.00" in text
    assert "刘丽娟" in text and "马晓东" in text


# --- Who may fetch what ----------------------------------------------------------------------------------------

CITY_DOCUMENTS = ("summary.pdf", "summary.xlsx", "roster.pdf", "reconciliation.pdf", "reconciliation.xlsx")


@pytest.fixture
def listed(app_db: Session) -> list[AidWorker]:
    workers = confirmed_list(app_db, {"甘井子区": 2, "中山区": 1})
    app_db.commit()
    return workers


@pytest.mark.parametrize("username", ["baozhang1", "caiwu1", "shengzong_baozhang1"])
def test_the_city_and_province_holders_fetch_every_document(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker], username: str
) -> None:
    auth.login(username)
    for name in CITY_DOCUMENTS:
        assert client.get(f"/aid/{YEAR}/{DALIAN}/{name}").status_code == 200, name
    assert client.get(f"/aid/workers/{listed[0].id}/record.pdf").status_code == 200


@pytest.mark.parametrize("username", ["ganjingzi1", "admin", "jingji1", "shengzong_jingji1"])
def test_nobody_else_finds_the_city_documents(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker], username: str
) -> None:
    auth.login(username)
    for name in CITY_DOCUMENTS:
        assert client.get(f"/aid/{YEAR}/{DALIAN}/{name}").status_code == 404, name


def test_a_district_sees_its_own_workers_record_only(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker]
) -> None:
    auth.login("ganjingzi1")
    assert client.get(f"/aid/workers/{listed[0].id}/record.pdf").status_code == 200
    assert client.get(f"/aid/workers/{listed[2].id}/record.pdf").status_code == 404  # 中山区's
    assert client.get("/aid/workers/999999/record.pdf").status_code == 404


@pytest.mark.parametrize("path", [f"/aid/{YEAR + 1}/{DALIAN}/roster.pdf", f"/aid/{YEAR}/210211/roster.pdf",
                                  f"/aid/{YEAR}/999999/summary.xlsx", f"/aid/{YEAR}/210000/summary.pdf"])  # fmt: skip
def test_an_unknown_year_or_a_unit_that_is_no_city_is_not_found(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker], path: str
) -> None:
    auth.login("shengzong_baozhang1")
    assert client.get(path).status_code == 404


def test_find_city_needs_a_city_that_was_sent_workers(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 1})
    assert find_city(world, DALIAN, YEAR) is not None
    assert find_city(world, DALIAN, YEAR + 1) is None
    assert find_city(world, "210211", YEAR) is None  # a district


def test_an_id_typed_into_a_reason_is_masked_in_the_pdf_and_the_excel(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    workers = imported_list(app_db, {"甘井子区": 2})
    typed = f"户主身份证{workers[1].resident_id}已就业"
    conclude(app_db, workers[:1], "不符合", reason=typed)
    app_db.commit()
    # The data keeps what was typed; documents print it through `redact`, as every opinion in the app.
    assert review_summary(app_db, dalian(app_db), YEAR).districts[0].reasons[0].reason == typed
    auth.login("baozhang1")
    text = compact("".join(pdf_pages(client.get(f"/aid/{YEAR}/{DALIAN}/summary.pdf").data)))
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/aid/{YEAR}/{DALIAN}/summary.xlsx").data))
    cells = repr([list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets])
    for document in (text, cells):
        assert workers[1].resident_id not in document and compact(redact(typed)) in compact(document)


def test_the_excel_escapes_formulas(world: Session) -> None:
    data = write_xlsx_sheets([("表", ["原因"], [["=HYPERLINK(\"http://x\")"]])])
    cell = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]["A2"]
    assert cell.data_type == "s" and cell.value == "'=HYPERLINK(\"http://x\")"
