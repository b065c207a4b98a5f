"""The bank file at scale (issue #6 "Scale", issue #9 §4): a payment batch of N confirmed workers and its files.

Bulk-inserts N confirmed workers (spread over 大连's districts, 3,000 yuan each) into a seeded SQLite file, without
the importer (bench/aid_import.py measures that), then times the real operations: `create_batch` (query, bulk
insert of the payment rows, audit event, commit), the 代发清单 as .xlsx and as .csv, and prints the process's peak
resident memory.

    .venv/bin/python bench/aid_bank_file.py [rows]        # default 20000
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from stdnum import luhn  # noqa: E402

from bench.aid_import import seed  # noqa: E402
from forms.identity import resident_id_check_character  # noqa: E402
from tests.workflow_helpers import user  # noqa: E402
from workflows.aid.payment import batch_file_csv, batch_file_xlsx, create_batch, load_batch  # noqa: E402
from workflows.db import make_engine, utcnow  # noqa: E402
from workflows.models import AidImport, AidWorker  # noqa: E402
from workflows.organisation import unit_by_code  # noqa: E402

YEAR = 2017
DISTRICTS = ("210202", "210203", "210204", "210211", "210212", "210213", "210214", "210281", "210283")


def confirmed_workers(session: Session, rows: int) -> None:
    """N confirmed 内退 workers with unique IDs and cards, bulk-inserted under one AidImport row."""
    drafter = user(session, "shengzong_baozhang1")
    aid_import = AidImport(year=YEAR, source_filename="bench", source_sha256="0" * 64, row_count=rows,
                           imported_by_id=drafter.id)  # fmt: skip
    session.add(aid_import)
    session.flush()
    city = unit_by_code(session, "210200").id
    districts = [unit_by_code(session, code).id for code in DISTRICTS]
    now = utcnow()
    values = []
    for n in range(rows):
        born = date(1958, 1, 1) + timedelta(days=n % 1600)
        first17 = f"210211{born:%Y%m%d}{((n // 1600) * 2 + 1) % 1000:03d}"
        prefix = f"62220200{n:07d}"
        card = prefix + luhn.calc_check_digit(prefix)
        values.append({
            "import_id": aid_import.id, "year": YEAR, "row_number": n + 2, "name": f"职工{chr(0x4E00 + n % 20000)}",
            "resident_id": first17 + resident_id_check_character(first17), "sex": "男", "placement_type": "内部退养",
            "internal_retirement_start": date(2017, 6, 1), "statutory_retirement_on": born.replace(year=born.year + 60),
            "enterprise_name": "大连钢铁集团有限公司", "enterprise_uscc": "91210211MA0Q3R5K70", "city": "大连市",
            "district": "", "city_unit_id": city, "district_unit_id": districts[n % len(districts)],
            "mobile": f"139{n:08d}", "bank_name": "中国工商银行大连分行", "card_number": card,
            "review_conclusion": "符合", "confirmed_at": now, "aid_amount": Decimal("3000.00"),
        })  # fmt: skip
    session.execute(insert(AidWorker), values)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        seed(engine)
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            confirmed_workers(session, rows)
        arranged = time.perf_counter() - started
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        with Session(engine) as session, session.begin():
            batch = create_batch(session, user(session, "baozhang1"), YEAR, unit_by_code(session, "210200").id)
            batch_id, number, count, total = batch.id, batch.batch_number, batch.row_count, batch.total
        created = time.perf_counter() - started
        with Session(engine) as session:
            started = time.perf_counter()
            loaded = load_batch(session, batch_id)
            assert loaded is not None
            load_time = time.perf_counter() - started
            started = time.perf_counter()
            xlsx = batch_file_xlsx(loaded)
            xlsx_time = time.perf_counter() - started
            started = time.perf_counter()
            text = batch_file_csv(loaded)
            csv_time = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
        engine.dispose()
    print(f"{rows} confirmed workers bulk-inserted in {arranged:.1f} s, SQLite file")
    print(f"| create_batch ({count} rows, {total} yuan, {number}) + commit | {created:.2f} s |")
    print(f"| load the batch (its files query their rows, issue #9) | {load_time:.2f} s |")
    print(f"| 代发清单 .xlsx ({len(xlsx) / 1e6:.1f} MB) | {xlsx_time:.2f} s |")
    print(f"| 代发清单 .csv ({len(text) / 1e6:.1f} MB) | {csv_time:.2f} s |")
    print(f"peak RSS {peak / 1024:.0f} MB (+{(peak - before) / 1024:.0f} MB from the batch on)")


if __name__ == "__main__":
    main()
