"""The province's draft hardship-aid list is validated row by row before anything is imported (issue #6 step 1;
seed 000 items 8–10; `workflows.aid.validation`).

Each rule has a test in which a valid row is changed in one way and exactly one problem comes back, with its row
number, its column and a Chinese message naming the field. Files are built in memory as .xlsx or CSV.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest
from stdnum import luhn
from stdnum.cn import uscc

from forms.identity import resident_id_check_character
from workflows.aid.validation import (
    COLUMNS,
    AidRow,
    EarlierLists,
    ListRejected,
    PlacementType,
    RowProblem,
    read_aid_list,
    validate_list,
    write_template,
)
from workflows.tabular import Table, TableRow

YEAR = 2017
USCC = "91210211MA0Q3R5K70"  # the demo enterprise's code
CARD = "6222021234567894"
IR = PlacementType.INTERNAL_RETIREMENT
BUYOUT = PlacementType.BUYOUT


def resident_id(region: str = "210211", born: str = "19620514", sequence: str = "013") -> str:
    """A checksum-valid resident ID; the sequence's last digit is odd for 男, even for 女."""
    first17 = region + born + sequence
    return first17 + resident_id_check_character(first17)


def card(prefix: str) -> str:
    """A Luhn-valid card number starting with `prefix`."""
    return prefix + luhn.calc_check_digit(prefix)


BANK = "中国工商银行大连分行"
BUYOUT_CARD = card("621700123456789")
MAN = resident_id()  # born 1962-05-14, statutory retirement at 60 on 2022-05-14
WOMAN = resident_id(born="19750308", sequence="024")


def internal(**changes: Any) -> dict[str, Any]:
    """A valid 内部退养 row: 内退 from 2017-06-01, within five years of his statutory retirement."""
    row: dict[str, Any] = {
        "姓名": "王建国", "身份证号": MAN, "性别": "男", "安置方式": "内部退养",
        "内退起始日期": "2017-06-01", "法定退休日期": "2022-05-14", "买断日期": "",
        "失业保险金领取起始日期": "", "失业保险金领取终止日期": "",
        "原企业名称": "大连钢铁集团有限公司", "统一社会信用代码": USCC, "所在市": "大连市", "所在区县": "甘井子区",
        "手机号码": "13904111234", "开户银行": BANK, "银行卡号": CARD,
    }  # fmt: skip
    row.update(changes)
    return row


def buyout(**changes: Any) -> dict[str, Any]:
    """A valid 买断 row: bought out 2017-03-01, 24 months of unemployment benefit from 2017-03-15."""
    row = internal(
        姓名="李秀英", 身份证号=WOMAN, 性别="女", 安置方式="买断解除劳动关系", 内退起始日期="", 法定退休日期="",
        买断日期="2017-03-01", 失业保险金领取起始日期="2017-03-15", 失业保险金领取终止日期="2019-03-14",
        所在区县="中山区", 手机号码="13804110000", 银行卡号=BUYOUT_CARD,
    )  # fmt: skip
    row.update(changes)
    return row


UNITS = {"大连市": ("2102", {"": None, "甘井子区": "210211", "中山区": "210202"})}


def resolve(city: str, district: str) -> tuple[str | None, str | None, str | None]:
    """The lead's resolver looks in the org tree; this fake knows 大连市 and two of its districts."""
    if city not in UNITS:
        return None, None, "不是本省的市"
    code, districts = UNITS[city]
    if district not in districts:
        return code, None, f"不是{city}的区县"
    return code, districts[district], None


def xlsx(rows: list[dict[str, Any]], header: tuple[str, ...] = COLUMNS) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(header))
    for row in rows:
        sheet.append([row.get(column, "") for column in header])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[dict[str, Any]], encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows([[row.get(column, "") for column in COLUMNS] for row in rows])
    return buffer.getvalue().encode(encoding)


def read(rows: list[dict[str, Any]], earlier: EarlierLists | None = None) -> list[AidRow]:
    return read_aid_list(xlsx(rows), "名单.xlsx", year=YEAR, resolve_unit=resolve, earlier=earlier or {})


def problems(rows: list[dict[str, Any]], earlier: EarlierLists | None = None) -> list[RowProblem]:
    return file_problems(xlsx(rows), "名单.xlsx", earlier)


def file_problems(data: bytes, filename: str, earlier: EarlierLists | None = None) -> list[RowProblem]:
    with pytest.raises(ListRejected) as rejected:
        read_aid_list(data, filename, year=YEAR, resolve_unit=resolve, earlier=earlier or {})
    return rejected.value.problems


def test_valid_rows_become_aid_rows_normalised() -> None:
    grouped = " ".join(BUYOUT_CARD[i : i + 4] for i in range(0, len(BUYOUT_CARD), 4))  # as printed on the card
    rows = read([internal(身份证号=MAN.lower(), 姓名="王　建国"), buyout(银行卡号=grouped)])
    assert rows == [
        AidRow(
            2, "王建国", MAN, "男", IR, date(2017, 6, 1), date(2022, 5, 14), None, None, None,
            "大连钢铁集团有限公司", USCC, "大连市", "甘井子区", "2102", "210211", "13904111234", BANK, CARD,
        ),
        AidRow(
            3, "李秀英", WOMAN, "女", BUYOUT, None, None, date(2017, 3, 1), date(2017, 3, 15), date(2019, 3, 14),
            "大连钢铁集团有限公司", USCC, "大连市", "中山区", "2102", "210202", "13804110000", BANK, BUYOUT_CARD,
        ),
    ]  # fmt: skip


def test_full_width_digits_and_grouped_numbers_are_normalised() -> None:
    full_width = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")
    written = internal(身份证号=MAN.translate(full_width), 手机号码="139 0411 1234", 内退起始日期="２０１７-０６-０１")
    (row,) = read([written])
    assert (row.resident_id, row.mobile, row.internal_retirement_start) == (MAN, "13904111234", date(2017, 6, 1))


def test_the_demo_codes_used_here_are_valid() -> None:
    assert uscc.is_valid(USCC) and luhn.is_valid(CARD) and MAN.endswith(resident_id_check_character(MAN[:17]))


@pytest.mark.parametrize(
    ("written", "expected"),
    [("内退", IR), ("内部退养", IR), ("买断", BUYOUT), ("买断解除劳动关系", BUYOUT)],
)
def test_short_placement_forms_are_normalised(written: str, expected: PlacementType) -> None:
    row = internal(安置方式=written) if expected is IR else buyout(安置方式=written)
    assert read([row])[0].placement_type is expected


@pytest.mark.parametrize(
    "written",
    ["2017-06-01", "2017/6/1", "2017.06.01", "2017年6月1日", "20170601", "2017-06-01 00:00:00", datetime(2017, 6, 1)],
)
def test_date_formats_officials_write(written: Any) -> None:
    assert read([internal(内退起始日期=written)])[0].internal_retirement_start == date(2017, 6, 1)


def test_names_of_ethnic_minorities_with_a_middle_dot() -> None:
    assert read([internal(姓名="阿依古丽•买买提")])[0].name == "阿依古丽·买买提"


def test_an_extra_column_such_as_a_serial_number_is_ignored() -> None:
    data = xlsx([{"序号": 1, **internal()}], header=("序号", *COLUMNS))
    assert len(read_aid_list(data, "名单.xlsx", year=YEAR, resolve_unit=resolve, earlier={})) == 1


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (internal(姓名=""), "姓名", "不能为空"),
        (internal(姓名="王A"), "姓名", "只能包含汉字和间隔号“·”"),
        (internal(姓名="王"), "姓名", "应为 2 至 20 个字"),
        (internal(姓名="王" * 21), "姓名", "应为 2 至 20 个字"),
        (internal(身份证号=""), "身份证号", "不能为空"),
        (internal(身份证号=MAN[:17] + ("0" if MAN[17] != "0" else "1")), "身份证号", "校验位错误"),
        (internal(身份证号=MAN[:17]), "身份证号", "应为18位"),
        (internal(身份证号=resident_id(born="19620230")), "身份证号", "出生日期无效"),
        (internal(性别="女"), "性别", "与身份证号不符（身份证号显示为男）"),
        (internal(性别="M"), "性别", "应为“男”或“女”"),
        (internal(性别=""), "性别", "不能为空"),
        (internal(安置方式="提前退休"), "安置方式", "应为“内部退养”或“买断解除劳动关系”"),
        (internal(内退起始日期=""), "内退起始日期", "内部退养职工必须填写"),
        (internal(法定退休日期=""), "法定退休日期", "内部退养职工必须填写"),
        (internal(买断日期="2017-03-01"), "买断日期", "内部退养职工不应填写"),
        (internal(失业保险金领取起始日期="2017-03-01"), "失业保险金领取起始日期", "内部退养职工不应填写"),
        (internal(失业保险金领取终止日期="2018-03-01"), "失业保险金领取终止日期", "内部退养职工不应填写"),
        (internal(内退起始日期="2017-13-01"), "内退起始日期", "日期不存在"),
        (internal(内退起始日期="2017-02-30"), "内退起始日期", "日期不存在"),
        (internal(内退起始日期="6/1/2017"), "内退起始日期", "格式不正确，应为 2017-09-01 这样的日期"),
        (internal(内退起始日期="2017-06-01 08:30"), "内退起始日期", "格式不正确，应为 2017-09-01 这样的日期"),
        (internal(内退起始日期="2018-01-01"), "内退起始日期", "不能晚于 2017 年 12 月 31 日"),
        (internal(法定退休日期="2017-06-01"), "内退起始日期", "应早于法定退休日期"),
        (internal(内退起始日期="2017-05-13"), "内退起始日期",
         "距法定退休日期超过 5 年，不符合内部退养条件（人社部发〔2016〕32号）"),
        (internal(身份证号=resident_id(born="19500101"), 法定退休日期="2017-12-31"), "法定退休日期",
         "按身份证号出生日期计算，退休时年龄不在 45 至 63 岁之间，请核对"),
        (internal(法定退休日期="2016-12-31", 内退起始日期="2016-06-01"), "法定退休日期",
         "早于 2017 年，职工已到法定退休年龄，不属于内部退养援助对象"),
        (buyout(买断日期="2015-03-01", 失业保险金领取起始日期="2015-03-15", 失业保险金领取终止日期="2016-12-31"),
         "失业保险金领取终止日期",
         "早于 2017 年，失业保险期已满，不属于买断职工援助对象"),
        (buyout(买断日期=""), "买断日期", "买断解除劳动关系职工必须填写"),
        (buyout(失业保险金领取起始日期=""), "失业保险金领取起始日期", "买断解除劳动关系职工必须填写"),
        (buyout(失业保险金领取终止日期=""), "失业保险金领取终止日期", "买断解除劳动关系职工必须填写"),
        (buyout(内退起始日期="2017-01-01"), "内退起始日期", "买断解除劳动关系职工不应填写"),
        (buyout(法定退休日期="2030-03-08"), "法定退休日期", "买断解除劳动关系职工不应填写"),
        (buyout(失业保险金领取起始日期="2017-02-28", 失业保险金领取终止日期="2019-02-27"), "失业保险金领取起始日期",
         "不能早于买断日期"),
        (buyout(失业保险金领取终止日期="2017-03-15"), "失业保险金领取终止日期", "应晚于领取起始日期"),
        (buyout(失业保险金领取终止日期="2019-03-16"), "失业保险金领取终止日期",
         "领取期限超过 24 个月（《失业保险条例》第十七条）"),
        (buyout(买断日期="2017-12-20", 失业保险金领取起始日期="2018-01-02"), "失业保险金领取起始日期",
         "不能晚于 2017 年 12 月 31 日"),
        (buyout(身份证号=resident_id(born="20030101", sequence="024")), "买断日期",
         "按身份证号出生日期计算，职工当时未满 16 周岁，请核对"),
        (internal(原企业名称=""), "原企业名称", "不能为空"),
        (internal(原企业名称="大" * 101), "原企业名称", "不能超过 100 个字"),
        (internal(统一社会信用代码=""), "统一社会信用代码", "不能为空"),
        (internal(统一社会信用代码=USCC[:17] + "1"), "统一社会信用代码", "校验位错误"),
        (internal(所在市=""), "所在市", "不能为空"),
        (internal(所在市="沈阳市"), "所在市", "不是本省的市"),
        (internal(所在区县="和平区"), "所在区县", "不是大连市的区县"),
        (internal(手机号码=""), "手机号码", "不能为空"),
        (internal(手机号码="1390411123"), "手机号码", "应为11位数字"),
        (internal(手机号码="12904111234"), "手机号码", "号段无效"),
        (internal(开户银行=""), "开户银行", "不能为空"),
        (internal(银行卡号=""), "银行卡号", "不能为空"),
        (internal(银行卡号="6222021234567895"), "银行卡号", "校验失败，请核对卡号"),
        (internal(银行卡号=card("62220212345678")), "银行卡号", "应为16至19位数字"),
        (internal(银行卡号="6222-0212-3456-7894"), "银行卡号", "只能包含数字"),
    ],
)
def test_each_rule_yields_exactly_its_problem(row: dict[str, Any], column: str, reason: str) -> None:
    assert problems([row]) == [RowProblem(2, column, f"{column}：{reason}")]


def test_limits_are_inclusive() -> None:
    """内退 exactly 5 years before statutory retirement, and exactly 24 months of benefit, are allowed."""
    rows = read([internal(内退起始日期="2017-05-14"), buyout(失业保险金领取终止日期="2019-03-15")])
    assert [rows[0].internal_retirement_start, rows[1].ui_benefit_end] == [date(2017, 5, 14), date(2019, 3, 15)]


def test_a_buyout_after_the_year_is_reported_with_its_benefit_start() -> None:
    row = buyout(买断日期="2018-01-02", 失业保险金领取起始日期="2018-01-02")
    assert [problem.column for problem in problems([row])] == ["买断日期", "失业保险金领取起始日期"]


def test_dates_after_the_year_are_allowed_for_retirement_and_the_end_of_benefit() -> None:
    row = buyout(买断日期="2017-12-01", 失业保险金领取起始日期="2017-12-20", 失业保险金领取终止日期="2019-12-20")
    assert read([internal(), row])[1].ui_benefit_end == date(2019, 12, 20)


def test_every_problem_of_every_row_is_reported_by_row_then_column() -> None:
    rows = [
        internal(),
        internal(银行卡号="1234", 姓名="", 性别="女", 手机号码="1"),  # row 3
        buyout(身份证号="", 失业保险金领取起始日期="2017-01-01", 所在市="沈阳市"),  # row 4
        internal(),  # row 5: same worker as row 2
    ]
    assert [(problem.row, problem.column, problem.message) for problem in problems(rows)] == [
        (2, "身份证号", "身份证号：与第 3、5 行重复"),
        (3, "姓名", "姓名：不能为空"),
        (3, "身份证号", "身份证号：与第 2、5 行重复"),
        (3, "性别", "性别：与身份证号不符（身份证号显示为男）"),
        (3, "手机号码", "手机号码：应为11位数字"),
        (3, "银行卡号", "银行卡号：应为16至19位数字"),
        (4, "身份证号", "身份证号：不能为空"),
        (4, "失业保险金领取起始日期", "失业保险金领取起始日期：不能早于买断日期"),
        (4, "失业保险金领取终止日期", "失业保险金领取终止日期：领取期限超过 24 个月（《失业保险条例》第十七条）"),
        (4, "所在市", "所在市：不是本省的市"),
        (5, "身份证号", "身份证号：与第 2、3 行重复"),
    ]


def test_one_card_for_two_workers_is_a_problem_on_both() -> None:
    other = resident_id(born="19630101", sequence="015")
    assert problems([internal(), internal(身份证号=other, 法定退休日期="2022-06-01")]) == [
        RowProblem(2, "银行卡号", "银行卡号：第 2、3 行为同一银行卡号，但身份证号不同"),
        RowProblem(3, "银行卡号", "银行卡号：第 2、3 行为同一银行卡号，但身份证号不同"),
    ]


def test_a_column_filled_down_by_mistake_names_a_few_rows_and_the_count() -> None:
    """An official dragging one card number down the whole column gets short messages, quickly."""
    rows = [buyout(身份证号=resident_id(born="19750308", sequence=f"{n:03d}")) for n in range(0, 1000, 2)]
    found = problems(rows)
    assert len(found) == len(rows)
    assert found[0] == RowProblem(2, "银行卡号", "银行卡号：第 2、3、4、5、6 行等 500 行为同一银行卡号，但身份证号不同")
    same = problems([buyout()] * 7)
    assert same[0] == RowProblem(2, "身份证号", "身份证号：与第 3、4、5、6、7 行等 6 行重复")
    assert same[1] == RowProblem(3, "身份证号", "身份证号：与第 2、4、5、6、7 行等 6 行重复")
    assert problems([buyout()] * 3)[0] == RowProblem(2, "身份证号", "身份证号：与第 3、4 行重复")


def test_a_worker_listed_twice_with_one_card_is_one_duplicate_not_two() -> None:
    assert problems([internal(), internal()]) == [
        RowProblem(2, "身份证号", "身份证号：与第 3 行重复"),
        RowProblem(3, "身份证号", "身份证号：与第 2 行重复"),
    ]


@pytest.mark.parametrize(
    ("row", "listed", "reason"),
    [
        (internal(), [(2016, BUYOUT)], "该职工已列入 2016 年援助名单，内部退养援助为一次性援助，不能再次列入"),
        (internal(), [(2017, IR)], "该职工已列入 2017 年援助名单，同一年度不能重复列入"),
        (buyout(), [(2017, BUYOUT)], "该职工已列入 2017 年援助名单，同一年度不能重复列入"),
        (buyout(), [(2015, BUYOUT), (2016, BUYOUT)],
         "该职工已列入 2015、2016 年援助名单，买断解除劳动关系职工最多援助 2 年"),
        (buyout(), [(2016, IR)],
         "该职工已于 2016 年作为内部退养职工领取一次性援助，不能再列为买断解除劳动关系职工"),
    ],
)  # fmt: skip
def test_earlier_years_lists(row: dict[str, Any], listed: list[tuple[int, PlacementType]], reason: str) -> None:
    """Seed 000 item 9: 内退 aid is one-time, 买断 aid one or two years; never twice in one year."""
    assert problems([row], earlier={row["身份证号"]: listed}) == [RowProblem(2, "身份证号", f"身份证号：{reason}")]


def test_a_bought_out_worker_may_have_a_second_year_of_aid() -> None:
    assert read([buyout(身份证号=WOMAN.lower())], earlier={WOMAN: [(2016, BUYOUT)]})[0].resident_id == WOMAN


def test_an_earlier_year_is_reported_beside_the_row_s_other_problems() -> None:
    assert problems([internal(手机号码="")], earlier={MAN: [(2016, IR)]}) == [
        RowProblem(2, "身份证号", "身份证号：该职工已列入 2016 年援助名单，内部退养援助为一次性援助，不能再次列入"),
        RowProblem(2, "手机号码", "手机号码：不能为空"),
    ]


def test_an_empty_list_is_rejected() -> None:
    assert problems([]) == [RowProblem(0, "", "文件中没有数据行")]


def test_validate_list_names_missing_columns() -> None:
    table = Table(COLUMNS[:-1], (TableRow(2, tuple(internal()[column] for column in COLUMNS[:-1])),))
    with pytest.raises(ListRejected) as rejected:
        validate_list(table, year=YEAR, resolve_unit=resolve, earlier={})
    assert rejected.value.problems == [RowProblem(0, "", "缺少列「银行卡号」")]


def test_a_file_without_the_header_is_a_file_problem() -> None:
    (problem,) = file_problems(xlsx([internal()], header=COLUMNS[:-1]), "名单.xlsx")
    assert problem.row == 0 and "缺少列「银行卡号」" in problem.message


def test_a_file_that_cannot_be_read_is_one_problem_for_the_whole_file() -> None:
    assert file_problems(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "名单.xls") == [
        RowProblem(0, "", "不接受旧版 Excel（.xls）文件：请在 Excel 中“另存为”Excel 工作簿（.xlsx）后再上传")
    ]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_csv_in_the_encodings_excel_saves(encoding: str) -> None:
    data = csv_bytes([internal(), buyout()], encoding)
    rows = read_aid_list(data, "名单.csv", year=YEAR, resolve_unit=resolve, earlier={})
    assert [(row.name, row.placement_type) for row in rows] == [("王建国", IR), ("李秀英", BUYOUT)]


def test_an_id_typed_as_a_number_is_rejected_with_its_row() -> None:
    assert problems([internal(), buyout(身份证号=210211197503080240)]) == [  # Excel has already rounded it
        RowProblem(
            3, "身份证号", "身份证号：该列须为文本，数字会被 Excel 改动；请将该列单元格格式设置为“文本”后重新填写"
        )
    ]


def test_csv_problems_keep_their_row_numbers() -> None:
    data = csv_bytes([internal(), internal(身份证号="2.10211E+17")])
    (problem,) = file_problems(data, "名单.csv")
    assert (problem.row, problem.column) == (3, "身份证号") and "科学计数法" in problem.message


def test_the_rejection_message_counts_and_lists_the_first_problems() -> None:
    rows = [internal(姓名="", 手机号码="") for _ in range(7)]  # 7 × (name, mobile, duplicate ID) = 21 problems
    with pytest.raises(ListRejected) as rejected:
        read(rows)
    text = str(rejected.value)
    assert text.splitlines()[0] == "名单有 21 处问题，未导入任何数据："
    assert text.splitlines()[1] == "第 2 行 姓名：不能为空"
    assert text.splitlines()[-1] == "……另有 11 处问题"


def test_the_template_has_exactly_the_columns_formatted_as_text() -> None:
    data = write_template()
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert [cell.value for cell in sheet[1]] == list(COLUMNS)
    assert sheet.max_row == 1
    assert {sheet.column_dimensions[letter].number_format for letter in "ABCDEFGHIJKLMNOP"} == {"@"}
    assert file_problems(data, "模板.xlsx") == [RowProblem(0, "", "文件中没有数据行")]


def test_a_filled_template_imports() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(write_template()))
    workbook.worksheets[0].append([internal()[column] for column in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    rows = read_aid_list(buffer.getvalue(), "名单.xlsx", year=YEAR, resolve_unit=resolve, earlier={})
    assert [row.resident_id for row in rows] == [MAN]
