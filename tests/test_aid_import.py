"""Importing a year's draft aid list into the database (issue #6 step 1): all or nothing, split by city, checked.

The rows themselves are validated by workflows.aid.validation (tests/test_aid_validation.py); here the operation:
who may import, the split by the province's real org tree, one list per year, earlier years from the database,
the audit event, `flask check` on partial rows, and the CLI's row-by-row report.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from tests.aid_helpers import distribute_dalian
from tests.test_aid_validation import buyout, card, csv_bytes, internal, resident_id, xlsx
from tests.workflow_helpers import user
from workflows.aid.importing import check_aid_imports, city_split, import_aid_list
from workflows.aid.review import ReviewInput, record_review
from workflows.aid.validation import ListRejected
from workflows.errors import OperationRefused, PermissionDenied
from workflows.models import AidImport, AidWorker, AuditEvent

YEAR = 2017
DRAFTER = "shengzong_baozhang1"  # 辽宁省总工会 生活保障部


def shenyang(**changes: str) -> dict[str, str]:
    """A worker of 沈阳市, whose districts are not in the tree: the district stays as written for the city."""
    return internal(
        姓名="赵志刚", 身份证号=resident_id(region="210102", born="19580101", sequence="011"), 所在市="沈阳市",
        所在区县="和平区", 手机号码="13904001111", 银行卡号=card("622202000000111"), 法定退休日期="2018-01-01",
        **changes,
    )  # fmt: skip


def workers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AidWorker)) or 0


def test_the_province_imports_the_list_and_it_is_split_by_city(world: Session) -> None:
    rows = [internal(), buyout(), shenyang()]
    aid_import = import_aid_list(world, user(world, DRAFTER), YEAR, xlsx(rows), "名单.xlsx")

    assert aid_import.row_count == 3 == workers(world)
    assert [(unit.name, count) for unit, count in city_split(world, YEAR)] == [("沈阳市总工会", 1), ("大连市总工会", 2)]
    ganjingzi = world.scalar(select(AidWorker).where(AidWorker.name == "王建国"))
    assert ganjingzi is not None and ganjingzi.district_unit is not None
    assert ganjingzi.district_unit.code == "210211" and ganjingzi.row_number == 2
    heping = world.scalar(select(AidWorker).where(AidWorker.city == "沈阳市"))
    assert heping is not None and heping.district == "和平区" and heping.district_unit_id is None
    event = world.scalar(select(AuditEvent).where(AuditEvent.action == "aid_list.imported"))
    assert event is not None and '"rows":3' in event.payload.replace(" ", "")
    assert check_aid_imports(world) == []


def test_a_file_with_one_bad_row_imports_nothing_and_names_every_problem(world: Session) -> None:
    other = internal(身份证号=resident_id(sequence="099"), 银行卡号=card("622202000000222"), 所在区县="火星区")
    rows = [internal(), buyout(银行卡号="6222021234567890"), other]
    with pytest.raises(ListRejected) as rejected:
        import_aid_list(world, user(world, DRAFTER), YEAR, csv_bytes(rows), "名单.csv")
    assert [(p.row, p.column) for p in rejected.value.problems] == [(3, "银行卡号"), (4, "所在区县")]
    assert "火星区" in rejected.value.problems[1].message
    assert workers(world) == 0 and world.scalar(select(AidImport)) is None


@pytest.mark.parametrize("username", ["baozhang1", "shengzong_jingji1", "admin", "ganjingzi1"])
def test_only_the_provincial_livelihood_department_imports(world: Session, username: str) -> None:
    with pytest.raises(PermissionDenied):
        import_aid_list(world, user(world, username), YEAR, xlsx([internal()]), "名单.xlsx")


def test_a_year_is_imported_once(world: Session) -> None:
    import_aid_list(world, user(world, DRAFTER), YEAR, xlsx([internal()]), "名单.xlsx")
    with pytest.raises(OperationRefused, match="2017 年度的援助名单已于"):
        import_aid_list(world, user(world, DRAFTER), YEAR, xlsx([buyout()]), "更正.xlsx")


def test_earlier_years_come_from_the_database(world: Session) -> None:
    """内退 aid is one-time (seed 000 item 9): the same worker on next year's list is refused, a 买断 worker is not."""
    drafter = user(world, DRAFTER)
    import_aid_list(world, drafter, YEAR, xlsx([internal(), buyout()]), "2017.xlsx")
    with pytest.raises(ListRejected) as rejected:
        import_aid_list(world, drafter, YEAR + 1, xlsx([internal(), buyout()]), "2018.xlsx")
    assert [(p.row, p.column) for p in rejected.value.problems] == [(2, "身份证号")]
    assert import_aid_list(world, drafter, YEAR + 1, xlsx([buyout()]), "2018.xlsx").row_count == 1


def test_the_check_finds_a_list_with_missing_rows(world: Session) -> None:
    import_aid_list(world, user(world, DRAFTER), YEAR, xlsx([internal(), buyout()]), "名单.xlsx")
    world.execute(delete(AidWorker).where(AidWorker.name == "李秀英"))
    (finding,) = check_aid_imports(world)
    assert finding.line() == "[aid_import] 2017 年度援助名单：应有 2 行，实有 1 行"


def test_the_command_reports_each_problem_by_row_or_prints_the_split(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    bad, good = tmp_path / "bad.xlsx", tmp_path / "good.xlsx"
    bad.write_bytes(xlsx([internal(手机号码="12345"), buyout()]))
    good.write_bytes(xlsx([internal(), buyout()]))

    with app.app_context():
        refused = runner.invoke(args=["import-aid-list", str(YEAR), str(bad), "--user", DRAFTER])
        imported = runner.invoke(args=["import-aid-list", str(YEAR), str(good), "--user", DRAFTER])

    assert refused.exit_code == 1
    assert "第 2 行 手机号码：" in refused.output and "手机号码：手机号码" not in refused.output
    assert "未导入任何数据" in refused.output
    assert imported.exit_code == 0, imported.output
    assert "已导入 2017 年度援助名单：2 人" in imported.output and "大连市总工会：2 人" in imported.output


def test_years_imported_out_of_order_still_see_each_other(world: Session) -> None:
    """A 内退 worker on the 2018 list cannot be added to a 2017 list imported afterwards (one-time aid)."""
    drafter = user(world, DRAFTER)
    import_aid_list(world, drafter, YEAR + 1, xlsx([internal()]), "2018.xlsx")
    with pytest.raises(ListRejected) as rejected:
        import_aid_list(world, drafter, YEAR, xlsx([internal()]), "2017.xlsx")
    (problem,) = rejected.value.problems
    assert (problem.row, problem.column) == (2, "身份证号") and "2018" in problem.message


def test_a_district_longer_than_the_column_is_a_row_problem_not_a_database_error(world: Session) -> None:
    with pytest.raises(ListRejected) as rejected:
        import_aid_list(world, user(world, DRAFTER), YEAR, xlsx([{**shenyang(), "所在区县": "区" * 30}]), "名单.xlsx")
    assert [(p.row, p.column) for p in rejected.value.problems] == [(2, "所在区县")]


def test_workers_whose_benefit_or_working_life_ended_before_the_year_are_not_listed(world: Session) -> None:
    """Seed 000 item 9: 买断 aid only within the unemployment-insurance period; a retiree is no longer 内退."""
    drafter = user(world, DRAFTER)
    with pytest.raises(ListRejected) as rejected:
        import_aid_list(world, drafter, 2020, xlsx([shenyang(), buyout()]), "2020.xlsx")
    assert [(p.row, p.column) for p in rejected.value.problems] == [(2, "法定退休日期"), (3, "失业保险金领取终止日期")]


def test_a_worker_found_not_eligible_may_be_listed_again(world: Session) -> None:
    """A 不符合 conclusion gave no aid, so next year's extract may list the worker again (even as 内退)."""
    drafter = user(world, DRAFTER)
    import_aid_list(world, drafter, YEAR, xlsx([internal()]), "2017.xlsx")
    distribute_dalian(world, YEAR)
    worker = world.scalars(select(AidWorker)).one()
    record_review(world, user(world, "ganjingzi1"), YEAR, [worker.id], ReviewInput("不符合", "家庭收入高于标准"))
    assert import_aid_list(world, drafter, YEAR + 1, xlsx([internal()]), "2018.xlsx").row_count == 1
