"""The demo data set: the organisation, a few grassroots unions and enterprises, and one login per role.

Everything here is fictional demo data (names, enterprises, codes); every login shares DEMO_PASSWORD.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from workflows.models.org import Enterprise, Role, User
from workflows.organisation import create_user, ensure_grassroots_union, load_organisation, unit_by_code
from workflows.plans.loading import load_builtin_plans

DEMO_PASSWORD = "demo12345"

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _uscc(body: str) -> str:
    """Append the GB 32100-2015 mod-31 check character, so the demo codes pass real validation."""
    total = sum(_USCC_ALPHABET.index(char) * weight for char, weight in zip(body, _USCC_WEIGHTS, strict=True))
    return body + _USCC_ALPHABET[(31 - total % 31) % 31]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    display_name: str
    unit_name: str
    department_name: str | None
    role: str


# (code, name, parent code)
_GRASSROOTS: tuple[tuple[str, str, str], ...] = (
    ("210211-G001", "大连海昌机械制造有限公司工会", "210211"),
    ("210204-G001", "大连星海精密仪器有限公司工会", "210204"),
    ("DL-JPXQ-G001", "大连金普新材料科技有限公司工会", "DL-JPXQ"),
    ("210281-G001", "大连恒远轴承制造有限公司工会", "210281"),
)


@dataclass(frozen=True)
class _EnterpriseSpec:
    name: str
    uscc: str
    supervising: str
    grassroots: str | None
    address: str
    industry: str
    employees: int
    tech: bool = False


# Fictional enterprises: any resemblance to a real company is accidental. The first two codes are the worked
# examples of domain research §3.6; the rest are generated with _uscc. Sizes cover the < 25 small/micro rule.
_ENTERPRISES: tuple[_EnterpriseSpec, ...] = (
    _EnterpriseSpec(
        name="大连海昌机械制造有限公司",
        uscc=_uscc("91210211MA0Q3R5K7"),
        supervising="210211",
        grassroots="210211-G001",
        address="辽宁省大连市甘井子区华北路188号",
        industry="通用设备制造业",
        employees=320,
    ),
    _EnterpriseSpec(
        name="大连星海精密仪器有限公司",
        uscc=_uscc("91210204MA0TEN001"),
        supervising="210204",
        grassroots="210204-G001",
        address="辽宁省大连市沙河口区黄河路612号",
        industry="仪器仪表制造业",
        employees=86,
        tech=True,
    ),
    _EnterpriseSpec(
        name="大连甘泉食品有限公司",
        uscc=_uscc("91210211MA0XK2GQ3"),
        supervising="210211",
        grassroots=None,
        address="辽宁省大连市甘井子区泉水路36号",
        industry="食品制造业",
        employees=18,
    ),
    _EnterpriseSpec(
        name="大连金普新材料科技有限公司",
        uscc=_uscc("91210213MA0U8N6T2"),
        supervising="DL-JPXQ",
        grassroots="DL-JPXQ-G001",
        address="辽宁省大连市金普新区辽河西路117号",
        industry="化学原料和化学制品制造业",
        employees=150,
        tech=True,
    ),
    _EnterpriseSpec(
        name="大连海韵商贸有限公司",
        uscc=_uscc("91210202MA0R7WD58"),
        supervising="210202",
        grassroots=None,
        address="辽宁省大连市中山区人民路52号",
        industry="批发业",
        employees=40,
    ),
    _EnterpriseSpec(
        name="大连恒远轴承制造有限公司",
        uscc=_uscc("91210281MA0P4CH91"),
        supervising="210281",
        grassroots="210281-G001",
        address="辽宁省大连市瓦房店市北共济街三段21号",
        industry="通用设备制造业",
        employees=210,
    ),
    # Supervised by an industry union rather than its district, as construction firms often are.
    _EnterpriseSpec(
        name="大连港湾建设工程有限公司",
        uscc=_uscc("91210212MA0YB3LX6"),
        supervising="DL-IND-CONS",
        grassroots=None,
        address="辽宁省大连市旅顺口区黄河路9号",
        industry="土木工程建筑业",
        employees=24,
    ),
)

_OFFICIAL, _HEAD, _ADMIN = Role.OFFICIAL.value, Role.HEAD.value, Role.ADMIN.value

# (username, display name, unit code, department code, role)
_USERS: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("admin", "周伟", "210200", None, _ADMIN),
    ("jingji1", "王建国", "210200", "econ-labour", _OFFICIAL),
    ("jingji2", "李红梅", "210200", "econ-labour", _OFFICIAL),
    ("jingji_head", "张志强", "210200", "econ-labour", _HEAD),
    ("caiwu1", "刘丽娟", "210200", "finance", _OFFICIAL),
    ("caiwu_head", "陈国华", "210200", "finance", _HEAD),
    ("baozhang1", "杨秀英", "210200", "livelihood", _OFFICIAL),
    ("baozhang_head", "赵明", "210200", "livelihood", _HEAD),
    ("bangong1", "黄晓燕", "210200", "office", _OFFICIAL),
    ("xuanjiao1", "孙丽华", "210200", "publicity", _OFFICIAL),
    ("zhongshan1", "吴海涛", "210202", None, _OFFICIAL),
    ("xigang1", "徐静", "210203", None, _OFFICIAL),
    ("shahekou1", "孙立新", "210204", None, _OFFICIAL),
    ("ganjingzi1", "马晓东", "210211", None, _OFFICIAL),
    ("ganjingzi2", "朱丽", "210211", None, _OFFICIAL),
    ("ganjingzi_head", "胡德胜", "210211", None, _HEAD),
    ("lvshunkou1", "郭海燕", "210212", None, _OFFICIAL),
    ("jinzhou1", "何建华", "210213", None, _OFFICIAL),
    ("pulandian1", "林雪", "210214", None, _OFFICIAL),
    ("changhai1", "高宏伟", "210224", None, _OFFICIAL),
    ("wafangdian1", "罗春梅", "210281", None, _OFFICIAL),
    ("zhuanghe1", "梁志刚", "210283", None, _OFFICIAL),
    ("jinpu1", "宋玉兰", "DL-JPXQ", None, _OFFICIAL),
    ("jianshe1", "韩东升", "DL-IND-CONS", None, _OFFICIAL),
    ("shengzong_baozhang1", "唐文静", "210000", "livelihood", _OFFICIAL),
    ("shengzong_baozhang_head", "冯立军", "210000", "livelihood", _HEAD),
    ("shengzong_jingji1", "曹永刚", "210000", "econ-labour", _OFFICIAL),
    ("haichang_gonghui", "于海波", "210211-G001", None, _OFFICIAL),
    ("xinghai_gonghui", "钱丽萍", "210204-G001", None, _OFFICIAL),
    ("jinpu_xincai_gonghui", "邓国庆", "DL-JPXQ-G001", None, _OFFICIAL),
    # The studio expert panel (评审专家组): model workers and engineers with a city-level account and no department,
    # so they see only the panel tasks given to them by name.
    ("zhuanjia1", "周国平", "210200", None, _OFFICIAL),
    ("zhuanjia2", "吴秀兰", "210200", None, _OFFICIAL),
    ("zhuanjia3", "郑海峰", "210200", None, _OFFICIAL),
)


def _seed_enterprises(session: Session) -> None:
    existing = {e.uscc: e for e in session.scalars(select(Enterprise))}
    for spec in _ENTERPRISES:
        if not stdnum_uscc.is_valid(spec.uscc):
            raise ValueError(f"invalid demo USCC {spec.uscc}")
        # Look the units up before adding the row: the lookups autoflush, and the row needs its unit.
        supervising = unit_by_code(session, spec.supervising)
        grassroots = unit_by_code(session, spec.grassroots) if spec.grassroots else None
        enterprise = existing.get(spec.uscc)
        if enterprise is None:
            enterprise = Enterprise(uscc=spec.uscc, name=spec.name, supervising_unit=supervising)
            session.add(enterprise)
        enterprise.name = spec.name
        enterprise.supervising_unit = supervising
        enterprise.grassroots_unit = grassroots
        enterprise.address = spec.address
        enterprise.industry = spec.industry
        enterprise.employee_count = spec.employees
        enterprise.is_tech_enterprise = spec.tech


def seed_demo(session: Session) -> list[DemoLogin]:
    """Create (or complete) the demo data set and return its logins; running it again creates nothing."""
    load_organisation(session)
    for code, name, parent_code in _GRASSROOTS:
        ensure_grassroots_union(session, code, name, parent_code)
    _seed_enterprises(session)
    logins: list[DemoLogin] = []
    for username, display_name, unit_code, department_code, role in _USERS:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = create_user(session, username, DEMO_PASSWORD, unit_code, department_code, role, display_name)
        logins.append(
            DemoLogin(
                username=user.username,
                password=DEMO_PASSWORD,
                display_name=user.display_name,
                unit_name=user.org_unit.name,
                department_name=user.department.name if user.department else None,
                role=user.role,
            )
        )
    # The plan names units of the organisation above, and its targets name policy parameters (init-db loads them).
    load_builtin_plans(session)
    session.flush()
    return logins
