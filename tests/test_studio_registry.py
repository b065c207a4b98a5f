"""The notice period on the working-day calendar, and the registry's annual assessment (yellow and red cards)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.orm import Session

from forms import FormValidationError
from tests.studio_helpers import Clock, named_studio, open_studio_call, to_notice
from tests.workflow_helpers import complete, open_steps, user
from workflows.errors import OperationRefused
from workflows.models import StudioStanding
from workflows.studio.notice import case_notice, notice_period
from workflows.studio.registry import assess_studio, due_for_assessment, funding_problem, recheck_studio
from workflows.working_days import set_working_day


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def test_notice_period_counts_working_days_across_national_day() -> None:
    # 2026: 1–7 October are holidays; Saturday 10 October is a 调休 working day (State Council, chinese_calendar).
    assert notice_period(date(2026, 9, 29), 5, {}) == date(2026, 10, 10)
    # Published on a Saturday: the first working day after it is day one.
    assert notice_period(date(2026, 11, 21), 5, {}) == date(2026, 11, 27)


def test_notice_period_in_a_year_the_package_does_not_know_uses_the_table(world: Session) -> None:
    # 2027 is not in chinese_calendar 1.11: weekends only, plus what the administrators enter.
    assert notice_period(date(2027, 9, 29), 5, {}) == date(2027, 10, 5)
    assert notice_period(date(2027, 9, 29), 5, {date(2027, 10, 1): False}) == date(2027, 10, 6)


def test_notice_across_a_public_holiday_closes_after_its_last_working_day(world: Session, clock: Clock) -> None:
    clock.set(date(2026, 9, 29))
    open_studio_call(world, deadline=date(2026, 10, 31))
    case = to_notice(world)
    notice = case_notice(world, case)
    assert (notice.starts_on, notice.ends_on, notice.working_days) == (date(2026, 9, 29), date(2026, 10, 10), 5)
    clock.set(date(2026, 10, 10))
    with pytest.raises(FormValidationError) as early:
        complete(world, "jingji1", case, "notice", {"opinion": "公示期满。"})
    assert "2026-10-10 届满" in early.value.errors["opinion"]
    clock.set(date(2026, 10, 11))
    complete(world, "jingji1", case, "notice", {"opinion": "公示期满，未收到异议。"})
    assert open_steps(world, case) == ["naming"]


def test_notice_uses_the_administrators_table(world: Session, clock: Clock) -> None:
    set_working_day(world, date(2026, 9, 30), False, "本地停工（测试）", user(world, "admin"))
    clock.set(date(2026, 9, 29))
    open_studio_call(world, deadline=date(2026, 10, 31))
    notice = case_notice(world, to_notice(world))
    assert notice.ends_on == date(2026, 10, 12)


def test_yellow_card_then_cleared(world: Session, clock: Clock) -> None:
    studio = named_studio(world, clock)
    head = user(world, "jingji1")
    assert studio in due_for_assessment(world, studio.city_unit_id, 2026)
    with pytest.raises(FormValidationError) as no_deadline:
        assess_studio(world, studio, head, 2026, "黄牌", "培训台账缺失。")
    assert "整改期限" in no_deadline.value.errors["rectification_deadline"]
    assess_studio(world, studio, head, 2026, "黄牌", "培训台账缺失。", date(2027, 3, 31))
    assert studio.standing == StudioStanding.YELLOW
    with pytest.raises(OperationRefused, match="尚未复查"):
        assess_studio(world, studio, head, 2026, "良好", "再次考核。")
    recheck_studio(world, studio, head, True, "已补齐台账，复查合格。")
    assert studio.standing == StudioStanding.GOOD
    [assessment] = studio.assessments
    assert (assessment.result, assessment.recheck_passed) == ("黄牌", True)
    assert studio not in due_for_assessment(world, studio.city_unit_id, 2026)
    with pytest.raises(FormValidationError) as twice:
        assess_studio(world, studio, head, 2026, "良好", "再次考核。")
    assert "已经考核" in twice.value.errors["year"]


def test_red_card_revokes_and_stops_funding(world: Session, clock: Clock) -> None:
    studio = named_studio(world, clock)
    head = user(world, "jingji1")
    with pytest.raises(FormValidationError) as same_year:
        assess_studio(world, studio, head, 2025, "良好", "命名当年。")
    assert "命名当年不考核" in same_year.value.errors["year"]
    assess_studio(world, studio, head, 2026, "红牌", "全年未开展活动，企业已停产。")
    assert studio.standing == StudioStanding.REVOKED and studio.revoked_on is not None
    assert "已摘牌" in funding_problem(studio, studio.fundings[0].amount)["amount"]
    with pytest.raises(OperationRefused, match="已摘牌"):
        assess_studio(world, studio, head, 2026, "良好", "摘牌后。")


def test_failed_recheck_revokes(world: Session, clock: Clock) -> None:
    studio = named_studio(world, clock)
    head = user(world, "jingji1")
    assess_studio(world, studio, head, 2026, "黄牌", "创新成果不足。", date(2027, 3, 31))
    recheck_studio(world, studio, head, False, "整改不到位。")
    assert studio.standing == StudioStanding.REVOKED
    assert studio not in due_for_assessment(world, studio.city_unit_id, 2027)
