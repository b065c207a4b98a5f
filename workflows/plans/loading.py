"""Loading a plan from its data file (workflows/plans/data/*.json), all or nothing.

A data file reproduces a plan document: its measures, numbered items with full text and responsible units, and
UnionFlow's links (processes that carry an item out, measurable targets). Loading again updates the plan in place,
keeping item ids, so urges, supervised matters and notifications that point at items survive a correction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.models import (
    Plan,
    PlanItem,
    PlanItemProcess,
    PlanMeasure,
    PlanResponsibility,
    PlanTarget,
    PolicyParameter,
    ResponsibilityRole,
    UnitGroup,
)
from workflows.organisation import UnknownOrgUnit, unit_by_code
from workflows.plans.metrics import METRICS


class PlanDataError(ValueError):
    """The data file is not a valid plan; the message names the place (措施/事项/字段) in Chinese."""


def _text(data: Mapping[str, Any], key: str, where: str, max_length: int | None = None) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PlanDataError(f"{where}：缺少“{key}”或不是文字")
    if max_length is not None and len(value) > max_length:
        raise PlanDataError(f"{where}：“{key}”超过 {max_length} 字")
    return value


def _number(data: Mapping[str, Any], where: str) -> int:
    value = data.get("number")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise PlanDataError(f"{where}：编号必须是正整数")
    return value


def _responsibilities(session: Session, plan: Plan, entries: Any, where: str) -> list[PlanResponsibility]:
    if not isinstance(entries, list) or not entries:
        raise PlanDataError(f"{where}：至少要有一个责任单位")
    departments = {department.code for department in plan.issuing_unit.departments}
    rows = []
    for position, entry in enumerate(entries, start=1):
        place = f"{where}第{position}个责任单位"
        role = entry.get("role")
        if role not in {r.value for r in ResponsibilityRole}:
            raise PlanDataError(f"{place}：role 只能是 lead（牵头）或 co（配合）")
        row = PlanResponsibility(position=position, role=role, label=_text(entry, "label", place, 100))
        if "group" in entry:
            if entry["group"] not in {g.value for g in UnitGroup}:
                raise PlanDataError(f"{place}：未知的单位类别 {entry['group']!r}")
            row.unit_group = entry["group"]
        else:
            unit = plan.issuing_unit
            if "unit" in entry:
                try:
                    unit = unit_by_code(session, str(entry["unit"]))
                except UnknownOrgUnit as exc:
                    raise PlanDataError(f"{place}：{exc}") from None
            department = entry.get("department")
            if department is not None and department not in {d.code for d in unit.departments}:
                raise PlanDataError(f"{place}：“{unit.name}”没有部门 {department!r}")
            if department is None and unit.id == plan.issuing_unit_id and departments:
                raise PlanDataError(f"{place}：发文单位的责任部门必须写明 department")
            row.org_unit_id, row.department_code = unit.id, department
        rows.append(row)
    if rows[0].role != ResponsibilityRole.LEAD.value:
        raise PlanDataError(f"{where}：第一个责任单位必须是牵头单位（lead）")
    return rows


def _targets(session: Session, entries: Any, where: str) -> list[PlanTarget]:
    if not isinstance(entries, list):
        raise PlanDataError(f"{where}：targets 必须是列表")
    known_parameters = set(session.scalars(select(PolicyParameter.key).distinct()))
    rows = []
    for position, entry in enumerate(entries, start=1):
        place = f"{where}第{position}个目标"
        metric = entry.get("metric")
        if metric is not None and metric not in METRICS:
            raise PlanDataError(f"{place}：未知的统计指标 {metric!r}")
        parameter = entry.get("parameter")
        if parameter is not None and parameter not in known_parameters:
            raise PlanDataError(f"{place}：政策参数 {parameter!r} 不存在（请先运行 init-db 加载政策参数）")
        params = entry.get("params") or {}
        if not isinstance(params, dict):
            raise PlanDataError(f"{place}：params 必须是对象")
        rows.append(
            PlanTarget(
                position=position,
                metric=metric or "",
                params=params,
                label=_text(entry, "label", place, 200),
                parameter_key=parameter,
                unit=_text(entry, "unit", place, 16),
                note=str(entry.get("note", ""))[:500],
            )
        )
    return rows


def _processes(entries: Any, where: str) -> list[PlanItemProcess]:
    if not isinstance(entries, list) or not all(isinstance(key, str) and key.isidentifier() for key in entries):
        raise PlanDataError(f"{where}：processes 必须是流程标识的列表")
    return [PlanItemProcess(process_key=key) for key in dict.fromkeys(entries)]


def load_plan(session: Session, data: Mapping[str, Any]) -> Plan:
    """Create or update the plan `data` describes; raises PlanDataError before anything is written that matters
    (the caller's transaction is rolled back on error, so nothing is half-loaded). Flushes."""
    code = _text(data, "code", "方案", 64)
    try:
        issuing_unit = unit_by_code(session, _text(data, "issuing_unit", "方案"))
    except UnknownOrgUnit as exc:
        raise PlanDataError(f"方案：发文单位 {exc}") from None
    try:
        issued_on = date.fromisoformat(_text(data, "issued_on", "方案"))
    except ValueError:
        raise PlanDataError("方案：issued_on 不是有效日期（YYYY-MM-DD）") from None
    plan = session.scalar(select(Plan).where(Plan.code == code))
    if plan is None:
        plan = Plan(code=code)
        session.add(plan)
    plan.title = _text(data, "title", "方案", 255)
    plan.document_number = _text(data, "document_number", "方案", 64)
    plan.issuing_office = _text(data, "issuing_office", "方案", 100)
    plan.issuing_unit = issuing_unit
    plan.issuing_unit_id = issuing_unit.id
    plan.issued_on = issued_on
    plan.source = str(data.get("source", ""))[:255]
    session.flush()

    measures_data = data.get("measures")
    if not isinstance(measures_data, list) or not measures_data:
        raise PlanDataError("方案：至少要有一项措施")
    measures = {m.number: m for m in plan.measures}
    items = {i.number: i for i in plan.items}
    seen_measures: set[int] = set()
    seen_items: set[int] = set()
    for measure_data in measures_data:
        number = _number(measure_data, "措施")
        where = f"措施{number}"
        if number in seen_measures:
            raise PlanDataError(f"{where}：编号重复")
        seen_measures.add(number)
        measure = measures.get(number) or PlanMeasure(number=number)
        if measure not in plan.measures:
            plan.measures.append(measure)
        measure.title = _text(measure_data, "title", where)
        session.flush()
        for item_data in measure_data.get("items") or []:
            item_number = _number(item_data, f"{where}的事项")
            place = f"第{item_number}项"
            if item_number in seen_items:
                raise PlanDataError(f"{place}：编号重复")
            seen_items.add(item_number)
            item = items.get(item_number) or PlanItem(number=item_number)
            if item not in plan.items:
                plan.items.append(item)
            item.measure_id = measure.id
            item.heading = _text(item_data, "heading", place, 255)
            item.body = _text(item_data, "body", place)
            item.responsible_text = _text(item_data, "responsible_text", place, 500)
            responsibilities = _responsibilities(session, plan, item_data.get("responsible"), place)
            processes = _processes(item_data.get("processes", []), place)
            targets = _targets(session, item_data.get("targets", []), place)
            # Delete the old links before inserting the new ones: the unit of work inserts first, and a reload
            # that keeps an item's process would collide on (item, process).
            item.responsibilities, item.processes, item.targets = [], [], []
            session.flush()
            item.responsibilities, item.processes, item.targets = responsibilities, processes, targets
    # Items and measures already loaded may carry urges, supervised matters and notifications: never drop them.
    if dropped := sorted(items.keys() - seen_items):
        raise PlanDataError(f"第{dropped[0]}项：已载入的事项不能从方案中删除")
    if dropped := sorted(measures.keys() - seen_measures):
        raise PlanDataError(f"措施{dropped[0]}：已载入的措施不能从方案中删除")
    session.flush()
    return plan


def read_plan_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanDataError(f"无法读取方案文件 {path.name}：{exc.__class__.__name__}") from None
    except json.JSONDecodeError as exc:
        raise PlanDataError(f"方案文件 {path.name} 不是有效的 JSON：第 {exc.lineno} 行") from None
    if not isinstance(data, dict):
        raise PlanDataError(f"方案文件 {path.name}：顶层必须是对象")
    return data


def builtin_plan_files() -> list[Path]:
    folder = Path(str(resources.files("workflows").joinpath("plans/data")))
    return sorted(folder.glob("*.json"))


def load_builtin_plans(session: Session) -> list[Plan]:
    """The plans shipped with UnionFlow (大工办发〔2017〕28号); needs the organisation and policy parameters."""
    return [load_plan(session, read_plan_file(path)) for path in builtin_plan_files()]
