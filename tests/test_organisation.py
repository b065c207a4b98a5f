from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from workflows.demo import DEMO_PASSWORD, seed_demo
from workflows.models.org import DEPARTMENTS, Department, Enterprise, Level, OrgUnit, UnitKind, User
from workflows.organisation import (
    OrgDataError,
    UnknownOrgUnit,
    UserAdminError,
    ancestor_of_level,
    authenticate,
    create_user,
    default_organisation_data,
    ensure_grassroots_union,
    load_organisation,
    subtree_unit_ids,
    unit_by_code,
)
from workflows.policy.parameters import seed_policy_parameters

DALIAN_DISTRICTS = {
    "210202": ("中山区总工会", UnitKind.DISTRICT),
    "210203": ("西岗区总工会", UnitKind.DISTRICT),
    "210204": ("沙河口区总工会", UnitKind.DISTRICT),
    "210211": ("甘井子区总工会", UnitKind.DISTRICT),
    "210212": ("旅顺口区总工会", UnitKind.DISTRICT),
    "210213": ("金州区总工会", UnitKind.DISTRICT),
    "210214": ("普兰店区总工会", UnitKind.DISTRICT),
    "210224": ("长海县总工会", UnitKind.COUNTY),
    "210281": ("瓦房店市总工会", UnitKind.COUNTY_CITY),
    "210283": ("庄河市总工会", UnitKind.COUNTY_CITY),
}

PASSWORD = "s3cret-pass"


@pytest.fixture
def org(session: Session) -> Session:
    load_organisation(session)
    return session


def test_load_is_idempotent(session: Session) -> None:
    created = load_organisation(session)
    units = session.scalar(select(func.count()).select_from(OrgUnit))
    departments = session.scalar(select(func.count()).select_from(Department))
    assert created == len(default_organisation_data()["units"]) == units
    assert load_organisation(session) == 0
    assert session.scalar(select(func.count()).select_from(OrgUnit)) == units
    assert session.scalar(select(func.count()).select_from(Department)) == departments


def test_renaming_in_data_updates_the_name(org: Session) -> None:
    data = copy.deepcopy(default_organisation_data())
    for entry in data["units"]:
        if entry["code"] == "210211":
            entry["name"] = "甘井子区总工会（新）"
    assert load_organisation(org, data) == 0
    assert unit_by_code(org, "210211").name == "甘井子区总工会（新）"


@pytest.mark.parametrize(
    ("units", "message"),
    [
        ([{"code": "X", "name": "x", "kind": "city", "departments": ["hr"]}], "未知的部门代码：hr"),
        ([{"code": "X", "name": "x", "kind": "city", "parent": "NOPE"}], "上级组织不存在：NOPE"),
        ([{"code": "X", "name": "x", "kind": "street"}], "未知的组织类型：street"),
        (
            [
                {"code": "A", "name": "a", "kind": "city", "parent": "B"},
                {"code": "B", "name": "b", "kind": "city", "parent": "A"},
            ],
            "循环",
        ),
    ],
)
def test_bad_data_is_rejected(session: Session, units: list[dict[str, object]], message: str) -> None:
    with pytest.raises(OrgDataError, match=message):
        load_organisation(session, {"units": units})


def test_dalian_districts(org: Session) -> None:
    city = unit_by_code(org, "210200")
    for code, (name, kind) in DALIAN_DISTRICTS.items():
        unit = unit_by_code(org, code)
        assert (unit.name, unit.kind, unit.parent_id) == (name, kind.value, city.id)
        assert unit.level is Level.DISTRICT
        assert unit.departments == []


def test_departments(org: Session) -> None:
    city = unit_by_code(org, "210200")
    assert city.name == "大连市总工会"
    assert {d.code: d.name for d in city.departments} == DEPARTMENTS
    assert sorted(DEPARTMENTS) == [
        "econ-labour",
        "finance",
        "livelihood",
        "office",
        "organisation",
        "publicity",
        "women",
    ]
    assert {d.code for d in unit_by_code(org, "210000").departments} == set(DEPARTMENTS)
    for code in ("DL-JPXQ", "DL-IND-EDU"):
        assert unit_by_code(org, code).departments == []


def test_unknown_unit(org: Session) -> None:
    with pytest.raises(UnknownOrgUnit, match="未知的组织代码：999999"):
        unit_by_code(org, "999999")


def test_paths_subtree_and_ancestors(org: Session) -> None:
    province, city, district = (unit_by_code(org, c) for c in ("210000", "210200", "210211"))
    union = ensure_grassroots_union(org, "210211-T01", "测试公司工会", "210211")
    assert union.level is Level.GRASSROOTS
    assert province.path == f"/{province.id}/"
    assert union.path == f"/{province.id}/{city.id}/{district.id}/{union.id}/"
    assert union.is_within(city) and not city.is_within(union)

    assert ancestor_of_level(org, union, Level.GRASSROOTS) is union
    assert ancestor_of_level(org, union, Level.DISTRICT) is district
    assert ancestor_of_level(org, union, Level.CITY) is city
    assert ancestor_of_level(org, union, Level.PROVINCE) is province
    assert ancestor_of_level(org, city, Level.DISTRICT) is None

    assert subtree_unit_ids(org, district) == [district.id, union.id]
    city_ids = set(subtree_unit_ids(org, city))
    assert {district.id, union.id, unit_by_code(org, "DL-JPXQ").id} <= city_ids
    assert unit_by_code(org, "210100").id not in city_ids
    assert len(subtree_unit_ids(org, province)) == org.scalar(select(func.count()).select_from(OrgUnit))

    # Idempotent, and moving it carries the path along.
    assert ensure_grassroots_union(org, "210211-T01", "测试公司工会", "210211") is union
    ensure_grassroots_union(org, "210211-T01", "测试公司工会", "210204")
    assert ancestor_of_level(org, union, Level.DISTRICT) is unit_by_code(org, "210204")
    with pytest.raises(OrgDataError):
        ensure_grassroots_union(org, "210211", "冒用", "210200")
    with pytest.raises(UnknownOrgUnit):
        ensure_grassroots_union(org, "X-1", "x", "NOPE")


def test_moving_a_unit_in_the_data_repaths_its_subtree(org: Session) -> None:
    union = ensure_grassroots_union(org, "DL-BSQ-T01", "测试工会", "DL-BSQ")
    data = copy.deepcopy(default_organisation_data())
    for entry in data["units"]:
        if entry["code"] == "DL-BSQ":
            entry["parent"] = "210213"
    load_organisation(org, data)
    assert ancestor_of_level(org, union, Level.DISTRICT) == unit_by_code(org, "DL-BSQ")
    assert union.is_within(unit_by_code(org, "210213"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"username": "dup"}, "用户名已存在：dup"),
        ({"org_unit_code": "NOPE"}, "未知的组织代码：NOPE"),
        ({"department_code": "finance", "org_unit_code": "210211"}, "该单位没有此部门：finance"),
        ({"department_code": "hr"}, "该单位没有此部门：hr"),
        ({"role": "head"}, "部门负责人必须指定所属部门"),
        ({"password": "short"}, "密码长度不能少于8位"),
        ({"role": "boss"}, "无效的角色：boss"),
        ({"username": "  "}, "用户名不能为空"),
    ],
)
def test_create_user_validation(org: Session, kwargs: dict[str, str], message: str) -> None:
    city = unit_by_code(org, "210200")
    org.add(User(username="dup", display_name="已有", password_hash="x", org_unit=city))
    org.flush()
    args: dict[str, str] = {"username": "new", "password": PASSWORD, "org_unit_code": "210200"} | kwargs
    with pytest.raises(UserAdminError, match=message):
        create_user(org, **args)


def test_create_user_ok(org: Session) -> None:
    head = create_user(org, "gjz_head", PASSWORD, "210211", role="head", display_name="胡德胜")
    assert (head.role, head.department, head.org_unit.code) == ("head", None, "210211")
    assert head.display_name == "胡德胜"
    official = create_user(org, "cw", PASSWORD, "210200", "finance")
    assert official.department_code == "finance" and official.display_name == "cw"
    assert official.password_hash.startswith("scrypt$16384$8$1$") and PASSWORD not in official.password_hash


def test_authenticate(org: Session) -> None:
    user = create_user(org, "login1", PASSWORD, "210200", "office")
    assert authenticate(org, "login1", PASSWORD) is user
    assert authenticate(org, "login1", "wrong-password") is None
    assert authenticate(org, "nobody", PASSWORD) is None
    user.active = False
    org.flush()
    assert authenticate(org, "login1", PASSWORD) is None


def test_seed_demo(session: Session) -> None:
    seed_policy_parameters(session)  # as init-db does first: the demo's plan names policy parameters
    logins = seed_demo(session)
    users = session.scalar(select(func.count()).select_from(User))
    enterprises = session.scalar(select(func.count()).select_from(Enterprise))
    assert seed_demo(session) == logins
    assert session.scalar(select(func.count()).select_from(User)) == users == len(logins)
    assert session.scalar(select(func.count()).select_from(Enterprise)) == enterprises

    by_name = {login.username: login for login in logins}
    # fmt: off
    expected = {
        "jingji1", "jingji2", "jingji_head", "caiwu1", "caiwu_head", "baozhang1", "baozhang_head", "bangong1",
        "ganjingzi1", "ganjingzi2", "ganjingzi_head", "shahekou1", "zhongshan1", "xigang1", "lvshunkou1",
        "jinzhou1", "pulandian1", "changhai1", "wafangdian1", "zhuanghe1", "jinpu1", "shengzong_baozhang1",
        "shengzong_baozhang_head", "haichang_gonghui", "admin",
    }
    # fmt: on
    assert expected <= set(by_name)
    assert by_name["jingji_head"].department_name == "经济技术和劳动保护部"
    assert (by_name["ganjingzi_head"].role, by_name["ganjingzi_head"].department_name) == ("head", None)
    assert by_name["admin"].role == "admin"
    assert by_name["haichang_gonghui"].unit_name == "大连海昌机械制造有限公司工会"
    for login in logins:
        assert login.password == DEMO_PASSWORD
        user = authenticate(session, login.username, DEMO_PASSWORD)
        assert user is not None and user.display_name == login.display_name


def test_demo_enterprises(session: Session) -> None:
    seed_policy_parameters(session)
    seed_demo(session)
    enterprises = list(session.scalars(select(Enterprise)))
    codes = {e.uscc for e in enterprises}
    assert {"91210211MA0Q3R5K70", "91210204MA0TEN001X"} <= codes
    assert len(enterprises) >= 5
    for enterprise in enterprises:
        assert uscc.is_valid(enterprise.uscc), enterprise.uscc
        assert enterprise.supervising_unit.level is Level.DISTRICT
        if enterprise.grassroots_unit is not None:
            assert enterprise.grassroots_unit.is_within(enterprise.supervising_unit)
    assert any(e.employee_count is not None and e.employee_count < 25 for e in enterprises)
