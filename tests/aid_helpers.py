"""Aid lists for tests of the later steps (confirmation, payment, documents): imported through the real import.

`confirmed_list` stands in for the steps before payment (review, province confirmation, amounts) by writing their
outcome on the rows directly; the process tests (tests/test_aid_process.py) drive those steps for real.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.test_aid_validation import card, internal, resident_id, xlsx
from tests.workflow_helpers import user
from workflows.aid.importing import import_aid_list
from workflows.db import utcnow
from workflows.models import AidWorker

YEAR = 2017
DISTRICTS = {"甘井子区": "210211", "中山区": "210202", "西岗区": "210203"}
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = "建国秀英志强桂兰明华玉梅德胜丽娟"


def aid_row(n: int, district: str = "甘井子区") -> dict[str, str]:
    """The n-th distinct 内退 worker of a test list (unique name, ID and card), living in `district`."""
    name = SURNAMES[n % 10] + GIVEN[(n // 10) % 14] + GIVEN[(n // 140) % 14]
    return internal(
        姓名=name, 身份证号=resident_id(region=DISTRICTS.get(district, "210211"), sequence=f"{(2 * n + 1) % 1000:03d}",
                                     born=f"1962{1 + n // 500 % 12:02d}14"),
        银行卡号=card(f"622202{n:09d}"), 所在区县=district,
    )  # fmt: skip


def imported_list(session: Session, counts: dict[str, int], year: int = YEAR) -> list[AidWorker]:
    """Import a list with `counts[district]` workers per district of 大连市, as the province's drafter; flushes."""
    rows, n = [], 0
    for district, count in counts.items():
        for _ in range(count):
            rows.append(aid_row(n, district))
            n += 1
    import_aid_list(session, user(session, "shengzong_baozhang1"), year, xlsx(rows), "名单.xlsx")
    return list(session.scalars(select(AidWorker).where(AidWorker.year == year).order_by(AidWorker.row_number)))


def confirmed_list(
    session: Session, counts: dict[str, int], year: int = YEAR, amount: Decimal = Decimal("3000.00")
) -> list[AidWorker]:
    """An imported list whose every row was found 符合 and confirmed by the province with `amount`; flushes."""
    workers = imported_list(session, counts, year)
    reviewer, now = user(session, "ganjingzi1"), utcnow()
    for worker in workers:
        worker.review_conclusion, worker.reviewed_by_id, worker.reviewed_at = "符合", reviewer.id, now
        worker.confirmed_at, worker.aid_amount = now, amount
    session.flush()
    return workers
