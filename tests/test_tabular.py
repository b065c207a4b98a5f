"""Spreadsheet import/export is safe against hostile and broken files (issue #5; `workflows.tabular`).

Every file is built in memory with openpyxl/zipfile; nothing here touches the database.
"""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

from workflows import tabular, xlsx_reading
from workflows.tabular import TableError, TableLimits, read_table, write_csv, write_xlsx

SHEET = "xl/worksheets/sheet1.xml"


def xlsx(rows: list[list[Any]]) -> bytes:
    """A workbook as Excel would save it; a str starting with "=" becomes a formula, like typing it."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rezip(data: bytes, change: dict[str, Callable[[bytes], bytes]]) -> bytes:
    """`data` (a zip) with some entries rewritten."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            content = source.read(entry.filename)
            target.writestr(entry.filename, change[entry.filename](content) if entry.filename in change else content)
    return out.getvalue()


def refusal(data: bytes, filename: str, **kwargs: Any) -> str:
    with pytest.raises(TableError) as refused:
        read_table(data, filename, **kwargs)
    return str(refused.value)


HEADER = ["姓名", "身份证号", "银行卡号", "金额", "发放日期", "备注"]
ROWS: list[list[tabular.CellValue]] = [
    ["张三", "11010119900307123X", "6222021234567890123", Decimal("1234.5"), date(2026, 12, 1), "困难职工（单亲）"],
    ["欧阳娜娜", "110101199003071234", "6217000010001234567", Decimal("0.005"), None, "住院，医疗费 3 万元"],
]
EXPECTED = [
    ("张三", "11010119900307123X", "6222021234567890123", "1234.50", "2026-12-01", "困难职工（单亲）"),
    ("欧阳娜娜", "110101199003071234", "6217000010001234567", "0.01", "", "住院，医疗费 3 万元"),
]
IDS = ["身份证号", "银行卡号"]


# --- round trips and encodings -------------------------------------------------------------------------------------


def test_xlsx_round_trip_keeps_chinese_text_long_digits_and_decimals() -> None:
    data = write_xlsx(HEADER, ROWS)
    table = read_table(data, "发放名单.xlsx", text_columns=IDS, required_columns=HEADER)
    assert table.header == tuple(HEADER)
    assert [row.values for row in table.rows] == EXPECTED and [row.number for row in table.rows] == [2, 3]
    assert dict(table.records())[2]["银行卡号"] == "6222021234567890123"
    # Every cell is stored as text with the text format, so Excel neither rounds nor reformats any of them.
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type in ("s", "inlineStr") and cell.number_format == "@" for cell in cells)


def test_csv_round_trip_is_utf8_with_bom_and_crlf() -> None:
    data = write_csv(HEADER, ROWS)
    assert data.startswith(b"\xef\xbb\xbf" + "姓名,".encode()) and b"\r\n" in data
    table = read_table(data, "发放名单.csv", text_columns=IDS)
    assert table.header == tuple(HEADER) and [row.values for row in table.rows] == EXPECTED


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8", "utf-8-sig"])
def test_csv_in_the_encodings_excel_saves(encoding: str) -> None:
    text = (
        "姓名,身份证号,备注\r\n张三,11010119900307123X,龑䶮𠀀\r\n\r\n"
        '李四,110101199003071234,"多行\n备注"\r\n王五,1,x\r\n'
    )
    table = read_table(text.encode(encoding), "名单.csv", text_columns=["身份证号"])
    assert table.header == ("姓名", "身份证号", "备注")  # no BOM left in the first name
    # Row numbers are CSV records as Excel shows them; the blank record is skipped but still counted.
    assert [(row.number, row.values[0]) for row in table.rows] == [(2, "张三"), (4, "李四"), (5, "王五")]
    assert table.rows[0].values[2] == "龑䶮𠀀" and table.rows[1].values[2] == "多行\n备注"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xe5\xa7\x93\xe5\x90\x8d\r\n\xff\xfe\xfd\x80\r\n", "编码"),  # neither UTF-8 nor GB18030
        ("姓名\r\n张三\r\n".encode("utf-16"), "UTF-16"),
        (b"a,b\r\n1,\x002\r\n", "不是文本"),
        (b'a,b\r\n1,"' + b"x" * 200_000 + b"\r\n", "第 2 行：CSV 格式错误"),
    ],
    ids=["undecodable", "utf-16", "nul-bytes", "unpaired-quote"],
)
def test_csv_that_cannot_be_read_as_text_is_refused(data: bytes, message: str) -> None:
    assert message in refusal(data, "名单.csv")


# --- files that are not what their name says -----------------------------------------------------------------------


def plain_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "不是工作簿")
    return out.getvalue()


OLE2 = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
EXE = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(120) + b"PE\x00\x00"


@pytest.mark.parametrize(
    ("filename", "data", "message"),
    [
        ("名单.xlsx", "姓名,身份证号\r\n张三,1\r\n".encode(), "不是 Excel 工作簿"),
        ("名单.xlsx", EXE, "可执行程序"),
        ("名单.csv", EXE, "可执行程序"),
        ("名单.xlsx", OLE2, "另存为"),
        ("名单.xls", OLE2, "另存为"),
        ("名单.csv", OLE2, "另存为"),
        ("名单.xlsx", plain_zip(), "没有 Excel 工作簿"),
        ("名单.xlsx", xlsx([["姓名"], ["张三"]])[:3000], "损坏"),
        ("名单.csv", xlsx([["姓名"], ["张三"]]), "不是 CSV"),
        ("名单.pdf", b"%PDF-1.7", "只接受"),
        ("名单", b"a,b", "只接受"),
    ],
    ids=["text-as-xlsx", "exe-as-xlsx", "exe-as-csv", "xls-as-xlsx", "xls", "xls-as-csv", "zip", "truncated",
         "xlsx-as-csv", "pdf", "no-suffix"],
)
def test_a_file_that_is_not_what_its_name_says_is_refused(filename: str, data: bytes, message: str) -> None:
    assert message in refusal(data, filename)


def test_file_size_limit() -> None:
    assert "文件过大" in refusal(b"a" * 2048, "名单.csv", limits=TableLimits(max_bytes=1024))


# --- zip bombs and other archive tricks ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """A real workbook plus a 300 MB entry of zeros, deflated while streaming (about 0.3 MB)."""
    out = io.BytesIO(xlsx([["姓名"], ["张三"]]))
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED) as archive, archive.open("xl/media/image1.png", "w") as entry:
        chunk = bytes(1 << 20)
        for _ in range(300):
            entry.write(chunk)
    return out.getvalue()


def test_zip_bomb_is_refused_from_the_directory_before_openpyxl(
    zip_bomb: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(zip_bomb) < 1024 * 1024

    def never(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("openpyxl must not see a zip bomb")

    monkeypatch.setattr(xlsx_reading, "ExcelReader", never)
    assert "压缩比异常" in refusal(zip_bomb, "名单.xlsx")
    # With the ratio check loosened, the total uncompressed size still stops it.
    assert "解压后过大" in refusal(zip_bomb, "名单.xlsx", limits=TableLimits(max_compression_ratio=10**6))


def test_archive_limits_are_configurable() -> None:
    data = xlsx([["姓名"], ["张三"]])
    assert "解压后过大" in refusal(data, "名单.xlsx", limits=TableLimits(max_unzipped_bytes=1000))
    assert "内部文件过多" in refusal(data, "名单.xlsx", limits=TableLimits(max_zip_entries=3))


def test_a_zip_directory_that_understates_a_size_cannot_inflate_more() -> None:
    """The directory declares the sheet's true size, the entry holds 50 MB more: reading stops at the declared size
    and the checksum fails, so the ratio checked from the directory is the ratio that can be reached."""
    original = zipfile.ZipFile(io.BytesIO(xlsx([["姓名"], ["张三"]]))).read(SHEET)
    data = rezip(xlsx([["姓名"], ["张三"]]), change={SHEET: lambda content: content + b" " * (50 << 20)})
    entry = zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET)
    patched = bytearray(data)
    patched[entry.header_offset + 22 : entry.header_offset + 26] = struct.pack("<I", len(original))
    central = data.index(b"PK\x01\x02")  # central directory records: name at +46, uncompressed size at +24
    while data[central + 46 : central + 46 + len(SHEET)] != SHEET.encode():
        central = data.index(b"PK\x01\x02", central + 4)
    patched[central + 24 : central + 28] = struct.pack("<I", len(original))
    assert zipfile.ZipFile(io.BytesIO(bytes(patched))).getinfo(SHEET).file_size == len(original)
    assert "无法读取" in refusal(bytes(patched), "名单.xlsx")


@pytest.mark.parametrize("where", ["sheet", "shared-strings"])
def test_xml_entities_inside_a_workbook_are_not_expanded(where: str, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-xlsx", encoding="utf-8")
    laughs = '<!ENTITY l0 "哈哈哈哈哈哈哈哈哈哈">' + "".join(
        f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)
    )
    doctype = f'<!DOCTYPE worksheet [{laughs}<!ENTITY x SYSTEM "{secret.as_uri()}">]>'.encode()
    reference = b"&l9;" if where == "sheet" else b"&x;"
    data = rezip(xlsx([["姓名"], ["张三"]]), change={SHEET: lambda c: doctype + c.replace(b"<t>", b"<t>" + reference)})
    assert "无法读取" in refusal(data, "名单.xlsx")


# --- cells ---------------------------------------------------------------------------------------------------------


def test_formula_and_error_cells_are_reported_by_row_and_column_never_evaluated() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号", "金额"])
    sheet.append(["张三", "110101199003071234", "'=1+1 is text"])
    sheet.append(["李四", "=A2", "=SUM(C2:C2)"])
    sheet.append(["王五", "#N/A", "x"])
    sheet["C5"] = ArrayFormula("C5:C5", "=SUM(A1:A2)")
    sheet["A5"] = "赵六"
    buffer = io.BytesIO()
    workbook.save(buffer)
    with pytest.raises(TableError) as refused:
        read_table(buffer.getvalue(), "名单.xlsx")
    assert refused.value.problems == (
        "第 3 行「身份证号」：不接受公式，请改为直接填写数值或文字",
        "第 3 行「金额」：不接受公式，请改为直接填写数值或文字",
        "第 4 行「身份证号」：单元格为错误值 #N/A",
        "第 5 行「金额」：不接受公式，请改为直接填写数值或文字",
    )


def test_numbers_in_a_text_column_are_errors_elsewhere_text() -> None:
    data = xlsx(
        [
            ["姓名", "身份证号", "金额", "人数", "日期", "时间"],
            ["张三", 110101199003071234, 12.5, 3, datetime(2026, 1, 2), datetime(2026, 1, 2, 8, 30)],
            ["李四", 6.22202e18, 100.0, 0, date(2026, 2, 3), None],
            ["王五", "110101199003071234", 0.1, -2, None, None],
        ]
    )
    with pytest.raises(TableError) as refused:
        read_table(data, "名单.xlsx", text_columns=["身份证号"])
    where = [problem.split("：")[0] for problem in refused.value.problems]
    assert where == ["第 2 行「身份证号」", "第 3 行「身份证号」"]
    assert "文本" in refused.value.problems[0]
    values = [row.values for row in read_table(data, "名单.xlsx").rows]
    assert values[0][2:] == ("12.5", "3", "2026-01-02", "2026-01-02T08:30:00")
    assert values[1][2:5] == ("100", "0", "2026-02-03") and values[2][2:4] == ("0.1", "-2")


def test_an_id_excel_already_turned_into_scientific_notation_is_refused_in_csv() -> None:
    data = "姓名,银行卡号\r\n张三,6.22202E+18\r\n李四,6222021234567890123\r\n".encode("gb18030")
    assert "第 2 行「银行卡号」" in refusal(data, "名单.csv", text_columns=["银行卡号"])
    assert read_table(data, "名单.csv").rows[0].values == ("张三", "6.22202E+18")


# --- header and shape ----------------------------------------------------------------------------------------------


def test_header_found_below_a_title_row_when_required_columns_are_named() -> None:
    data = xlsx([["2026 年困难职工帮扶名单"], [], ["序号", "姓名", "身份证号"], [1, "张三", "110101199003071234"]])
    table = read_table(data, "名单.xlsx", required_columns=["姓名", "身份证号"])
    assert table.header == ("序号", "姓名", "身份证号") and table.rows[0].number == 4
    message = refusal(data, "名单.xlsx", required_columns=["姓名", "银行卡号"])
    assert "「银行卡号」" in message and "「姓名」" not in message


def csv_bytes(rows: list[list[Any]]) -> bytes:
    return "\r\n".join(",".join("" if value is None else str(value) for value in row) for row in rows).encode()


@pytest.mark.parametrize(
    ("make", "rows", "message"),
    [
        (xlsx, [["姓名", "姓名"], ["张三", "李四"]], "表头「姓名」重复"),
        (xlsx, [["姓名", None, "备注"], ["张三", "", ""]], "第 2 列表头不是文字或为空"),
        (xlsx, [["姓名", 2026], ["张三", ""]], "第 2 列表头不是文字或为空"),
        (xlsx, [["姓名"], ["张三", "多出来的"]], "第 2 行：第 2 列有内容，但没有表头"),
        (xlsx, [["姓名"], ["张三", None, None, None, None, "远处"]], "宽 6 列，超过上限 4 列"),
        (csv_bytes, [[f"列{i}" for i in range(5)], ["a"]], "表头超过 4 列"),
        (csv_bytes, [["姓名"], ["张三", None, None, None, None, "远处"]], "第 2 行：超过 4 列的位置有内容"),
        (xlsx, [[None], []], "没有表头"),
    ],
    ids=["duplicate", "blank-header", "number-header", "extra-cell", "wide-sheet", "wide-header", "far-cell", "empty"],
)
def test_header_and_shape_problems(make: Callable[[list[list[Any]]], bytes], rows: list[Any], message: str) -> None:
    filename = "名单.xlsx" if make is xlsx else "名单.csv"
    assert message in refusal(make(rows), filename, limits=TableLimits(max_columns=4))


def test_a_sheet_whose_stored_range_lies_still_reports_the_next_column() -> None:
    data = xlsx([["姓名"], ["张三", None, None, None, "第五列"]])
    data = rezip(data, change={SHEET: lambda c: c.replace(b'<dimension ref="A1:E2"/>', b'<dimension ref="A1:A2"/>')})
    assert "第 2 行：超过 4 列的位置有内容" in refusal(data, "名单.xlsx", limits=TableLimits(max_columns=4))


def test_row_limit_stops_reading_with_a_clear_error() -> None:
    """The 101st data row stops the read: the formula further down is never reached."""
    rows: list[list[Any]] = [["姓名", "备注"], *[[f"职工{i}", ""] for i in range(150)]]
    rows[140][1] = "=1+1"
    limits = TableLimits(max_rows=100)
    assert refusal(xlsx(rows), "名单.xlsx", limits=limits) == "数据超过 100 行，请拆分成多个文件后再上传"
    csv_rows = [[name, "x"] for name, _ in rows]
    assert "数据超过 100 行" in refusal(write_csv(csv_rows[0], csv_rows[1:]), "名单.csv", limits=limits)
    assert len(read_table(xlsx(rows[:101]), "名单.xlsx", limits=limits).rows) == 100


def test_a_wrong_stored_dimension_does_not_truncate_the_sheet() -> None:
    data = xlsx([["姓名"], ["张三"], ["李四"], ["王五"]])
    data = rezip(data, change={SHEET: lambda c: c.replace(b'<dimension ref="A1:A4"/>', b'<dimension ref="A1:A2"/>')})
    assert [row.values[0] for row in read_table(data, "名单.xlsx").rows] == ["张三", "李四", "王五"]


def test_a_row_beyond_excels_last_row_is_refused() -> None:
    """openpyxl fills skipped rows in; a row numbered past Excel's limit stops that at 1,048,576 cheap steps."""
    data = xlsx([["姓名"], ["张三"]])
    data = rezip(data, change={SHEET: lambda c: c.replace(b'r="2"', b'r="9000000"').replace(b'"A2"', b'"A9000000"')})
    assert "超出 Excel 范围" in refusal(data, "名单.xlsx")


# --- export --------------------------------------------------------------------------------------------------------

DANGEROUS = [
    "=1+1",
    " =1+1",
    "\u3000@SUM(A1)",
    '=HYPERLINK("http://x","点我")',
    "+86 138",
    "-2+3",
    "@SUM(A1)",
    "\tx",
    "\rx",
    "＝1+1",
    "－1",
]


@pytest.mark.parametrize("text", DANGEROUS)
@pytest.mark.parametrize("writer", [write_xlsx, write_csv], ids=["xlsx", "csv"])
def test_export_escapes_text_a_spreadsheet_would_run(text: str, writer: Callable[..., bytes]) -> None:
    data = writer(["备注", "金额"], [[text, Decimal("-5")], ["张三-李四", Decimal("12")]])
    table = read_table(data, "导出.xlsx" if writer is write_xlsx else "导出.csv")
    # Read back, the escaped cell shows its text with the apostrophe (reading strips only surrounding blanks).
    assert [row.values for row in table.rows] == [(("'" + text).strip(), "-5.00"), ("张三-李四", "12.00")]
    if writer is write_xlsx:
        cell = openpyxl.load_workbook(io.BytesIO(data)).active["A2"]
        assert cell.data_type == "s" and cell.value == "'" + text
    else:
        first_field = data.decode("utf-8-sig").split("\r\n", 1)[1].lstrip('"')
        assert first_field.startswith("'")


def test_export_formats_decimals_with_two_places_and_refuses_floats() -> None:
    amounts = [Decimal("3"), Decimal("2.345"), Decimal("-0.5"), Decimal("12345678901234567890.1")]
    assert [tabular.export_text(amount) for amount in amounts] == ["3.00", "2.35", "-0.50", "12345678901234567890.10"]
    assert [tabular.export_text(value) for value in (True, False, 7, None)] == ["是", "否", "7", ""]
    with pytest.raises(TypeError):
        write_csv(["金额"], [[1.5]])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        write_csv(["姓名", "金额"], [["张三"]])


@pytest.mark.parametrize("writer", [write_xlsx, write_csv], ids=["xlsx", "csv"])
def test_export_drops_control_characters_before_escaping(writer: Callable[..., bytes]) -> None:
    data = writer(["姓名", "备注"], [["张\x01三\x1f", "\x01=1+1"]])
    assert read_table(data, "导出.xlsx" if writer is write_xlsx else "导出.csv").rows[0].values == ("张三", "'=1+1")
