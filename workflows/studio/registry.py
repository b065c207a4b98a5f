"""The studio registry (名录): naming, funding by the naming year's rule, annual assessment with yellow and red cards.

Seed 004: Liaoning (after Shenyang) manages named studios with yellow and red cards (黄红牌摘牌); domain §2.c
C10–C11: a yellow card sets a rectification deadline and a re-check (复查); a failed re-check or a red card revokes
the name (摘牌) and no further funding is paid.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FormValidationError
from workflows.calendar import beijing_today
from workflows.db import utcnow
from workflows.errors import OperationRefused
from workflows.models import (
    ApplicationStatus,
    AssessmentResult,
    Studio,
    StudioApplication,
    StudioAssessment,
    StudioFunding,
    StudioStanding,
    User,
)


def name_studio(session: Session, application: StudioApplication, document_number: str, named_on: date) -> Studio:
    """Enter a named studio in the registry. Flushes."""
    studio = Studio(
        application_id=application.id,
        name=application.studio_name,
        studio_type=application.studio_type,
        year=application.call.year,
        city_unit_id=application.call.city_unit_id,
        enterprise_id=application.enterprise_id,
        lead_name=application.lead_name,
        document_number=document_number.strip(),
        named_on=named_on,
        standing=StudioStanding.GOOD.value,
    )
    session.add(studio)
    application.status = ApplicationStatus.NAMED.value
    session.flush()
    return studio


def studio_of(session: Session, application: StudioApplication) -> Studio | None:
    return session.scalar(select(Studio).where(Studio.application_id == application.id))


def funding_problem(studio: Studio | None, amount: Decimal) -> dict[str, str]:
    """Why this funding cannot be recorded: revoked studios get nothing; the amount is the naming year's rule."""
    if studio is None:
        return {"amount": "拨付金额（元）：工作室尚未命名，不能拨付"}
    if studio.standing == StudioStanding.REVOKED:
        return {"amount": "拨付金额（元）：该工作室已摘牌，不再拨付资金"}
    expected = studio.application.call.funding(studio.studio_type)
    if amount != expected:
        return {"amount": f"拨付金额（元）：应为{studio.year}年{studio.studio_type}资金标准 {expected:,.2f} 元"}
    if any(funding.year == studio.year for funding in studio.fundings):
        return {"amount": f"拨付金额（元）：{studio.year}年资金已经拨付"}
    return {}


def record_funding(
    session: Session, studio: Studio, user: User, amount: Decimal, voucher_number: str, paid_on: date
) -> StudioFunding:
    problem = funding_problem(studio, amount)
    if problem:
        raise FormValidationError(problem)
    call = studio.application.call
    funding = StudioFunding(
        studio_id=studio.id,
        year=studio.year,
        amount=amount,
        rule_source=call.funding_source or f"{call.year}年申报通知",
        voucher_number=voucher_number.strip(),
        paid_on=paid_on,
        recorded_by_id=user.id,
    )
    studio.fundings.append(funding)
    studio.application.status = ApplicationStatus.FUNDED.value
    session.flush()
    return funding


def pending_recheck(studio: Studio) -> StudioAssessment | None:
    return next(
        (a for a in studio.assessments if a.result == AssessmentResult.YELLOW and a.recheck_passed is None), None
    )


def assess_studio(
    session: Session,
    studio: Studio,
    user: User,
    year: int,
    result: str,
    opinion: str,
    rectification_deadline: date | None = None,
) -> StudioAssessment:
    """Record the annual assessment. Flushes; refusals name the field in Chinese."""
    today = beijing_today()
    if studio.standing == StudioStanding.REVOKED:
        raise OperationRefused(f"工作室“{studio.name}”已摘牌，不再考核")
    if pending_recheck(studio) is not None:
        raise OperationRefused(f"工作室“{studio.name}”的黄牌整改尚未复查，复查后才能进行新的年度考核")
    errors: dict[str, str] = {}
    if not studio.year < year <= today.year:
        errors["year"] = f"考核年度：应在命名年度{studio.year}年之后、不晚于今年（命名当年不考核）"
    elif any(a.year == year for a in studio.assessments):
        errors["year"] = f"考核年度：{year}年已经考核"
    if result not in {r.value for r in AssessmentResult}:
        errors["result"] = "考核结果：应为良好、黄牌或红牌"
    if result == AssessmentResult.YELLOW:
        if rectification_deadline is None:
            errors["rectification_deadline"] = "整改期限：黄牌须规定整改期限"
        elif rectification_deadline <= today:
            errors["rectification_deadline"] = "整改期限：应晚于今天"
    if not 2 <= len(opinion.strip()) <= 2000:
        errors["opinion"] = "考核意见：应为2至2000个字"
    if errors:
        raise FormValidationError(errors)
    assessment = StudioAssessment(
        studio_id=studio.id,
        year=year,
        result=result,
        opinion=opinion.strip(),
        rectification_deadline=rectification_deadline if result == AssessmentResult.YELLOW else None,
        assessed_by_id=user.id,
    )
    session.add(assessment)
    studio.assessments.append(assessment)
    if result == AssessmentResult.YELLOW:
        studio.standing = StudioStanding.YELLOW.value
    elif result == AssessmentResult.RED:
        revoke(studio, today)
    else:
        studio.standing = StudioStanding.GOOD.value
    session.flush()
    return assessment


def revoke(studio: Studio, on: date) -> None:
    studio.standing = StudioStanding.REVOKED.value
    studio.revoked_on = on


def recheck_studio(session: Session, studio: Studio, user: User, passed: bool, opinion: str) -> StudioAssessment:
    """The re-check after a yellow card: passed clears the card; failed revokes the name (摘牌). Flushes."""
    assessment = pending_recheck(studio)
    if assessment is None:
        raise OperationRefused(f"工作室“{studio.name}”没有待复查的黄牌")
    if not 2 <= len(opinion.strip()) <= 2000:
        raise FormValidationError({"recheck_opinion": "复查意见：应为2至2000个字"})
    assessment.recheck_passed = passed
    assessment.recheck_opinion = opinion.strip()
    assessment.rechecked_by_id = user.id
    assessment.rechecked_at = utcnow()
    if passed:
        studio.standing = StudioStanding.GOOD.value
    else:
        revoke(studio, beijing_today())
    session.flush()
    return assessment


def city_studios(session: Session, city_unit_id: int) -> list[Studio]:
    return list(
        session.scalars(
            select(Studio).where(Studio.city_unit_id == city_unit_id).order_by(Studio.year.desc(), Studio.name)
        )
    )


def due_for_assessment(session: Session, city_unit_id: int, year: int) -> list[Studio]:
    """Studios still named, named before `year`, without an assessment for `year`."""
    return [
        studio
        for studio in city_studios(session, city_unit_id)
        if studio.standing != StudioStanding.REVOKED
        and studio.year < year
        and not any(a.year == year for a in studio.assessments)
    ]
