"""Aid lists for tests of the later steps (confirmation, payment, documents): imported through the real import.

`confirmed_list` stands in for the steps before payment (review, province confirmation, amounts) by writing their
outcome on the rows directly; the process tests (tests/test_aid_process.py) drive those steps for real.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.test_aid_validation import card, internal, resident_id, xlsx
from tests.workflow_helpers import complete, user
from workflows.aid.importing import import_aid_list
from workflows.aid.process import dispatch_aid_list
from workflows.aid.review import ReviewInput, record_review
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.models import AidWorker, ProcessInstance, TaskIndexEntry, TaskStatus
from workflows.operations import Completion, complete_task

YEAR = 2017
DISTRICTS = {"甘井子区": "210211", "中山区": "210202", "西岗区": "210203"}
SURNAMES = "王李张刘陈杨赵黄周吴"
GIVEN = "建国秀英志强桂兰明华玉梅德胜丽娟"


def aid_row(n: int, district: str = "甘井子区") -> dict[str, str]:
    """The n-th distinct 内退 worker of a test list (unique name, ID and card), living in `district` of 大连市, or in
    the district of another city written "沈阳市·和平区"."""
    city, _, district = district.rpartition("·")
    name = SURNAMES[n % 10] + GIVEN[(n // 10) % 14] + GIVEN[(n // 140) % 14]
    return internal(
        姓名=name, 身份证号=resident_id(region=DISTRICTS.get(district, "210211"), sequence=f"{(2 * n + 1) % 1000:03d}",
                                     born=f"1962{1 + n // 500 % 12:02d}14"),
        银行卡号=card(f"622202{n:09d}"), 所在市=city or "大连市", 所在区县=district,
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


DALIAN = "210200"
PLAN = "请各单位按期逐人审查。"


def dispatched_case(session: Session, year: int = YEAR) -> ProcessInstance:
    """下发: the province starts the year's cases; returns 大连's."""
    cases = dispatch_aid_list(session, user(session, "shengzong_baozhang1"), year)
    return next(case for case in cases if case.home_unit.code == DALIAN)


def distributed_list(
    session: Session, counts: dict[str, int], year: int = YEAR
) -> tuple[ProcessInstance, list[AidWorker]]:
    """An imported list that the province dispatched and 大连's livelihood department distributed to its districts."""
    workers = imported_list(session, counts, year)
    return distribute_dalian(session, year), workers


def distribute_dalian(session: Session, year: int = YEAR) -> ProcessInstance:
    """下发 and 分发: the province dispatches the imported list and 大连 sends each district its part."""
    case = dispatched_case(session, year)
    deadline = (beijing_today() + timedelta(days=30)).isoformat()
    complete(session, "baozhang1", case, "distribute", {"review_deadline": deadline, "opinion": PLAN})
    return case


def unit_task(session: Session, case: ProcessInstance, bpmn_id: str, username: str) -> TaskIndexEntry:
    """The open instance of a per-district step that `username`'s union holds."""
    holder = user(session, username)
    entry = session.scalar(
        select(TaskIndexEntry).where(
            TaskIndexEntry.instance_id == case.id,
            TaskIndexEntry.bpmn_id == bpmn_id,
            TaskIndexEntry.org_unit_id == holder.org_unit_id,
            TaskIndexEntry.status == TaskStatus.READY.value,
        )
    )
    assert entry is not None, f"{username} holds no open {bpmn_id}"
    return entry


def complete_unit_step(
    session: Session, username: str, case: ProcessInstance, bpmn_id: str, opinion: str = "已全部审查。"
) -> Completion:
    entry = unit_task(session, case, bpmn_id, username)
    return complete_task(session, user(session, username), case.id, entry.task_id, {"opinion": opinion})


def review_all(session: Session, username: str, year: int = YEAR, conclusion: str = "符合") -> None:
    """The union of `username` concludes every pending row of its part."""
    official = user(session, username)
    pending = session.scalars(
        select(AidWorker.id).where(
            AidWorker.year == year,
            AidWorker.district_unit_id == official.org_unit_id,
            AidWorker.review_conclusion.is_(None),
        )
    ).all()
    reason = "" if conclusion == "符合" else "家庭收入高于当地困难职工标准"
    record_review(session, official, year, list(pending), ReviewInput(conclusion, reason, evidence="入户走访"))
