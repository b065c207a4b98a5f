"""The aid list path's fast paths compute what the slow paths did (issue #9 §4 "Lists"; bench/aid_list_path.py).

- `workflows.tabular` reads a worksheet with its own streaming parser instead of openpyxl's read-only cells: for every
  kind of cell (shared and inline strings, rich text with phonetic guides, numbers, dates in both epochs, durations,
  booleans, errors, formulas) and every odd layout (cells or rows without references, rows out of order, gaps, cells
  past the width), it yields the values openpyxl's reader gave, which the code before issue #9 used.
- It writes data rows as XML text instead of openpyxl cell objects: the workbook reads back with the same values,
  types and text format as one written cell by cell by openpyxl, and its other parts are openpyxl's own; U+FFFE and
  U+FFFF, which openpyxl refused with the whole file, are dropped like control characters.
- The bank files read their rows with one query: the same bytes as from the batch's loaded payments.
- The import inserts the workers as one executemany: stored rows equal the validated rows, in sheet order.
- Validation remembers its per-value checks within an import: a value repeated on many rows is reported on each.
"""

from __future__ import annotations

import contextlib
import gc
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from openpyxl.cell.cell import WriteOnlyCell
from openpyxl.worksheet.formula import ArrayFormula
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from tests.aid_helpers import YEAR, aid_row, confirmed_list
from tests.test_aid_validation import WOMAN, buyout, card, internal, problems, resident_id, xlsx
from tests.workflow_helpers import user
from workflows import tabular
from workflows.aid.bank_files import batch_file_csv, batch_file_xlsx, result_template
from workflows.aid.importing import earlier_lists, import_aid_list, unit_resolver
from workflows.aid.payment import _batch_with_workers, create_batch, load_batch
from workflows.aid.validation import COLUMNS, read_aid_list
from workflows.models import AidWorker
from workflows.organisation import unit_by_code
from workflows.tabular import TableLimits, export_text, paused_gc, read_table, write_xlsx, write_xlsx_sheets

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
WIDTH = 8  # columns read in these tests (TableLimits.max_columns + 1)


# --- reading: the reader before issue #9, kept here as the reference ---------------------------------------------


def openpyxl_rows(data: bytes, width: int = WIDTH) -> list[tuple[int, list[Any]]]:
    """The non-blank rows as the code before issue #9 read them: openpyxl's read-only cells, formulas and errors
    refused, trailing empty cells dropped."""
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    sheet = workbook.worksheets[0]
    sheet.reset_dimensions()
    rows = []
    for number, cells in enumerate(sheet.iter_rows(max_col=width), start=1):
        values = [_old_value(cell) for cell in cells]
        while values and values[-1] is None:
            values.pop()
        if values:
            rows.append((number, values))
    workbook.close()
    return rows


def _old_value(cell: Any) -> Any:
    if cell.data_type == "f" or not isinstance(cell.value, (str, int, float, bool, date, time, timedelta, type(None))):
        return tabular._Refused("不接受公式，请改为直接填写数值或文字")
    if cell.data_type == "e":
        return tabular._Refused(f"单元格为错误值 {cell.value}")
    return cell.value


def streamed_rows(data: bytes, width: int = WIDTH) -> list[tuple[int, list[Any]]]:
    cells = tabular._xlsx_rows(data, TableLimits(max_columns=width - 1))
    try:
        return [(number, list(values)) for number, values in cells]
    finally:
        cells.close()


def saved(workbook: openpyxl.Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, change: dict[str, Callable[[bytes], bytes]], add: dict[str, bytes] | None = None) -> bytes:
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            target.writestr(entry.filename, change[entry.filename](content) if entry.filename in change else content)
        for name, content in (add or {}).items():
            target.writestr(name, content)
    return out.getvalue()


MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_INLINE = re.compile(
    rb'<c r="([A-Z]+[0-9]+)"( s="[0-9]+")? t="inlineStr"><is><t(?: xml:space="preserve")?>(.*?)</t></is></c>'
)
_STRINGS_TYPE = b"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def with_shared_strings(data: bytes, items: Sequence[bytes] = ()) -> bytes:
    """The workbook with its inline strings moved to a shared string table, where Excel keeps text (openpyxl writes
    inline strings only); `items` are <si> elements put first in the table."""
    table = list(items)

    def shared(found: re.Match[bytes]) -> bytes:
        table.append(b'<si><t xml:space="preserve">' + found[3] + b"</t></si>")
        index = str(len(table) - 1).encode()
        return b'<c r="' + found[1] + b'"' + (found[2] or b"") + b' t="s"><v>' + index + b"</v></c>"

    def sheet(content: bytes) -> bytes:
        return _INLINE.sub(shared, content)

    converted = rezip(data, {SHEET: sheet})
    override = b'<Override PartName="/xl/sharedStrings.xml" ContentType="' + _STRINGS_TYPE + b'"/></Types>'
    strings = f"<sst {MAIN}>".encode() + b"".join(table) + b"</sst>"
    return rezip(converted, {"[Content_Types].xml": lambda c: c.replace(b"</Types>", override)}, {STRINGS: strings})


# XML's special characters, blanks at the ends (xml:space), CR (a character reference), full-width and astral text.
TEXTS = ["张三", "  两端有空格  ", "a&b<c>\"'", "行一\n行二\r\n", "\u3000全角空格", "", "😀 表情", "]]>",
         "6222021234567890123"]  # fmt: skip


def every_kind(workbook: openpyxl.Workbook) -> None:
    """A header, then rows with every kind of value a cell can hold, gaps, a formula, errors and a far cell."""
    sheet = workbook.active if not workbook.write_only else workbook.create_sheet("名单")
    assert sheet is not None
    sheet.append(["姓名", "数量", "日期", "时间", "时长", "是否", "备注"])
    sheet.append(TEXTS[:7])
    sheet.append([TEXTS[7], 42, date(2017, 9, 1), time(8, 30), timedelta(hours=36, minutes=5), True, TEXTS[8]])
    sheet.append(["小数", 12.5, datetime(2017, 9, 1, 14, 15), datetime(2017, 9, 1), 1e20, False, -3])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["公式", "=1+1", "#N/A", "#DIV/0!", 0.1, None, "远处", "第八列", "第九列不读"])
    for _ in range(3):
        sheet.append([])
    sheet.append(["空行之后", None, None, None, None, None, None, "只有第八列"])


@pytest.mark.parametrize(
    ("write_only", "shared", "width"),
    [(False, False, 10), (False, True, 10), (True, False, WIDTH), (True, True, WIDTH)],
    ids=["inline", "shared-strings", "write-only", "write-only-shared-strings"],
)
def test_every_kind_of_cell_reads_as_openpyxl_read_it(write_only: bool, shared: bool, width: int) -> None:
    """A workbook openpyxl wrote has its used range (<dimension>), so all 9 columns are read; its write-only mode
    writes none, and the 9th column lies past the 8 read."""
    workbook = openpyxl.Workbook(write_only=write_only)
    every_kind(workbook)
    data = with_shared_strings(saved(workbook)) if shared else saved(workbook)
    assert (b't="s"' in zipfile.ZipFile(io.BytesIO(data)).read(SHEET)) is shared
    rows = streamed_rows(data, width)
    assert rows == openpyxl_rows(data, width)
    assert [number for number, _ in rows] == [1, 2, 3, 4, 6, 10]  # blank rows skipped, the others keep their number
    assert len(rows[4][1]) == (9 if width == 10 else 8)


def test_array_formulas_and_dates_of_the_1904_system_read_as_openpyxl_read_them() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    workbook.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    sheet.append(["姓名", "日期"])
    sheet.append(["张三", date(2017, 9, 1)])
    sheet["C2"] = ArrayFormula("C2:C2", "=SUM(A1:A2)")
    data = saved(workbook)
    assert b'date1904="1"' in zipfile.ZipFile(io.BytesIO(data)).read("xl/workbook.xml")
    assert streamed_rows(data) == openpyxl_rows(data)
    assert streamed_rows(data)[1][1][1] == datetime(2017, 9, 1)


def hand_written(sheet_data: str, strings: Sequence[str] = ()) -> bytes:
    """A workbook whose sheet data and shared strings (<si> elements) are the given XML, in a package openpyxl
    wrote: styles 1 and 2 are its date and duration formats."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["表头", date(2017, 1, 1), timedelta(hours=1)])
    data = with_shared_strings(saved(workbook), [item.encode() for item in strings])
    sheet_xml = zipfile.ZipFile(io.BytesIO(data)).read(SHEET)
    assert re.search(rb'<c r="B1" s="1"', sheet_xml) and re.search(rb'<c r="C1" s="2"', sheet_xml)
    return rezip(data, {SHEET: lambda _: f"<worksheet {MAIN}><sheetData>{sheet_data}</sheetData></worksheet>".encode()})


ODD_SHEETS = {
    "rich-text": (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><r><t>王</t></r><r><rPr><b/></rPr>'
        '<t xml:space="preserve"> 五 </t></r><rPh sb="0" eb="1"><t>ワン</t></rPh></is></c>'
        '<c r="C1" t="s"><v>1</v></c>'
        '<c r="D1" t="inlineStr"><is><t>a</t><rPh sb="0" eb="1"><t>b</t></rPh></is></c></row>',
        ['<si><r><t>李</t></r><r><t>四</t></r><rPh sb="0" eb="1"><t>リ</t></rPh></si>', "<si><t>x005F_y</t></si>"],
    ),
    "no-references": (
        '<row><c t="inlineStr"><is><t>一</t></is></c><c><v>2</v></c><c r="E1"><v>5</v></c><c><v>6</v></c></row>'
        '<row><c t="inlineStr"><is><t>二</t></is></c></row><row r="5.0"><c r="B5"><v>7</v></c></row>',
        "",
    ),
    "rows-out-of-order": (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>二</t></is></c></row><row r="2"><c r="A2"><v>2</v></c></row>'
        '<row r="1"><c r="A1"><v>1</v></c></row><row r="4"><c r="A4"><v>4</v></c><c r="A4"><v>40</v></c></row>',
        [],
    ),
    "types": (
        '<row r="1"><c r="A1" t="str"><v>缓存文字</v></c><c r="B1" t="d"><v>2017-09-01T08:00:00</v></c>'
        '<c r="C1" t="b"><v>0</v></c><c r="D1" t="e"><v>#REF!</v></c><c r="E1" t="e"/><c r="F1"><v>1E3</v></c>'
        '<c r="G1" t="inlineStr"/><c r="H1"><v></v></c></row>'
        '<row r="2"><c r="A2" s="1"><v>42979</v></c><c r="B2" s="1"><v>42979.5</v></c><c r="C2" s="1"><v>0.25</v></c>'
        '<c r="D2" s="2"><v>1.5</v></c><c r="E2" s="1"><v>9999999</v></c><c r="F2" s="1"><v>30</v></c></row>'
        '<row r="3"><c r="A3"><f>1+1</f><v>2</v></c><c r="B3" t="inlineStr"><v>x</v><f>A1</f></c>'
        '<c r="C3" t="s"><v>0</v><v>1</v></c><c r="D3"><extLst/><v>3</v></c></row>',
        ["<si><t>甲</t></si>", "<si><t>乙</t></si>"],
    ),
}


@pytest.mark.parametrize(("sheet_data", "strings"), ODD_SHEETS.values(), ids=ODD_SHEETS.keys())
def test_odd_sheet_layouts_read_as_openpyxl_read_them(sheet_data: str, strings: list[str]) -> None:
    data = hand_written(sheet_data, strings)
    # openpyxl warns of a date serial past the year 9999 (both readers make it an error cell).
    with pytest.warns(UserWarning) if "9999999" in sheet_data else contextlib.nullcontext():
        expected = openpyxl_rows(data)
    assert streamed_rows(data) == expected


def alternating(count: int) -> list[dict[str, Any]]:
    """`count` distinct workers of 大连市, 内退 and 买断 in turn (so neighbouring rows leave different cells empty)."""
    rows = []
    for n in range(count):
        row = aid_row(n)
        if n % 2:
            row = buyout(姓名=row["姓名"], 身份证号=resident_id(born="19750308", sequence=f"{2 * n:03d}"),
                         银行卡号=card(f"621700{n:09d}"), 所在区县=row["所在区县"])  # fmt: skip
        rows.append(row)
    return rows


@pytest.mark.parametrize("writer", ["Excel", "write_xlsx"])
def test_a_whole_aid_list_reads_as_before(writer: str) -> None:
    """An aid list as Excel stores text (shared strings) and as write_xlsx does (inline strings)."""
    rows = alternating(60)
    data = (
        with_shared_strings(xlsx(rows))
        if writer == "Excel"
        else write_xlsx(COLUMNS, [[row[c] for c in COLUMNS] for row in rows])
    )
    assert streamed_rows(data, 101) == openpyxl_rows(data, 101)
    table = read_table(data, "名单.xlsx")
    assert [row.values[1] for row in table.rows] == [row["身份证号"] for row in rows]


# --- writing: the writer before issue #9, kept here as the reference ---------------------------------------------


def openpyxl_written(sheets: Sequence[tabular.Sheet]) -> bytes:
    """The workbook as write_xlsx_sheets wrote it before issue #9: an openpyxl cell object per cell."""
    workbook = openpyxl.Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title)
        for texts in tabular._export_rows(header, rows):
            cells = []
            for text in texts:
                cell = WriteOnlyCell(sheet, value=text)
                cell.data_type, cell.number_format = "s", "@"
                cells.append(cell)
            sheet.append(cells)
    return saved(workbook)


def cells(data: bytes) -> list[tuple[str, list[list[tuple[Any, str, str]]]]]:
    """Every sheet's title and cells as (value, data type, number format), read back by openpyxl."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return [
        (sheet.title, [[(cell.value, cell.data_type, cell.number_format) for cell in row] for row in sheet.iter_rows()])
        for sheet in workbook.worksheets
    ]


EXPORTED: list[tabular.Sheet] = [
    ("代发清单", ["序号", "姓名", "金额（元）", "日期", "备注"],
     [[1, TEXTS[0], Decimal("3000"), date(2017, 9, 1), TEXTS[1]],
      [2, TEXTS[2], Decimal("0.005"), None, TEXTS[3]],
      [3, TEXTS[4], Decimal("-1"), date(2018, 1, 2), "=HYPERLINK(\"http://x\")"],
      [4, TEXTS[5], Decimal("12.345"), None, TEXTS[6] + "\x01\x1f"],
      [5, TEXTS[7], 0, None, TEXTS[8]]]),
    ("空表", ["甲", "乙"], []),
    ("第三张", ["列"], [[f"第{n}行"] for n in range(2500)]),
]  # fmt: skip


def test_written_workbooks_read_back_as_openpyxl_wrote_them() -> None:
    ours = cells(write_xlsx_sheets(EXPORTED))
    assert ours == cells(openpyxl_written(EXPORTED))
    assert [len(rows) for _, rows in ours] == [6, 1, 2501]
    assert all(format_ == "@" for _, rows in ours for row in rows for _, _, format_ in row)
    assert {kind for _, rows in ours for row in rows for value, kind, _ in row if value is not None} == {"s"}


def test_characters_xml_cannot_hold_are_dropped() -> None:
    """U+FFFE and U+FFFF are not XML characters: openpyxl refused the whole file, now they are dropped like the
    control characters export_text drops."""
    data = write_xlsx_sheets([("表", ["备注"], [["甲\ufffe乙\uffff"]])])
    assert cells(data)[0][1][1][0][0] == "甲乙"


def test_the_other_parts_of_the_package_are_openpyxl_s() -> None:
    ours = zipfile.ZipFile(io.BytesIO(write_xlsx_sheets(EXPORTED)))
    theirs = zipfile.ZipFile(io.BytesIO(openpyxl_written(EXPORTED)))
    assert ours.namelist() == theirs.namelist()
    for name in ours.namelist():
        if not name.startswith(("xl/worksheets/", "docProps/core.xml")):
            assert ours.read(name) == theirs.read(name), name


def test_the_text_written_round_trips_through_the_reader() -> None:
    texts = [text for text in TEXTS if text]
    table = read_table(write_xlsx_sheets([("表", ["文字"], [[text] for text in texts])]), "表.xlsx")
    assert [row.values[0] for row in table.rows] == [export_text(text).strip() for text in texts]


# --- the bank files --------------------------------------------------------------------------------------------


def test_bank_files_from_the_query_equal_those_from_the_loaded_payments(world: Session) -> None:
    confirmed_list(world, {"甘井子区": 3, "中山区": 2})
    batch = create_batch(world, user(world, "baozhang1"), YEAR, unit_by_code(world, "210200").id)
    world.flush()
    queried = batch_file_xlsx(batch), batch_file_csv(batch), result_template(batch)
    assert load_batch(world, batch.id) is batch
    loaded = _batch_with_workers(world, batch.id)
    assert loaded is not None and all("worker" in vars(payment) for payment in loaded.payments)
    world.expunge(loaded)  # no session: the file is rendered from the loaded payments, as before issue #9
    assert (batch_file_xlsx(loaded), batch_file_csv(loaded), result_template(loaded)) == queried
    text = queried[1].decode("utf-8-sig")
    assert all(payment.worker.resident_id in text and payment.card_number in text for payment in loaded.payments)


# --- the import ------------------------------------------------------------------------------------------------


def test_alternating_placements_are_stored_as_validated_in_one_insert(world: Session) -> None:
    """内退 and 买断 rows leave different columns empty; the rows still go as one statement, stored as validated."""
    data = xlsx(alternating(12))
    expected = read_aid_list(data, "名单.xlsx", year=YEAR, resolve_unit=unit_resolver(world),
                             earlier=earlier_lists(world, YEAR))  # fmt: skip
    inserts: list[tuple[str, bool]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("INSERT INTO aid_worker"):
            inserts.append((statement, executemany))

    engine = world.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        import_aid_list(world, user(world, "shengzong_baozhang1"), YEAR, data, "名单.xlsx")
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(inserts) == 1 and inserts[0][1]
    stored = list(world.scalars(select(AidWorker).where(AidWorker.year == YEAR).order_by(AidWorker.id)))
    assert [worker.row_number for worker in stored] == [row.row_number for row in expected] == list(range(2, 14))
    units = {unit.code: unit.id for unit in (unit_by_code(world, code) for code in ("210200", "210211", "210202"))}
    for worker, row in zip(stored, expected, strict=True):
        for field in vars(row):
            if field.endswith("_unit_code"):
                column = field.replace("_code", "_id")
                assert getattr(worker, column) == (units[getattr(row, field)] if getattr(row, field) else None)
            else:
                assert getattr(worker, field) == getattr(row, field), field
        assert (worker.review_reason, worker.returned_reason, worker.payment_withheld_reason) == ("", "", "")
    assert {worker.placement_type for worker in stored} == {"内部退养", "买断解除劳动关系"}
    assert stored[1].internal_retirement_start is None and stored[0].buyout_on is None


def test_a_value_repeated_on_many_rows_is_reported_on_each() -> None:
    """Checks are remembered per value within an import; each row still gets its own problem."""
    bad_card = "6222021234567890"  # fails the Luhn check
    rows = [internal(统一社会信用代码="91210211MA0Q3R5K71", 身份证号=resident_id(sequence=f"{2 * n + 1:03d}"),
                     银行卡号=bad_card if n < 2 else card(f"62220212345678{n}")) for n in range(3)]  # fmt: skip
    rows.append(internal(身份证号=WOMAN, 性别="男", 银行卡号=card("622202123456789")))
    found = [(problem.row, problem.column) for problem in problems(rows)]
    assert found == [(2, "统一社会信用代码"), (2, "银行卡号"), (3, "统一社会信用代码"), (3, "银行卡号"),
                     (4, "统一社会信用代码"), (5, "性别")]  # fmt: skip


def test_paused_gc_restores_the_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_stamped_workbook_carries_the_stamp_and_the_same_bytes_each_time() -> None:
    """Bank files are stamped with their batch's creation (they were re-zipped afterwards before issue #9)."""
    moment = datetime(2017, 9, 1, 8, 30, 5, tzinfo=UTC)
    first = write_xlsx(["姓名"], [["张三"]], stamped=moment)
    archive = zipfile.ZipFile(io.BytesIO(first))
    assert {entry.date_time for entry in archive.infolist()} == {(2017, 9, 1, 8, 30, 4)}  # zip keeps even seconds
    assert archive.read("docProps/core.xml").count(b">2017-09-01T08:30:05Z<") == 2
    assert write_xlsx(["姓名"], [["张三"]], stamped=moment) == first
