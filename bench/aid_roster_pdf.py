"""The payment roster (发放花名册) PDF at scale (issue #6 "Scale": the 1,000-row roster PDF); time and memory.

Writes N confirmed workers of 大连 (spread over 9 districts, distinct amounts) and a first payment batch for 60% of
them (one in ten failed) with bulk inserts on a seeded SQLite file, not through the importer; then builds the roster
(workflows.aid.reports.payment_roster: query, latest payment per worker, pagination), renders the template and lays
it out with WeasyPrint (webapp.records.html_to_pdf): once cold (fonts loaded on first use), then 3 times warm.
Prints each phase's wall time (cold, and the warm runs' median), WeasyPrint's CPU time (steadier than wall time
when other processes share the cores), the pages, the process's peak resident memory and the ratio to issue #9's
target (6 s); checks that the PDF has exactly the pages the pagination made (no row spilled over a page, so every
本页合计 is right) and that its first page shows the first worker and its 本页合计.

    .venv/bin/python bench/aid_roster_pdf.py [rows] [html-file]     # default 1000 rows; optionally keep the HTML
"""

from __future__ import annotations

import io
import os
import platform
import resource
import statistics
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
from webapp.aid_documents import roster_context  # noqa: E402
from webapp.records import RECORD_LOCALE, html_to_pdf  # noqa: E402
from workflows.aid.reports import RosterRow, payment_roster  # noqa: E402
from workflows.db import Base, make_engine, utcnow  # noqa: E402
from workflows.demo import seed_demo  # noqa: E402
from workflows.models import AidBatch, AidImport, AidPayment, AidWorker, OrgUnit  # noqa: E402
from workflows.policy.parameters import seed_policy_parameters  # noqa: E402

YEAR = 2017
WARM_RUNS = 3
TARGET_S = 6.0  # issue #9: a 1,000-row payment roster PDF
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


def build(session: Session, city: OrgUnit, html_out: Path | None) -> tuple[dict[str, float], int, int, str]:
    """One roster PDF: each phase's wall time, WeasyPrint's CPU time; the pages, bytes and first page's text."""
    started = time.perf_counter()
    roster = payment_roster(session, city, YEAR)
    queried = time.perf_counter()
    with force_locale(RECORD_LOCALE):
        html = render_template("aid/documents/roster.html", generated_at=utcnow(), **roster_context(roster))
    rendered = time.perf_counter()
    if html_out is not None:
        html_out.write_text(html)
    cpu = time.process_time()
    pdf = html_to_pdf(html)
    cpu = time.process_time() - cpu
    laid_out = time.perf_counter()
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    # No row spilled over a page, so every 本页合计 sums the rows printed above it.
    assert len(reader.pages) == len(roster.pages), f"{len(reader.pages)} PDF pages for {len(roster.pages)} pages"
    phases = {"data": queried - started, "template": rendered - queried, "WeasyPrint": laid_out - rendered,
              "WeasyPrint CPU": cpu, "total": laid_out - started}  # fmt: skip
    return phases, len(reader.pages), len(pdf), reader.pages[0].extract_text()


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000
    html_out = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        with Session(engine) as session, session.begin():
            seed_policy_parameters(session)  # the demo's plans name parameters (issue #8)
            seed_demo(session)
            write_list(session, rows)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "TESTING": True})
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        runs = []
        with app.test_request_context(), Session(engine) as session:
            city = session.scalars(select(OrgUnit).where(OrgUnit.code == "210200")).one()
            for _ in range(1 + WARM_RUNS):
                runs.append(build(session, city, html_out))
            roster = payment_roster(session, city, YEAR)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        engine.dispose()
    _, pages, size, first_page = runs[0]
    first = roster.pages[0].lines[0]
    assert isinstance(first, RosterRow) and first.name in first_page and "本页合计" in first_page, first_page[:300]
    warm = {phase: statistics.median(run[0][phase] for run in runs[1:]) for phase in runs[0][0]}
    print(f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, SQLite file; {rows} rows "
          f"({roster.count} confirmed, total {roster.amount:,.2f} 元), {pages} pages, "
          f"{size / 1e6:.2f} MB\n")  # fmt: skip
    print("| run | data s | template s | WeasyPrint s | WeasyPrint CPU s | total s |")
    print("|---|---|---|---|---|---|")
    for label, phases in (("cold", runs[0][0]), (f"warm (median of {WARM_RUNS})", warm)):
        print(f"| {label} | " + " | ".join(f"{value:.2f}" for value in phases.values()) + " |")
    print(f"\npeak RSS {peak / 1024:.0f} MB (+{(peak - before) / 1024:.0f} MB while building the PDFs)")
    print(f"warm total / target {TARGET_S:.0f} s = {warm['total'] / TARGET_S:.2f} "
          f"({'met' if warm['total'] < TARGET_S else 'NOT met'})")  # fmt: skip


if __name__ == "__main__":
    main()
