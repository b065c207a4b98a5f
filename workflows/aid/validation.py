"""Validation of the province's draft hardship-aid list (拟援助人员名单), issue #6 step 1.

Seed 000 item 8: the province drafts the list from the HR department's placement database (人社厅
去产能企业职工安置数据库), workers placed as 内部退养 or 买断解除劳动关系. Item 9: 内退 workers get a one-time aid
(一次性援助); 买断 workers get aid "for one or two years" (给予一年或两年的援助) within their unemployment-insurance
period. Item 10: paid by bank card, so name, ID and card must be right before any money moves.

The import succeeds whole or not at all: `validate_list` checks every cell of every row, the rows against each other
(duplicates) and against earlier years' lists, and raises `ListRejected` with every problem, by row then column, in
Chinese naming the field («身份证号：校验位错误»). Pure functions: the org tree comes in as `resolve_unit`, earlier
lists as `earlier`; nothing here touches the database.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from itertools import islice

import openpyxl
from openpyxl.utils import get_column_letter

from forms import identity
from workflows.aid.names_dates import NAME_DOTS, add_months, name_problem, parse_date, years_between
from workflows.tabular import Table, TableError, TableLimits, read_table, write_xlsx

# 人社部发〔2016〕32号 (domain.md §2.a [R61]): 内部退养 is for workers within 5 years of their statutory retirement.
INTERNAL_RETIREMENT_MAX_YEARS = 5
# 失业保险条例 第十七条 (domain.md §2.a [BK]): unemployment-insurance benefit is paid for at most 24 months.
UI_BENEFIT_MAX_MONTHS = 24
# A worker is at least 16 at placement (劳动法 第十五条: no employment under 16); younger means a wrong ID or date.
MIN_WORKING_AGE = 16
# Plausible age at the statutory retirement date: 45 (women in special jobs, 国发〔1978〕104号) to 63 (men after the
# 2024 gradual raise). Outside it the date or the ID is mistyped, and the 5-year 内退 rule above would check nonsense.
STATUTORY_RETIREMENT_AGES = (45, 63)
MAX_BUYOUT_AID_YEARS = 2  # seed 000 item 9: 给予一年或两年的援助
PROBLEMS_IN_MESSAGE = 10  # how many problems str(ListRejected) lists
NAMED_ROWS = 5  # how many other rows a duplicate problem names


class PlacementType(StrEnum):
    INTERNAL_RETIREMENT = "内部退养"
    BUYOUT = "买断解除劳动关系"


# The two labels, and the short forms officials write.
PLACEMENT_LABELS = {**{p.value: p for p in PlacementType}, "内退": PlacementType.INTERNAL_RETIREMENT,
                    "买断": PlacementType.BUYOUT}  # fmt: skip

NAME, RESIDENT_ID, SEX, PLACEMENT = "姓名", "身份证号", "性别", "安置方式"
IR_START, STATUTORY, BUYOUT_ON = "内退起始日期", "法定退休日期", "买断日期"
UI_START, UI_END = "失业保险金领取起始日期", "失业保险金领取终止日期"
ENTERPRISE, USCC, CITY, DISTRICT = "原企业名称", "统一社会信用代码", "所在市", "所在区县"
MOBILE, BANK, CARD = "手机号码", "开户银行", "银行卡号"
COLUMNS = (NAME, RESIDENT_ID, SEX, PLACEMENT, IR_START, STATUTORY, BUYOUT_ON, UI_START, UI_END,
           ENTERPRISE, USCC, CITY, DISTRICT, MOBILE, BANK, CARD)  # fmt: skip
TEXT_COLUMNS = (RESIDENT_ID, MOBILE, CARD, USCC)  # long digit strings Excel would round
DATE_COLUMNS = (IR_START, STATUTORY, BUYOUT_ON, UI_START, UI_END)
MAY_BE_LATER = (STATUTORY, UI_END)  # the only dates that may lie after the list's year
PLACEMENT_DATES = {PlacementType.INTERNAL_RETIREMENT: (IR_START, STATUTORY),
                   PlacementType.BUYOUT: (BUYOUT_ON, UI_START, UI_END)}  # fmt: skip

UnitResolver = Callable[[str, str], tuple[str | None, str | None, str | None]]
"""(所在市, 所在区县) → (city unit code, district unit code, problem). The problem is a reason without the field name
(e.g. "不是本省的市"); it is reported on 所在市 when no city code came back, else on 所在区县."""
EarlierLists = Mapping[str, Sequence[tuple[int, PlacementType]]]
"""Resident ID (18 characters, upper-case X) → [(aid year, placement type), ...] of the lists already imported."""


@dataclass(frozen=True)
class AidRow:
    """One validated worker of the draft list."""

    row_number: int
    name: str
    resident_id: str  # normalised: 18 chars, upper-case X
    sex: str  # "男" | "女"
    placement_type: PlacementType
    internal_retirement_start: date | None
    statutory_retirement_on: date | None
    buyout_on: date | None
    ui_benefit_start: date | None  # 失业保险金领取起始
    ui_benefit_end: date | None
    enterprise_name: str
    enterprise_uscc: str
    city: str  # as written, e.g. "大连市"
    district: str  # as written, e.g. "甘井子区" (may be "")
    city_unit_code: str
    district_unit_code: str | None
    mobile: str
    bank_name: str
    card_number: str  # digits only


@dataclass(frozen=True)
class RowProblem:
    row: int  # sheet row number; 0 for the file as a whole
    column: str  # the Chinese header label; "" when no single column is at fault
    message: str  # names the field: "身份证号：校验位错误"

    def __str__(self) -> str:
        return f"第 {self.row} 行 {self.message}" if self.row else self.message


class ListRejected(ValueError):
    """The list was not imported; `problems` holds every problem found."""

    def __init__(self, problems: Sequence[RowProblem]) -> None:
        self.problems = list(problems)
        self.summary = f"名单有 {len(self.problems)} 处问题，未导入任何数据"
        super().__init__(self.summary)

    def __str__(self) -> str:
        lines = [f"{self.summary}：", *map(str, self.problems[:PROBLEMS_IN_MESSAGE])]
        if len(self.problems) > PROBLEMS_IN_MESSAGE:
            lines.append(f"……另有 {len(self.problems) - PROBLEMS_IN_MESSAGE} 处问题")
        return "\n".join(lines)


class _Row:
    """The checks of one row; `problems` collects them in the order they are found."""

    def __init__(self, number: int, values: Mapping[str, str], year: int, problems: list[RowProblem]) -> None:
        self.number, self.values, self.year, self.problems = number, values, year, problems
        self.failed = False

    def problem(self, column: str, reason: str) -> None:
        self.problems.append(RowProblem(self.number, column, f"{column}：{reason}"))
        self.failed = True

    def checked(self, column: str, value: str, check: Callable[[str], str | None]) -> bool:
        """Reports an empty `value` or `check`'s reason against it; True when it is valid."""
        reason = check(value) if value else "不能为空"
        if reason:
            self.problem(column, reason)
        return reason is None

    def dates(self) -> dict[str, date | None]:
        year_end = date(self.year, 12, 31)
        parsed: dict[str, date | None] = dict.fromkeys(DATE_COLUMNS)
        for column in DATE_COLUMNS:
            if text := self.values[column]:
                try:
                    parsed[column] = day = parse_date(text)
                except ValueError as exc:
                    self.problem(column, str(exc))
                    continue
                if day > year_end and column not in MAY_BE_LATER:
                    self.problem(column, f"不能晚于 {self.year} 年 12 月 31 日")
        return parsed

    def placement_rules(self, placement: PlacementType, dates: dict[str, date | None], born: date | None) -> None:
        own = PLACEMENT_DATES[placement]
        for column in DATE_COLUMNS:
            if column in own and not self.values[column]:
                self.problem(column, f"{placement}职工必须填写")
            elif column not in own and self.values[column]:
                self.problem(column, f"{placement}职工不应填写")
        if placement is PlacementType.INTERNAL_RETIREMENT:
            start, retire = dates[IR_START], dates[STATUTORY]
            low, high = STATUTORY_RETIREMENT_AGES
            if born and retire and not low <= years_between(born, retire) <= high:
                self.problem(STATUTORY, f"按身份证号出生日期计算，退休时年龄不在 {low} 至 {high} 岁之间，请核对")
            if start and retire and start >= retire:
                self.problem(IR_START, "应早于法定退休日期")
            elif start and retire and start < add_months(retire, -12 * INTERNAL_RETIREMENT_MAX_YEARS):
                years = INTERNAL_RETIREMENT_MAX_YEARS
                self.problem(IR_START, f"距法定退休日期超过 {years} 年，不符合内部退养条件（人社部发〔2016〕32号）")
            if retire and retire < date(self.year, 1, 1):
                # Retired before the aid year: no longer an internally retired worker (seed 000 item 9).
                self.problem(STATUTORY, f"早于 {self.year} 年，职工已到法定退休年龄，不属于内部退养援助对象")
        else:
            buyout, start, end = dates[BUYOUT_ON], dates[UI_START], dates[UI_END]
            if buyout and start and start < buyout:
                self.problem(UI_START, "不能早于买断日期")
            if start and end and end <= start:
                self.problem(UI_END, "应晚于领取起始日期")
            elif start and end and end > add_months(start, UI_BENEFIT_MAX_MONTHS):
                self.problem(UI_END, f"领取期限超过 {UI_BENEFIT_MAX_MONTHS} 个月（《失业保险条例》第十七条）")
            elif end and end < date(self.year, 1, 1):
                # Seed 000 item 9: bought-out workers are aided only within the unemployment-insurance period.
                self.problem(UI_END, f"早于 {self.year} 年，失业保险期已满，不属于买断职工援助对象")
        placed = dates[own[0]]  # the placement date: 内退起始日期 or 买断日期
        if born and placed and years_between(born, placed) < MIN_WORKING_AGE:
            self.problem(own[0], f"按身份证号出生日期计算，职工当时未满 {MIN_WORKING_AGE} 周岁，请核对")


def _max_length(limit: int) -> Callable[[str], str | None]:
    return lambda text: f"不能超过 {limit} 个字" if len(text) > limit else None


_CELL_CHECKS: dict[str, Callable[[str], str | None]] = {
    NAME: name_problem,
    RESIDENT_ID: identity.resident_id_problem,
    ENTERPRISE: _max_length(100),
    USCC: identity.uscc_problem,
    CITY: _max_length(20),
    DISTRICT: _max_length(20),
    MOBILE: identity.mobile_problem,
    BANK: _max_length(50),
    CARD: identity.bank_card_problem,
}  # required cells checked on their own; sex, placement, dates and units depend on other cells

CellChecks = Mapping[str, Callable[[str], str | None]]


def _memoised(check: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """`check` remembering its answers for one import (issue #9): a list names a few hundred enterprises, cities,
    districts and banks for 20,000 rows, and each ID and card is checked again across rows."""
    answers: dict[str, str | None] = {}

    def remembered(value: str) -> str | None:
        try:
            return answers[value]
        except KeyError:
            answer = answers[value] = check(value)
            return answer

    return remembered


def _id_facts(resident_id: str) -> tuple[date, str]:
    """Birth date and sex of a resident ID already found valid (GB 11643: digits 7–14 the birth date, the 17th odd
    for men): what identity.resident_id_birth_date / resident_id_sex give, without validating it twice more."""
    number = resident_id.strip()  # as identity reads it
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    return born, "男" if int(number[16]) % 2 else "女"


def _check_row(
    number: int, values: Mapping[str, str], year: int, resolve_unit: UnitResolver, problems: list[RowProblem],
    checks: CellChecks = _CELL_CHECKS,
) -> AidRow | None:  # fmt: skip
    row = _Row(number, values, year, problems)
    valid = {column: row.checked(column, values[column], check) for column, check in checks.items()}
    resident_id, sex = values[RESIDENT_ID], values[SEX]
    born, id_sex = _id_facts(resident_id) if valid[RESIDENT_ID] else (None, "")
    if sex not in ("男", "女"):
        row.problem(SEX, "不能为空" if not sex else "应为“男”或“女”")
    elif born and sex != id_sex:
        row.problem(SEX, f"与身份证号不符（身份证号显示为{id_sex}）")
    placement = PLACEMENT_LABELS.get(values[PLACEMENT])
    if placement is None:
        row.problem(PLACEMENT, "不能为空" if not values[PLACEMENT] else "应为“内部退养”或“买断解除劳动关系”")
    dates = row.dates()
    if placement is not None:
        row.placement_rules(placement, dates, born)
    city_code = district_code = None
    if valid[CITY]:
        city_code, district_code, reason = resolve_unit(values[CITY], values[DISTRICT])
        if reason or city_code is None:
            row.problem(CITY if city_code is None else DISTRICT, reason or "无法识别")
    if row.failed or placement is None or city_code is None:
        return None
    v = values
    return AidRow(
        number, v[NAME], resident_id, sex, placement, dates[IR_START], dates[STATUTORY], dates[BUYOUT_ON],
        dates[UI_START], dates[UI_END], v[ENTERPRISE], v[USCC], v[CITY], v[DISTRICT], city_code, district_code,
        v[MOBILE], v[BANK], v[CARD],
    )  # fmt: skip


def _joined(numbers: Iterable[int]) -> str:
    return "、".join(map(str, numbers))


def _rows(numbers: Iterator[int], total: int) -> str:
    """ "第 3、7 行", or with many (a column filled down by mistake) "第 3、4、5、6、7 行等 20 行"."""
    named = _joined(islice(numbers, NAMED_ROWS))
    return f"第 {named} 行" if total <= NAMED_ROWS else f"第 {named} 行等 {total} 行"


def _across_rows(
    records: Sequence[tuple[int, Mapping[str, str]]], year: int, earlier: EarlierLists, problems: list[RowProblem],
    checks: CellChecks = _CELL_CHECKS,
) -> None:  # fmt: skip
    """The same ID twice, or one card for two IDs: a problem on each row, naming the others; then earlier years.
    Messages name at most NAMED_ROWS rows, so a card column filled down by mistake costs no more than one row."""
    by_id: dict[str, list[int]] = defaultdict(list)
    by_card: dict[str, list[tuple[int, str]]] = defaultdict(list)
    id_problem, card_problem = checks[RESIDENT_ID], checks[CARD]
    for number, values in records:
        resident_id, card = values[RESIDENT_ID], values[CARD]
        if resident_id and id_problem(resident_id) is None:
            by_id[resident_id].append(number)
            placement = PLACEMENT_LABELS.get(values[PLACEMENT])
            if placement and (reason := _earlier_problem(placement, year, earlier.get(resident_id, ()))):
                problems.append(RowProblem(number, RESIDENT_ID, f"{RESIDENT_ID}：{reason}"))
        if card and card_problem(card) is None:
            by_card[card].append((number, resident_id))
    for numbers in by_id.values():
        for number in numbers if len(numbers) > 1 else ():
            others = _rows((other for other in numbers if other != number), len(numbers) - 1)
            problems.append(RowProblem(number, RESIDENT_ID, f"{RESIDENT_ID}：与{others}重复"))
    for holders in by_card.values():
        if len({resident_id for _, resident_id in holders}) > 1:
            message = f"{CARD}：{_rows((number for number, _ in holders), len(holders))}为同一银行卡号，但身份证号不同"
            problems.extend(RowProblem(number, CARD, message) for number, _ in holders)


def _earlier_problem(placement: PlacementType, year: int, listed: Sequence[tuple[int, PlacementType]]) -> str | None:
    """Seed 000 item 9: 内退 aid is one-time; 买断 aid is for one or two years; nobody is listed twice in a year."""
    years = sorted({listed_year for listed_year, _ in listed})
    if year in years:
        return f"该职工已列入 {year} 年援助名单，同一年度不能重复列入"
    if placement is PlacementType.INTERNAL_RETIREMENT and years:
        return f"该职工已列入 {_joined(years)} 年援助名单，内部退养援助为一次性援助，不能再次列入"
    if retired := sorted({y for y, kind in listed if kind is PlacementType.INTERNAL_RETIREMENT}):
        return f"该职工已于 {_joined(retired)} 年作为内部退养职工领取一次性援助，不能再列为买断解除劳动关系职工"
    if len(years) >= MAX_BUYOUT_AID_YEARS:
        return f"该职工已列入 {_joined(years)} 年援助名单，买断解除劳动关系职工最多援助 {MAX_BUYOUT_AID_YEARS} 年"
    return None


def _normalised(values: Mapping[str, str]) -> dict[str, str]:
    """Full-width digits and letters (typed with a Chinese input method) as ASCII, IDs and codes upper-case, no
    blanks inside card and mobile numbers (printed in groups of four) or names ("张　三" aligned with a blank)."""
    clean = dict(values)
    clean[NAME] = "".join(values[NAME].split()).translate(NAME_DOTS)
    for column in (RESIDENT_ID, USCC, MOBILE, CARD, *DATE_COLUMNS):
        clean[column] = unicodedata.normalize("NFKC", values[column]).upper()
    for column in (MOBILE, CARD):
        clean[column] = "".join(clean[column].split())
    return clean


def validate_list(table: Table, *, year: int, resolve_unit: UnitResolver, earlier: EarlierLists) -> list[AidRow]:
    """Every row of the draft list for aid `year` as an `AidRow`, or `ListRejected` with every problem found."""
    missing = [column for column in COLUMNS if column not in table.header]
    if missing:
        raise ListRejected([RowProblem(0, "", f"缺少列「{column}」") for column in missing])
    if not table.rows:
        raise ListRejected([RowProblem(0, "", "文件中没有数据行")])
    problems: list[RowProblem] = []
    checks = {column: _memoised(check) for column, check in _CELL_CHECKS.items()}
    records = [(number, _normalised(values)) for number, values in table.records()]
    rows = [_check_row(number, values, year, resolve_unit, problems, checks) for number, values in records]
    _across_rows(records, year, earlier, problems, checks)
    if problems:
        order = {column: index for index, column in enumerate(COLUMNS)}
        raise ListRejected(sorted(problems, key=lambda problem: (problem.row, order.get(problem.column, -1))))
    return [row for row in rows if row is not None]


_TABLE_PROBLEM = re.compile(r"第 (\d+) 行(?:「([^」]+)」)?：?(.*)", re.DOTALL)


def table_problem(text: str) -> RowProblem:
    """A `TableError` sentence ("第 5 行「身份证号」：该列须为文本…") as a RowProblem on that row and column."""
    found = _TABLE_PROBLEM.fullmatch(text)
    if found is None:
        return RowProblem(0, "", text)
    column = found[2] or ""
    return RowProblem(int(found[1]), column, f"{column}：{found[3]}" if column else found[3])


def read_aid_list(
    data: bytes, filename: str, *, year: int, resolve_unit: UnitResolver, earlier: EarlierLists,
    limits: TableLimits | None = None,
) -> list[AidRow]:  # fmt: skip
    """Read an uploaded .xlsx/.csv draft list (`workflows.tabular.read_table`, hostile input) and validate it."""
    try:
        table = read_table(data, filename, limits, text_columns=TEXT_COLUMNS, required_columns=COLUMNS)
    except TableError as exc:
        raise ListRejected([table_problem(problem) for problem in exc.problems]) from exc
    return validate_list(table, year=year, resolve_unit=resolve_unit, earlier=earlier)


def write_template() -> bytes:
    """An .xlsx with the header row only, for officials to fill. Every column is formatted as text so that IDs,
    cards and mobiles typed in stay exact (read_table refuses numbers in those columns)."""
    # write_xlsx escapes and types the header; a reload adds what its write-only mode cannot (column formats).
    workbook = openpyxl.load_workbook(io.BytesIO(write_xlsx(COLUMNS, [], sheet_title="援助人员名单")))
    sheet = workbook.worksheets[0]
    for index, column in enumerate(COLUMNS, start=1):
        dimension = sheet.column_dimensions[get_column_letter(index)]
        dimension.number_format = "@"
        dimension.width = 24 if column in TEXT_COLUMNS or column in (ENTERPRISE, UI_START, UI_END) else 14
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
