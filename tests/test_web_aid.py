"""The 援助名单 page (issue #6 step 1): the province's livelihood department imports a year's draft list."""

from __future__ import annotations

import io

import openpyxl
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import AuthActions
from tests.test_aid_validation import buyout, internal, xlsx
from workflows.aid.validation import COLUMNS
from workflows.models import AidWorker

DRAFTER = "shengzong_baozhang1"


def test_the_drafter_downloads_the_template_and_imports_a_list(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    auth.login(DRAFTER)
    page = client.get("/aid/lists").get_data(as_text=True)
    assert "下载名单模板" in page and 'href="/aid/lists"' in page  # the topbar links the page
    template = client.get("/aid/template.xlsx")
    header = next(openpyxl.load_workbook(io.BytesIO(template.data)).worksheets[0].iter_rows(values_only=True))
    assert tuple(header) == COLUMNS

    answer = client.post(
        "/aid/lists", data={"year": "2017", "file": (io.BytesIO(xlsx([internal(), buyout()])), "名单.xlsx")}
    )

    assert answer.status_code == 302
    listing = client.get("/aid/lists").get_data(as_text=True)
    assert "已导入 2017 年度援助名单：2 人" in listing
    assert 'data-year="2017"' in listing and "大连市总工会 2" in listing
    assert app_db.scalar(select(func.count()).select_from(AidWorker)) == 2


def test_a_bad_file_comes_back_with_every_problem_and_nothing_imported(
    client: FlaskClient, auth: AuthActions, app_db: Session
) -> None:
    auth.login(DRAFTER)
    bad = xlsx([internal(手机号码="12345"), buyout(银行卡号="6222021234567890")])

    answer = client.post("/aid/lists", data={"year": "2017", "file": (io.BytesIO(bad), "名单.xlsx")})

    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "名单有 2 处问题，未导入任何数据" in page
    assert "<td>2</td><td>手机号码</td>" in page and "<td>3</td><td>银行卡号</td>" in page
    assert app_db.scalar(select(func.count()).select_from(AidWorker)) == 0


@pytest.mark.parametrize(
    ("year", "filename", "message"),
    [("17", "名单.xlsx", "援助年度：请填写四位年份"), ("2017", "", "名单文件：请选择")],
)
def test_a_missing_year_or_file_is_a_form_error(
    client: FlaskClient, auth: AuthActions, year: str, filename: str, message: str
) -> None:
    auth.login(DRAFTER)
    answer = client.post("/aid/lists", data={"year": year, "file": (io.BytesIO(b""), filename)})
    assert answer.status_code == 422 and message in answer.get_data(as_text=True)


def test_a_second_list_for_the_same_year_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    auth.login(DRAFTER)
    data = xlsx([internal()])
    assert client.post("/aid/lists", data={"year": "2017", "file": (io.BytesIO(data), "a.xlsx")}).status_code == 302
    again = client.post("/aid/lists", data={"year": "2017", "file": (io.BytesIO(data), "b.xlsx")})
    assert again.status_code == 422 and "2017 年度的援助名单已于" in again.get_data(as_text=True)


@pytest.mark.parametrize("username", ["baozhang1", "ganjingzi1", "shengzong_jingji1", "admin"])
def test_nobody_else_finds_the_page(client: FlaskClient, auth: AuthActions, username: str) -> None:
    auth.login(username)
    assert client.get("/aid/lists").status_code == 404
    assert client.get("/aid/template.xlsx").status_code == 404
    data = {"year": "2017", "file": (io.BytesIO(xlsx([internal()])), "名单.xlsx")}
    assert client.post("/aid/lists", data=data).status_code == 404
    assert 'href="/aid/lists"' not in client.get("/").get_data(as_text=True)
