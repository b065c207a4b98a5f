"""The payment roster (发放花名册) PDF at scale (issue #6 "Scale": the 1,000-row roster PDF); time and memory.

Writes N confirmed workers of 大连 (spread over 9 districts, distinct amounts) and a first payment batch for 60% of
them (one in ten failed) with bulk inserts on a seeded SQLite file, not through the importer; then builds the roster
(workflows.aid.reports.payment_roster: query, latest payment per worker, pagination), renders the template and lays
it out with WeasyPrint (webapp.records.html_to_pdf), twice: cold (fonts loaded on first use) and warm. Prints each
phase's time, the pages, and the process's peak resident memory; checks that the PDF has exactly the pages the
pagination made (no row spilled over a page, so every 本页合计 is right).

    .venv/bin/python bench/aid_roster_pdf.py [rows]        # default 1000
"""

from __future__ import annotations

import io
import resource
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pypdf  # noqa: E402
from flask import render_template  # noqa: E402
from flask_babel import force_locale  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from tests.workflow_helpers import user  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.records import RECORD_LOCALE, html_to_pdf  # noqa: E402
from workflows.aid.reports import payment_roster  # noqa: E402
from workflows.db import Base, make_engine, utcnow  # noqa: E402
from workflows.demo import seed_demo  # noqa: E402
from workflows.models import AidBatch, AidImport, AidPayment, AidWorker, OrgUnit  # noqa: E402

YEAR = 2017
DISTRICTS = ("210202", "210203", "210204", "210211", "210212", "210213", "210214", "210281", "210283")
NAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"


def write_list(session: Session, rows: int) -> None:
    """N confirmed workers and one batch for 60% of them, by bulk INSERTs (the importer is benchmarked elsewhere)."""
    drafter = user(session, "shengzong_baozhang1")
    wanted = select(OrgUnit).where(OrgUnit.code.in_(("210200", *DISTRICTS)))
    units = {unit.code: unit for unit in session.scalars(wanted)}
    city = units["210200"]
    aid_import = AidImport(year=YEAR, source_filename="bench.xlsx", source_sha256="0" * 64, row_count=rows,
                           imported_by_id=drafter.id)  # fmt: skip
    session.add(aid_import)
    session.flush()
    now = utcnow()
    workers = []
    for n in range(rows):
        district = units[DISTRICTS[n % len(DISTRICTS)]]
        # Every fifth enterprise name is long: the roster cuts text with an ellipsis instead of wrapping a row.
        workers.append({
            "import_id": aid_import.id, "year": YEAR, "row_number": n + 2,
            "name": NAMES[n % 20] + NAMES[(n // 20) % 20] + ("欧阳" if n % 7 == 0 else ""),
            "resident_id": f"{district.code}196201{1 + n // 1000:02d}{n % 1000:03d}X", "sex": "男",
            "placement_type": "内部退养" if n % 2 else "买断解除劳动关系",
            "enterprise_name": "大连钢铁集团有限公司", "enterprise_uscc": "91210211MA0Q3R5K70",
            "city": "大连市", "district": district.name, "city_unit_id": city.id, "district_unit_id": district.id,
            "mobile": f"139{n:08d}",
            "bank_name": "中国工商银行股份有限公司大连甘井子支行营业部" if n % 5 == 0 else "中国工商银行大连分行",
            "card_number": f"622202{n:013d}", "review_conclusion": "符合", "confirmed_at": now,
            "aid_amount": Decimal("1500.00") + Decimal(n % 300) * Decimal("5.25"),
        })  # fmt: skip
    session.execute(insert(AidWorker), workers)
    paid = list(session.execute(select(AidWorker.id, AidWorker.aid_amount, AidWorker.card_number)))[: rows * 6 // 10]
    batch = AidBatch(year=YEAR, city_unit_id=city.id, sequence=1, batch_number=f"DL{YEAR}-001", row_count=len(paid),
                     total=sum((amount for _, amount, _ in paid), Decimal("0.00")),
                     created_by_id=user(session, "caiwu1").id)  # fmt: skip
    session.add(batch)
    session.flush()
    session.execute(insert(AidPayment), [
        {"batch_id": batch.id, "worker_id": worker_id, "amount": amount, "bank_name": "中国工商银行大连分行",
         "card_number": card, "status": "失败" if i % 10 == 0 else "成功",
         "failure_reason": "账户已冻结" if i % 10 == 0 else "", "paid_on": None if i % 10 == 0 else date(2018, 3, 20)}
        for i, (worker_id, amount, card) in enumerate(paid)
    ])  # fmt: skip


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            seed_demo(session)
            write_list(session, rows)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with app.test_request_context(), Session(engine) as session:
            city = session.scalars(select(OrgUnit).where(OrgUnit.code == "210200")).one()
            for run in ("cold", "warm"):
                started = time.perf_counter()
                roster = payment_roster(session, city, YEAR)
                queried = time.perf_counter()
                with force_locale(RECORD_LOCALE):
                    html = render_template("aid/documents/roster.html", roster=roster, generated_at=utcnow())
                rendered = time.perf_counter()
                if len(sys.argv) > 2:
                    Path(sys.argv[2]).write_text(html)
                pdf = html_to_pdf(html)
                laid_out = time.perf_counter()
                pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
                assert pages == len(roster.pages), f"{pages} PDF pages for {len(roster.pages)} roster pages"
                print(f"| {run} | data {queried - started:.2f} s | template {rendered - queried:.2f} s "
                      f"| WeasyPrint {laid_out - rendered:.2f} s | total {laid_out - started:.2f} s "
                      f"| {pages} pages, {len(pdf) / 1e6:.2f} MB |")  # fmt: skip
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        engine.dispose()
    print(f"{rows} rows ({roster.count} confirmed, total {roster.amount:,.2f} 元), SQLite file")
    print(f"peak RSS {peak / 1024:.0f} MB (+{(peak - before) / 1024:.0f} MB while building the two PDFs)")


if __name__ == "__main__":
    main()
