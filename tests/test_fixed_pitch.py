"""Fixed-pitch roster rows (issue #9 "Documents", webapp.fixed_pitch): one line of text per worker instead of eleven
table cells. The rows must say what the cells said, cut long text as `text-overflow: ellipsis` did, and line up
with the header and the column rules in the PDF; the width rule must be the mono CJK face's own advances."""

from __future__ import annotations

import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pypdf
import pytest
from flask import Flask, render_template
from flask_babel import force_locale
from fontTools.ttLib import TTCollection

from webapp.aid_documents import ROSTER_TABLE, roster_context, roster_line
from webapp.fixed_pitch import Column, PitchTable, cells, fit, width
from webapp.records import RECORD_LOCALE, html_to_pdf
from workflows.aid.reports import Roster, RosterRow, paginate_roster
from workflows.db import utcnow

LONG_BANK = "中国工商银行股份有限公司大连甘井子支行营业部"


def test_half_width_characters_take_one_cell_and_the_rest_two() -> None:
    assert width("DL2017-001 6222***0000 1,500.00") == 31
    assert width("中山区总工会") == 12 and width("（）：　…·") == 12
    assert width("ｱｲ") == 2  # half-width katakana
    assert width("e\u0301") == 1 and width("a\u200bb") == 2  # a combining accent and a zero-width space take none


def test_text_that_fits_is_kept_and_longer_text_is_cut_with_an_ellipsis_at_the_width() -> None:
    assert fit("中山区总工会", 12) == "中山区总工会"
    cut = fit(LONG_BANK, 28)
    assert cut == "中国工商银行股份有限公司大…" and width(cut) == 28
    assert fit("ABCDEFGHIJ", 9) == "ABCDEFG…" and width(fit("ABCDEFGHIJ", 9)) == 9
    # An odd room cannot end on half a CJK character: the cut stays within it.
    assert fit(LONG_BANK, 27) == "中国工商银行股份有限公司…" and width(fit(LONG_BANK, 27)) == 26
    assert fit("王五", 1) == ""  # not even the ellipsis fits


def test_tabs_newlines_and_control_characters_cannot_shift_the_columns() -> None:
    assert fit("中国\t工商\r\n银行\x0b", 40) == "中国 工商 银行 "
    table = PitchTable((Column(6), Column(6)))
    assert table.line(["a\tb", "c"]) == " a b   c"


def test_a_line_pads_each_value_into_its_column_numbers_to_the_right() -> None:
    table = PitchTable((Column(5, right=True), Column(8), Column(12, right=True), Column(6)))

    line = table.line(["7", "王五", "1,500.00", ""])

    # One cell of padding each side: "  7" in 3 cells, "王五" and 2 cells of room, 1,500.00 right-aligned in 10.
    assert line == "   7 " + " 王五   " + "   1,500.00"
    assert width("   7 " + " 王五   " + "   1,500.00 ") == 5 + 8 + 12
    with pytest.raises(ValueError):
        table.line(["1", "2"])


def test_each_column_of_a_worker_row_starts_at_its_cell() -> None:
    row = RosterRow(12, "欧阳王五", "210202********000X", "甘井子区总工会", "买断解除劳动关系", Decimal("1547.25"),
                    LONG_BANK, "6222***********0000", "失败", "210200-2018-01")  # fmt: skip

    line = roster_line(row)

    values, position = [], 0
    for column in ROSTER_TABLE.columns:
        # Walk the line by cells, not characters: a CJK character takes two.
        taken, text = 0, ""
        while taken < column.pitch and position < len(line):
            text += line[position]
            taken += cells(line[position])
            position += 1
        assert taken == column.pitch or position == len(line)
        values.append(text.strip())
    assert values == ["12", "欧阳王五", "210202********000X", "甘井子区总工会", "买断解除劳动关系", "1,547.25",
                      "中国工商银行股份有限公司大…", "6222***********0000", "失败", "210200-2018-01", ""]  # fmt: skip
    assert ROSTER_TABLE.pitch == 196  # 784pt at 8pt: A4 landscape's 785pt between the margins


def _mono_face() -> object:
    fonts = sorted(Path("/usr/share/fonts").rglob("NotoSansCJK-Regular.ttc"))
    assert fonts, "fonts-noto-cjk is not installed (./dev.sh installs it)"
    for face in TTCollection(str(fonts[0]), lazy=True).fonts:
        if face["name"].getDebugName(4) == "Noto Sans Mono CJK SC":
            return face
    raise AssertionError("no Noto Sans Mono CJK SC face")


def test_the_width_rule_is_the_mono_faces_own_advance_widths() -> None:
    face: object = _mono_face()
    cmap = face.getBestCmap()  # type: ignore[attr-defined]
    advances = face["hmtx"]  # type: ignore[index]
    half = face["head"].unitsPerEm // 2  # type: ignore[index]
    sample = (
        "0123456789,.-*X ABCxyz()/:"
        "王李张刘陈杨赵黄周吴欧阳中山区甘井子总工会买断解除劳动关系内部退养"
        "中国工商银行股份有限公司大连支行营业部成功失败未发放待回盘小计本页合计总计人"
        "（）：　…·、，。"
    )
    for char in sample:
        assert advances[cmap[ord(char)]][0] == cells(char) * half, char


def test_the_roster_pdf_rows_line_up_with_the_header_cells(app: Flask) -> None:
    rows = [RosterRow(n, "王五" if n % 2 else "欧阳建国", f"210202********{n:03d}X", "中山区总工会", "内部退养",
                      Decimal("1500.00") + n, LONG_BANK, f"6222***********{n:04d}", "成功", "210200-2018-01")
            for n in range(1, 8)]  # fmt: skip
    roster = Roster(2018, "大连市总工会", paginate_roster(rows), [], len(rows), sum(r.amount for r in rows))
    with app.test_request_context(), force_locale(RECORD_LOCALE):
        html = render_template("aid/documents/roster.html", generated_at=utcnow(), **roster_context(roster))
    page = pypdf.PdfReader(io.BytesIO(html_to_pdf(html))).pages[0]
    runs: dict[float, list[float]] = defaultdict(list)  # x of each text shown, by line
    row_starts: set[float] = set()

    def text_shown(operator: bytes, _args: object, cm: list[float], tm: list[float]) -> None:
        if operator in (b"TJ", b"Tj"):
            runs[round(cm[1] * tm[4] + cm[3] * tm[5] + cm[5], 1)].append(cm[0] * tm[4] + cm[2] * tm[5] + cm[4])

    def line_read(text: str, cm: list[float], tm: list[float], _font: object, _size: float) -> None:
        if "********" in text:  # a worker's row
            row_starts.add(round(cm[0] * tm[4] + cm[2] * tm[5] + cm[4], 2))

    page.extract_text(visitor_operand_before=text_shown)
    text = page.extract_text(visitor_text=line_read)

    header = next(xs for xs in runs.values() if len(xs) == len(ROSTER_TABLE.columns))
    assert len(row_starts) == 1, row_starts  # every worker's line starts at the table's left edge
    row_x = row_starts.pop()
    cell = 4.0  # pt: half of the 8pt face
    assert header[0] - row_x == pytest.approx(cell, abs=0.05)  # a header's text is padded by one cell, as a value
    start = 0
    for column, x in zip(ROSTER_TABLE.columns, header, strict=True):
        if not column.right:
            assert x - row_x == pytest.approx((start + 1) * cell, abs=0.05)
        start += column.pitch
    assert "欧阳建国" in text and "中国工商银行股份有限公司大…" in text and "1,507.00" in text
