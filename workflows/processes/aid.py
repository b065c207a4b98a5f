"""Domain hooks of the hardship-aid process (`hardship_aid`, bpmn/hardship_aid.bpmn; seed 000 items 8–10).

Each step's checks and effects on the aid tables live in workflows.aid.process (list steps) and
workflows.aid.payment (bank steps); these hooks call them at the engine's fixed points.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.aid import process as aid
from workflows.calendar import beijing_today
from workflows.errors import OperationRefused
from workflows.models import AidBatch, AidCityList, AidWorker, OrgUnit, ProcessInstance, User
from workflows.processes import ProcessHooks, StartPlan
from workflows.routing import ProcessInfo

RETURN_DECISION = "退回部分人员"


class HardshipAidHooks(ProcessHooks):
    # Allocated money, a file sent to the bank, an imported bank result and a district's correction are facts
    # outside the system: no 退回 or 撤回 may undo them. A confirmation is the province's formal decision.
    irreversible_steps = frozenset({"province_confirm", "allocate", "prepare_payment", "bank_result", "correct_bank"})

    def prepare_start(self, session: Session, user: User, info: ProcessInfo, data: dict[str, Any]) -> StartPlan:
        year, code = data["year"], data["city_code"].strip()
        city = session.scalar(select(OrgUnit).where(OrgUnit.code == code))
        errors = {}
        if not aid.is_province_livelihood(user):
            errors["year"] = "只有省总工会生活保障部可以下发援助名单"
        elif (
            city is None
            or session.scalar(
                select(AidWorker.id).where(AidWorker.year == year, AidWorker.city_unit_id == city.id).limit(1)
            )
            is None
        ):
            errors["city_code"] = f"市总工会代码：{year} 年度名单中没有该市的职工"
        elif session.scalar(
            select(AidCityList.id).where(AidCityList.year == year, AidCityList.city_unit_id == city.id)
        ):
            errors["city_code"] = f"市总工会代码：{year} 年度{city.name}的名单已经下发"
        if errors:
            raise FormValidationError(errors)
        assert city is not None
        count = len(
            session.scalars(select(AidWorker.id).where(AidWorker.year == year, AidWorker.city_unit_id == city.id)).all()
        )
        return StartPlan(
            home_unit=city,
            title=f"{year}年度去产能企业特困职工援助名单·{city.name}",
            initial_data={"year": year, "city_code": city.code, "city_unit_id": city.id, "worker_count": count},
        )

    def after_start(self, session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
        session.add(
            AidCityList(
                year=data["year"],
                city_unit_id=instance.home_unit_id,
                instance_id=instance.id,
                dispatched_by_id=instance.started_by_id,
            )
        )
        session.flush()

    def check_step(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
    ) -> dict[str, str]:
        city_list = aid.city_list_of(session, instance)
        year = city_list.year
        if bpmn_id == "distribute":
            if date.fromisoformat(data["review_deadline"]) < beijing_today():
                return {"review_deadline": "审查完成期限：不能早于今天"}
            missing = aid.unassigned_districts(session, year, city_list.city_unit)
            if missing:
                names = "、".join(missing[:20])
                return {"opinion": f"以下区县尚未在组织机构中登记，不能分发：{names}；请管理员先登记这些工会"}
        elif bpmn_id == "district_review":
            progress = aid.unit_progress(session, year, int(case_data["review_unit_id"]))
            if not progress.complete:
                return {
                    "opinion": f"本单位还有 {progress.total - progress.reviewed} 名职工没有审查结论，全部审查后才能提交"
                }
        elif bpmn_id == "province_confirm" and data["decision"] == RETURN_DECISION:
            aid.rows_to_return(session, city_list, data["returned_rows"])
        elif bpmn_id == "allocate":
            amount = data["amount"]
            expected = Decimal(str(case_data.get("confirmed_total", "0")))
            if amount != expected:
                return {"amount": f"拨付金额（元）：应等于确认名单的核定总额 {expected:,.2f} 元"}
            problem = aid.allocation_problem(session, city_list, amount)
            if problem:
                return {"amount": problem}
        elif bpmn_id == "bank_result":
            batch = session.get(AidBatch, int(case_data["batch_id"]))
            if batch is None or batch.result_sha256 is None:
                return {"opinion": "请先导入银行回盘文件，再提交本环节"}
        elif bpmn_id == "correct_bank":
            from workflows.aid.payment import corrections_complete

            if not corrections_complete(session, year, int(case_data["correction_unit_id"])):
                return {"opinion": "还有发放失败的职工没有更正银行信息或注明暂缓发放"}
        return {}

    def step_data(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
        user: User,
    ) -> dict[str, Any]:
        city_list = aid.city_list_of(session, instance)
        year, city_id = city_list.year, city_list.city_unit_id
        if bpmn_id == "distribute":
            # Each round starts its output collection empty: the engine refuses to append to the last round's.
            return {"review_units": aid.distribute(session, year, city_list.city_unit), "review_results": []}
        if bpmn_id == "province_confirm":
            if data["decision"] == RETURN_DECISION:
                workers = aid.rows_to_return(session, city_list, data["returned_rows"])
                units = aid.return_rows(session, user, workers, data["return_reason"].strip())
                return {"review_units": units, "review_results": []}
            confirmation = aid.confirm_city_list(session, city_list)
            return {"confirmed_count": confirmation.count, "confirmed_total": str(confirmation.total)}
        if bpmn_id == "allocate":
            aid.record_allocation(session, user, city_list, data)
        elif bpmn_id == "prepare_payment":
            from workflows.aid.payment import create_batch

            try:
                batch = create_batch(session, user, year, city_id)
            except OperationRefused as refused:
                raise FormValidationError({"opinion": str(refused)}) from refused
            return {"batch_id": batch.id, "batch_number": batch.batch_number}
        elif bpmn_id == "bank_result":
            from workflows.aid.payment import districts_with_failures

            return {"correction_units": districts_with_failures(session, year, city_id), "repay_flags": []}
        elif bpmn_id == "district_review":
            unit_id = int(case_data["review_unit_id"])
            progress = aid.unit_progress(session, year, unit_id)
            return {"review_result": {"unit_id": unit_id, "workers": progress.total}}
        elif bpmn_id == "correct_bank":
            return {"repay_needed": aid.repay_needed(session, year, int(case_data["correction_unit_id"]))}
        return {}
