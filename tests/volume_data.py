"""Synthetic cases at volume for bench/inbox_volume.py (issue #9 "Inboxes at volume") and for the tests that hold
the list queries' SQL equal to their Python rules (tests/test_lists_at_volume.py).

Cases of every process over the demo tree: hazard reports (with their hazard_report rows), studio and honour
applications, aid lists and supervised matters (with their 督办 rows), ~10 task-index rows each, some open (claimed,
queued or named to an expert), the rest completed; due dates spread so some are overdue and some due soon. The rows are
plain dicts for bulk inserts (`insert(Table)` executemany, or COPY); nothing goes through the engine, since list views
never read engine state. Deterministic for a seed.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

SHANGHAI = ZoneInfo("Asia/Shanghai")
TABLES = ("process_instance", "task_index", "hazard_report", "supervision_item", "supervision_unit",
          "supervision_feedback")  # fmt: skip

# Each process's steps in order, as (bpmn id, title, lane kind). Lane kinds: "district" (the case's district-level
# union), "grassroots" (the case's grassroots union), "city:<department>" (大连市总工会), "province:<department>",
# and for supervision "assigner", "lead", "co" (the matter's units).
STEPS: dict[str, list[tuple[str, str, str]]] = {
    "hazard_report": [
        ("register_report", "登记查重", "district"),
        ("triage", "分级研判", "city:econ-labour"),
        ("verify", "现场核查", "district"),
        ("notify_regulator", "通报安全生产监管部门", "district"),
        ("rectify_notice", "下达整改通知", "district"),
        ("enterprise_reply", "登记企业整改回复", "district"),
        ("escalate_overdue", "逾期整改督办", "city:econ-labour"),
        ("reinspect", "整改复查", "district"),
        ("reward_decision", "奖励审批", "city:econ-labour"),
        ("reward_payment", "奖励通知与发放", "city:finance"),
        ("feedback_close", "反馈报告人并办结", "district"),
    ],
    "studio_naming": [
        ("district_recommend", "区县工会推荐", "district"),
        ("revise", "补正申报材料", "grassroots"),
        ("district_recommend", "区县工会推荐", "district"),
        ("city_review", "审核与实地考察", "city:econ-labour"),
        ("expert_review", "专家评审", "expert"),
        ("expert_review", "专家评审", "expert"),
        ("expert_review", "专家评审", "expert"),
        ("leadership", "领导班子会议决定", "city:econ-labour"),
        ("notice", "公示", "city:econ-labour"),
        ("naming", "发文命名", "city:econ-labour"),
        ("funding", "拨付资金", "city:finance"),
    ],
    "honour_nomination": [
        ("district_recommend", "区县工会推荐", "district"),
        ("revise", "补正推荐材料", "grassroots"),
        ("district_recommend", "区县工会推荐", "district"),
        ("city_review", "市总工会审核", "city:econ-labour"),
        ("notice", "公示", "city:econ-labour"),
        ("verify_objection", "异议核实", "city:econ-labour"),
        ("award", "发文授予", "city:econ-labour"),
    ],
    "hardship_aid": [
        ("distribute", "分发名单", "city:livelihood"),
        ("district_review", "审查家庭经济和就业情况", "district"),
        ("consolidate", "汇总审查结果并上报", "city:livelihood"),
        ("province_confirm", "确认援助名单", "province:livelihood"),
        ("allocate", "核定金额并拨付资金", "province:livelihood"),
        ("prepare_payment", "生成代发清单", "city:livelihood"),
        ("bank_result", "导入银行回盘", "city:finance"),
        ("correct_bank", "更正银行信息", "district"),
        ("reconcile", "发放情况报告", "city:livelihood"),
        ("province_archive", "审核归档", "province:livelihood"),
    ],
    "supervision": [
        ("assign", "交办", "assigner"),
        ("sign", "签收", "lead"),
        ("handle", "承办反馈", "lead"),
        ("co_report", "协办反馈", "co"),
        ("handle", "承办反馈", "lead"),
        ("handle", "承办反馈", "lead"),
        ("co_report", "协办反馈", "co"),
        ("handle", "承办反馈", "lead"),
        ("verify", "核查销号", "assigner"),
    ],
}
LANE_NAMES = {
    "district": "区市县总工会",
    "grassroots": "基层工会",
    "city:econ-labour": "市总工会经济技术和劳动保护部",
    "city:finance": "市总工会财务部",
    "city:livelihood": "市总工会生活保障部",
    "province:livelihood": "省总工会生活保障部",
    "expert": "市总工会经济技术和劳动保护部",
    "assigner": "督办部门",
    "lead": "主办单位",
    "co": "协办单位",
}
FORMS = {"hazard_report": "hazard", "studio_naming": "studio", "honour_nomination": "honour",
         "hardship_aid": "aid", "supervision": "supervision"}  # fmt: skip
PROCESS_WEIGHTS = {"hazard_report": 70, "studio_naming": 10, "honour_nomination": 10, "hardship_aid": 8,
                   "supervision": 2}  # fmt: skip
PREFIXES = {"hazard_report": "YH", "studio_naming": "GZS", "honour_nomination": "RY", "hardship_aid": "YZ",
            "supervision": "DB"}  # fmt: skip
RUNNING_SHARE = {"hazard_report": 0.5, "studio_naming": 0.5, "honour_nomination": 0.5, "hardship_aid": 0.5,
                 "supervision": 0.25}  # fmt: skip
STATE_FILLER = "x" * 8000  # a supervised matter's engine state is about this size; other cases carry none here
CASES = 100_000


@dataclass(frozen=True)
class Holder:
    id: int
    unit_id: int
    department: str | None
    role: str


@dataclass
class Org:
    """The seeded tree as the generator needs it."""

    paths: dict[int, str]
    kinds: dict[int, str]
    parents: dict[int, int | None]
    departments: dict[int, list[str]]
    holders: dict[tuple[int, str | None], list[Holder]]
    experts: list[int]
    city: int
    province: int
    districts: list[int]
    grassroots: list[int]
    plan_items: list[int]
    busy: int  # 甘井子区总工会: four times as many cases as any other union
    head_of: dict[tuple[int, str | None], int]
    versions: dict[str, int]
    enterprises: list[int]


def beijing_end_of_day(moment: datetime) -> datetime:
    day = moment.astimezone(SHANGHAI).date()
    return datetime.combine(day, dtime(23, 59, 59), tzinfo=SHANGHAI).astimezone(UTC)


def ensure_holders(session: Session) -> None:
    """Every district-level and grassroots union gets two officials and a head, every department of the city and
    province two officials and a head, so every generated step has someone to claim and complete it."""
    from workflows.models import Department, OrgUnit, Role, User

    password_hash = session.scalar(select(User.password_hash).where(User.username == "ganjingzi1"))
    assert password_hash is not None
    units = session.scalars(select(OrgUnit)).all()
    users = session.scalars(select(User)).all()
    count: dict[tuple[int, int | None, str], int] = defaultdict(int)
    for account in users:
        count[(account.org_unit_id, account.department_id, account.role)] += 1
    departments = session.scalars(select(Department)).all()
    seats: list[tuple[OrgUnit, Department | None]] = [(d.org_unit, d) for d in departments]
    seats += [(unit, None) for unit in units if not unit.departments and unit.kind not in ("city", "province")]
    for unit, department in seats:
        department_id = department.id if department else None
        for role, wanted in ((Role.OFFICIAL.value, 2), (Role.HEAD.value, 1)):
            for n in range(count[(unit.id, department_id, role)], wanted):
                suffix = f"{unit.code}_{department.code if department else 'unit'}_{role}{n}".lower()
                title = "主任" if role == Role.HEAD.value else "干事"
                session.add(User(username=f"bench_{suffix}", display_name=f"测试{title}{n}",
                                 password_hash=password_hash, org_unit_id=unit.id, department_id=department_id,
                                 role=role))  # fmt: skip
    session.flush()


def load_org(session: Session) -> Org:
    from workflows.models import Enterprise, OrgUnit, Plan, PlanItem, ProcessVersion, User

    units = session.scalars(select(OrgUnit)).all()
    paths = {u.id: u.path for u in units}
    kinds = {u.id: u.kind for u in units}
    parents = {u.id: u.parent_id for u in units}
    departments = {u.id: [d.code for d in u.departments] for u in units}
    holders: dict[tuple[int, str | None], list[Holder]] = defaultdict(list)
    head_of: dict[tuple[int, str | None], int] = {}
    experts = []
    for account in session.scalars(select(User).where(User.active.is_(True))):
        if account.username.startswith("zhuanjia"):
            experts.append(account.id)
            continue
        if account.role not in ("official", "head"):
            continue
        key = (account.org_unit_id, account.department_code)
        holders[key].append(Holder(account.id, account.org_unit_id, account.department_code, account.role))
        if account.role == "head":
            head_of.setdefault(key, account.id)
    city = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "210200"))
    province = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "210000"))
    assert city is not None and province is not None
    districts = [u.id for u in units if u.parent_id == city and u.kind != "grassroots"]
    grassroots = [u.id for u in units if u.kind == "grassroots" and paths[u.id].startswith(paths[city])]
    plan = session.scalar(select(Plan).where(Plan.issuing_unit_id == city))
    plan_items = list(session.scalars(select(PlanItem.id).where(PlanItem.plan_id == plan.id))) if plan else []
    versions = {key: vid for vid, key in session.execute(select(ProcessVersion.id, ProcessVersion.process_key))}
    busy = session.scalar(select(OrgUnit.id).where(OrgUnit.code == "210211"))
    assert busy is not None
    enterprises = list(session.scalars(select(Enterprise.id).order_by(Enterprise.id)))
    return Org(paths, kinds, parents, departments, holders, experts, city, province, districts, grassroots,
               plan_items, busy, head_of, versions, enterprises)  # fmt: skip


def next_ids(session: Session) -> dict[str, int]:
    """The largest id of each table the generator fills, so generated rows follow what is already there."""
    from sqlalchemy import text

    return {name: session.scalar(text(f"SELECT coalesce(max(id), 0) FROM {name}")) or 0 for name in TABLES}


class Generator:
    """Cases, their task rows and 督办 rows, deterministic for a seed."""

    def __init__(
        self, org: Org, now: datetime, after: dict[str, int], seed: int = 9, weights: dict[str, int] | None = None
    ) -> None:
        """`after`: the largest id already in each table (next_ids); `weights`: of each process (PROCESS_WEIGHTS)."""
        self.org = org
        self.now = now
        self.rng = random.Random(seed)
        self.instance_id = after["process_instance"]
        self.task_row_id = after["task_index"]
        self.hazard_id = after["hazard_report"]
        self.supervision_id = after["supervision_item"]
        self.supervision_unit_id = after["supervision_unit"]
        self.feedback_id = after["supervision_feedback"]
        self.home_choices = [(uid, 4 if uid == org.busy else 1) for uid in org.districts]
        self.home_choices += [(uid, 1) for uid in org.grassroots]
        processes = list(PROCESS_WEIGHTS)
        self.process_choices = processes
        self.process_weights = [(weights or PROCESS_WEIGHTS)[key] for key in processes]
        self.city_departments = org.departments[org.city]

    def _district_of(self, unit_id: int) -> int:
        return unit_id if self.org.kinds[unit_id] != "grassroots" else self.org.parents[unit_id] or unit_id

    def _home(self, process_key: str) -> int:
        units, weights = zip(*self.home_choices, strict=True)
        home = self.rng.choices(units, weights)[0]
        if process_key in ("studio_naming", "honour_nomination"):
            below = [g for g in self.org.grassroots if self.org.parents[g] == self._district_of(home)]
            home = below[0] if below else self.rng.choice(self.org.grassroots)
        if process_key == "hardship_aid":
            home = self.org.city
        return home

    def _seat(self, kind: str, home: int, matter: dict[str, Any] | None) -> tuple[int, str | None]:
        org = self.org
        if kind == "district":
            if home == org.city:  # an aid list: one district of the city per step
                return self.rng.choice(org.districts), None
            return self._district_of(home), None
        if kind == "grassroots":
            return home, None
        if kind.startswith("city:"):
            return org.city, kind.split(":", 1)[1]
        if kind.startswith("province:"):
            return org.province, kind.split(":", 1)[1]
        if kind == "expert":
            return org.city, "econ-labour"
        assert matter is not None
        if kind == "assigner":
            return matter["assigning_unit_id"], matter["assigning_department_code"]
        if kind == "lead":
            return matter["lead"]
        return self.rng.choice(matter["co"]) if matter["co"] else matter["lead"]

    def _matter_units(self) -> tuple[tuple[int, str | None], list[tuple[int, str | None]]]:
        org = self.org
        seats: list[tuple[int, str | None]] = [(uid, None) for uid in org.districts]
        seats += [(org.city, code) for code in self.city_departments]
        chosen = self.rng.sample(seats, 1 + self.rng.choice((0, 0, 1, 2)))
        return chosen[0], chosen[1:]

    def batch(self, count: int) -> dict[str, list[dict[str, Any]]]:
        """`count` cases: the rows of each table of TABLES (insert them in that order)."""
        extra: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
        instances, tasks = extra["process_instance"], extra["task_index"]
        rng, org, now = self.rng, self.org, self.now
        for _ in range(count):
            self.instance_id += 1
            instance_id = self.instance_id
            key = rng.choices(self.process_choices, self.process_weights)[0]
            running = rng.random() < RUNNING_SHARE[key]
            home = self._home(key)
            steps = STEPS[key]
            # ~10 rows a case: a step list shorter than that loops (补正, 进展反馈), as returned steps do.
            total = max(4, min(16, round(rng.gauss(10, 2))))
            open_count = rng.choice((1, 2, 3)) if running else 0
            if running:
                created = now - timedelta(days=rng.uniform(2, 120))
            else:
                created = now - timedelta(days=rng.uniform(5, 3 * 365))
            case_number = f"{PREFIXES[key]}-{created.year}-{instance_id:06d}"
            matter: dict[str, Any] | None = None
            if key == "supervision":
                self.supervision_id += 1
                lead, co = self._matter_units()
                by_city = rng.random() < 0.7
                department = rng.choice(("office", "econ-labour", "livelihood")) if by_city else None
                assigner = (org.city, department) if by_city else (self._district_of(home), None)
                matter = {"assigning_unit_id": assigner[0], "assigning_department_code": assigner[1],
                          "lead": lead, "co": co}  # fmt: skip
            holders_seen: list[int] = []
            moment = created
            completed_at = None
            for position in range(total):
                bpmn_id, title, lane_kind = steps[position % len(steps)]
                unit_id, department = self._seat(lane_kind, home, matter)
                is_open = position >= total - open_count
                candidates = org.holders.get((unit_id, department), [])
                if lane_kind == "expert":
                    candidates = [Holder(e, unit_id, department, "official") for e in org.experts]
                ready_at = moment
                if is_open:
                    # Open steps became ready within the last month: about a third are overdue.
                    ready_at = max(created, now - timedelta(days=rng.uniform(0, 30)))
                due_at = None if rng.random() < 0.05 else beijing_end_of_day(ready_at + timedelta(days=rng.choice(
                    (3, 5, 7, 7, 10, 14, 20))))  # fmt: skip
                holder = rng.choice(candidates).id if candidates else None
                assigned = holder if lane_kind == "expert" else None
                if is_open:
                    claimed = holder if (assigned or rng.random() < 0.4) else None
                    row_status, done_by, done_at = "ready", None, None
                else:
                    claimed = holder
                    done_at = min(now, ready_at + timedelta(hours=rng.uniform(1, 96)))
                    row_status, done_by = "completed", holder
                    moment = done_at + timedelta(hours=rng.uniform(0.1, 48))
                    completed_at = done_at
                if holder is not None:
                    holders_seen.append(holder)
                self.task_row_id += 1
                tasks.append({
                    "id": self.task_row_id, "instance_id": instance_id,
                    "task_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "bpmn_id": bpmn_id,
                    "title": title, "process_key": key, "case_number": case_number,
                    "case_title": f"{title}案件{instance_id}", "lane": LANE_NAMES[lane_kind], "org_unit_id": unit_id,
                    "department_code": department, "form_name": f"{FORMS[key]}-{bpmn_id}.json", "status": row_status,
                    "claimed_by_id": claimed, "assigned_to_id": assigned, "completed_by_id": done_by,
                    "ready_at": ready_at, "due_at": due_at, "completed_at": done_at,
                })  # fmt: skip
            finished = not running
            starter = holders_seen[0] if holders_seen else org.holders[(org.city, "econ-labour")][0].id
            instances.append({
                "id": instance_id, "case_number": case_number,
                "process_version_id": org.versions[key], "process_key": key,
                "title": f"{STEPS[key][0][1]}案件{instance_id}", "status": "completed" if finished else "running",
                "state": STATE_FILLER if key == "supervision" else "", "serializer_version": "1.5", "version": total,
                "started_by_id": starter, "home_unit_id": home, "enterprise_id": None, "created_at": created,
                "updated_at": completed_at or created, "completed_at": completed_at if finished else None,
            })  # fmt: skip
            if key == "hazard_report":
                extra["hazard_report"].append(self._hazard(instance_id, home, created,
                                                           completed_at if finished else None))
            if matter is not None:
                deadline = (created + timedelta(days=rng.uniform(20, 90))).astimezone(SHANGHAI).date()
                status = "closed" if finished else rng.choice(("assigned", "in_progress", "in_progress", "reported"))
                assigning_head = org.head_of.get((matter["assigning_unit_id"], matter["assigning_department_code"]))
                extra["supervision_item"].append({
                    "id": self.supervision_id, "instance_id": instance_id,
                    "plan_item_id": rng.choice(org.plan_items) if org.plan_items and rng.random() < 0.5 else None,
                    "title": f"督办事项{self.supervision_id}", "source": "领导批示", "content": "按期办结。",
                    "assigning_unit_id": matter["assigning_unit_id"],
                    "assigning_department_code": matter["assigning_department_code"],
                    "assigning_head_id": assigning_head, "deadline": deadline, "status": status,
                    "assigned_at": created, "signed_at": created, "reported_at": completed_at,
                    "closed_at": completed_at if finished else None, "escalated_at": None, "sent_back_count": 0,
                    "created_at": created,
                })  # fmt: skip
                for role, (unit_id, department) in [("lead", matter["lead"])] + [("co", seat) for seat in matter["co"]]:
                    self.supervision_unit_id += 1
                    extra["supervision_unit"].append({
                        "id": self.supervision_unit_id, "item_id": self.supervision_id, "org_unit_id": unit_id,
                        "department_code": department, "role": role, "signed_at": created,
                    })  # fmt: skip
                for n in range(rng.randint(0, 3)):
                    self.feedback_id += 1
                    extra["supervision_feedback"].append({
                        "id": self.feedback_id, "item_id": self.supervision_id, "kind": "progress",
                        "org_unit_id": matter["lead"][0], "author_id": starter, "author_name": "测试",
                        "body": f"进展反馈{n + 1}", "task_id": None, "created_at": created + timedelta(days=n + 1),
                    })  # fmt: skip
        return extra

    def _hazard(self, instance_id: int, home: int, received: datetime, closed: datetime | None) -> dict[str, Any]:
        """The report's record: closed cases were verified (most of them true) and some paid a reward."""
        rng = self.rng
        self.hazard_id += 1
        verified = closed is not None or rng.random() < 0.3
        result = rng.choice(("属实", "属实", "基本属实", "不属实")) if verified else None
        paid = closed is not None and result in ("属实", "基本属实") and rng.random() < 0.5
        return {
            "id": self.hazard_id, "instance_id": instance_id, "home_unit_id": home,
            "enterprise_id": rng.choice(self.org.enterprises),
            "channel": "web", "location": f"车间{instance_id % 50}", "location_key": f"车间{instance_id % 50}",
            "category": "设备设施", "description": "隐患描述", "reporter_name": None, "reporter_mobile": "13900000000",
            "reporter_resident_id": None, "anonymous": True, "employee_of_reported_unit": False,
            "received_at": received, "registered_at": received, "duplicate_of_id": None,
            "verification_result": result, "hazard_level": "一般" if verified else None,
            "regulator_notified_on": None, "regulator_document_number": None,
            "reward_amount": Decimal("200.00") if paid else None,
            "reward_paid_on": closed.astimezone(SHANGHAI).date() if paid and closed else None,
            "reward_payee_name": None, "reward_bank_name": None, "reward_card_number": None,
        }  # fmt: skip
