"""The district's review grid (issue #6 step 2): its own part only, paged and filtered, conclusions one or many.

Workers are imported through the real import (甘井子区 gets `GANJINGZI` workers, 中山区 one), then 甘井子区's
officials review them through the operation and the page.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.aid_helpers import distribute_dalian
from tests.conftest import AuthActions
from tests.test_aid_validation import buyout, card, internal, resident_id, xlsx
from tests.workflow_helpers import user
from workflows.aid.importing import import_aid_list
from workflows.aid.review import (
    ReviewFilter,
    ReviewInput,
    ReviewStatus,
    record_review,
    review_history,
    review_page,
    review_progress,
)
from workflows.errors import NotFound
from workflows.models import AidWorker, AuditEvent

YEAR = 2017
GANJINGZI = 60


def ganjingzi_worker(n: int) -> dict[str, str]:
    return internal(
        姓名=f"职工{'甲乙丙丁戊己庚辛壬癸'[n % 10]}{'一二三四五六七八九十'[n // 10 % 10]}",
        身份证号=resident_id(sequence=f"{2 * n + 1:03d}"), 银行卡号=card(f"622202000{n:06d}"),
    )  # fmt: skip


def import_list(session: Session) -> list[AidWorker]:
    rows = [ganjingzi_worker(n) for n in range(GANJINGZI)] + [buyout()]
    import_aid_list(session, user(session, "shengzong_baozhang1"), YEAR, xlsx(rows), "名单.xlsx")
    distribute_dalian(session, YEAR)
    return list(session.scalars(select(AidWorker).order_by(AidWorker.row_number)))


def test_a_district_pages_through_its_own_part_only(world: Session) -> None:
    workers = import_list(world)
    official = user(world, "ganjingzi1")

    first = review_page(world, official, YEAR, ReviewFilter(), page=1, per_page=50)
    second = review_page(world, official, YEAR, ReviewFilter(), page=2, per_page=50)

    assert (first.total, first.pages, len(first.items), len(second.items)) == (GANJINGZI, 2, 50, 10)
    assert [w.row_number for w in first.items][:3] == [2, 3, 4]
    assert all(w.district_unit_id == official.org_unit_id for w in [*first.items, *second.items])
    zhongshan = review_page(world, user(world, "zhongshan1"), YEAR, ReviewFilter())
    assert [w.name for w in zhongshan.items] == ["李秀英"] and workers[-1].name == "李秀英"


def test_bulk_conclusion_filters_and_progress(world: Session) -> None:
    workers = import_list(world)
    official = user(world, "ganjingzi1")
    chosen = [w.id for w in workers[:5]]

    record_review(world, official, YEAR, chosen, ReviewInput("符合", evidence="入户走访，收入低于标准"))
    record_review(world, official, YEAR, [workers[5].id], ReviewInput("不符合", "已再就业", "2017-08-01"))

    assert review_progress(world, official, YEAR).reviewed == 6
    assert review_progress(world, official, YEAR).complete is False
    done = review_page(world, official, YEAR, ReviewFilter(ReviewStatus.DONE))
    assert [(w.review_conclusion, w.reviewed_by_id) for w in done.items][-1] == ("不符合", official.id)
    assert str(done.items[-1].reemployed_on) == "2017-08-01"
    assert review_page(world, official, YEAR, ReviewFilter(ReviewStatus.PENDING)).total == GANJINGZI - 6
    assert review_page(world, official, YEAR, ReviewFilter(search=workers[0].resident_id[-4:])).total >= 1
    events = world.scalars(select(AuditEvent).where(AuditEvent.action == "aid.reviewed")).all()
    assert len(events) == 2

    record_review(world, official, YEAR, [w.id for w in workers[6:GANJINGZI]], ReviewInput("符合"))
    assert review_progress(world, official, YEAR).complete is True


def test_a_changed_conclusion_keeps_the_earlier_one_in_the_history(world: Session) -> None:
    workers = import_list(world)
    first, second = user(world, "ganjingzi1"), user(world, "ganjingzi2")
    record_review(world, first, YEAR, [workers[0].id], ReviewInput("不符合", "家庭收入高于标准", evidence="收入证明"))
    record_review(world, second, YEAR, [workers[0].id], ReviewInput("符合", evidence="复核：收入证明有误"))

    assert (workers[0].review_conclusion, workers[0].review_reason) == ("符合", "")
    history = review_history(world, workers[0])
    assert [(r.conclusion, r.reason, r.evidence, r.reviewed_by_id) for r in history] == [
        ("不符合", "家庭收入高于标准", "收入证明", first.id),
        ("符合", "", "复核：收入证明有误", second.id),
    ]


@pytest.mark.parametrize("search", ["\\", "%", "_", "19620514%", "19620514"])
def test_the_search_box_is_text_not_a_pattern(world: Session, search: str) -> None:
    """LIKE wildcards match themselves; an ID is searched by its end only (the grid masks its middle)."""
    import_list(world)
    found = review_page(world, user(world, "ganjingzi1"), YEAR, ReviewFilter(search=search))
    assert found.total == 0


@pytest.mark.parametrize(
    ("review", "field"),
    [
        (ReviewInput(""), "conclusion"),
        (ReviewInput("不符合"), "reason"),
        (ReviewInput("符合", reemployed_on="2017-13-01"), "reemployed_on"),
        (ReviewInput("符合", reemployed_on="2999-01-01"), "reemployed_on"),
        (ReviewInput("符合", evidence="证" * 501), "evidence"),
    ],
)
def test_a_bad_conclusion_changes_nothing(world: Session, review: ReviewInput, field: str) -> None:
    workers = import_list(world)
    with pytest.raises(FormValidationError) as refused:
        record_review(world, user(world, "ganjingzi1"), YEAR, [workers[0].id], review)
    assert list(refused.value.errors) == [field]
    assert workers[0].review_conclusion is None


def test_workers_of_another_union_cannot_be_reviewed_even_mixed_in(world: Session) -> None:
    workers = import_list(world)
    with pytest.raises(NotFound):
        record_review(world, user(world, "ganjingzi1"), YEAR, [workers[0].id, workers[-1].id], ReviewInput("符合"))
    assert workers[0].review_conclusion is None


# --- The page -----------------------------------------------------------------------------------------------------


@pytest.fixture
def listed(app_db: Session) -> list[AidWorker]:
    """The year's list imported and committed, so the app's requests see it."""
    workers = import_list(app_db)
    app_db.commit()
    return workers


def test_the_grid_masks_ids_and_applies_one_conclusion_to_the_selected(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker]
) -> None:
    workers = listed
    auth.login("ganjingzi1")
    page = client.get(f"/aid/review?year={YEAR}").get_data(as_text=True)
    assert 'href="/aid/review"' in page  # the topbar links the grid
    assert workers[0].resident_id not in page and workers[0].resident_id[-4:] in page
    assert "已审查 0 / 60 人" in page and 'rel="next"' in page

    answer = client.post(
        f"/aid/review?year={YEAR}",
        data={"worker_id": [str(w.id) for w in workers[:3]], "conclusion": "符合", "evidence": "入户核实"},
    )

    assert answer.status_code == 302
    after = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "已记录 3 人的审查结论：符合" in after and "已审查 3 / 60 人" in after


def test_the_reviewer_chooses_a_larger_page_and_keeps_it_after_a_submission(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker]
) -> None:
    workers = listed
    auth.login("ganjingzi1")
    page = client.get(f"/aid/review?year={YEAR}&per_page=100").get_data(as_text=True)
    assert page.count('name="worker_id"') == GANJINGZI and 'rel="next"' not in page
    assert workers[0].mobile not in page and workers[0].mobile[-4:] in page  # masked
    answer = client.post(
        f"/aid/review?year={YEAR}&per_page=100", data={"worker_id": [str(workers[0].id)], "conclusion": "符合"}
    )
    assert "per_page=100" in answer.headers["Location"]
    assert client.get(f"/aid/review?year={YEAR}&per_page=7").get_data(as_text=True).count('name="worker_id"') == 50


def test_the_grid_shows_the_problem_and_keeps_the_selection(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker]
) -> None:
    workers = listed
    auth.login("ganjingzi1")
    answer = client.post(f"/aid/review?year={YEAR}", data={"worker_id": [str(workers[0].id)], "conclusion": "不符合"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "不符合原因：结论为“不符合”时必须填写" in page
    assert f'value="{workers[0].id}" checked' in page


def test_a_union_without_a_list_sees_an_empty_page_and_others_find_nothing(
    client: FlaskClient, auth: AuthActions, listed: list[AidWorker]
) -> None:
    workers = listed
    auth.login("xigang1")
    assert "本单位目前没有需要审查的援助名单" in client.get("/aid/review").get_data(as_text=True)
    forged = client.post(f"/aid/review?year={YEAR}", data={"worker_id": [str(workers[0].id)], "conclusion": "符合"})
    assert forged.status_code == 404
    auth.logout()
    auth.login("admin")
    assert client.get("/aid/review").status_code == 404
