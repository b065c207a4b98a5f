"""Per-process domain hooks: what a process needs besides its diagram (case context, business records, checks).

The engine layer calls these at fixed points of every operation; a process without special needs uses
`ProcessHooks` as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from workflows.models import Enterprise, OrgUnit, ProcessInstance, User
from workflows.routing import ProcessInfo


@dataclass
class StartPlan:
    home_unit: OrgUnit
    title: str
    enterprise: Enterprise | None = None
    initial_data: dict[str, Any] = field(default_factory=dict)


class ProcessHooks:
    # Steps whose business effect cannot be undone (money allocated, a file sent to the bank): a case is never returned
    # or withdrawn to them or to any step before them (workflows.rollback).
    irreversible_steps: frozenset[str] = frozenset()

    def prepare_start(self, session: Session, user: User, info: ProcessInfo, data: dict[str, Any]) -> StartPlan:
        """Resolve the case's home unit and title from the start form; raise FormValidationError on bad input."""
        return StartPlan(home_unit=user.org_unit, title=info.title, initial_data=dict(data))

    # Note: `initial_data` becomes case data, visible to every later step; keep personal data out of it.

    def after_start(self, session: Session, instance: ProcessInstance, data: dict[str, Any]) -> None:
        """Create the process's business records once the instance has an id."""

    def check_step(
        self,
        session: Session,
        instance: ProcessInstance,
        bpmn_id: str,
        data: dict[str, Any],
        case_data: dict[str, Any],
    ) -> dict[str, str]:
        """Cross-field and cross-case checks a JSON Schema cannot express; field path -> Chinese message."""
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
        """What the step records in business tables and adds to case data for the diagram to route on (checked
        already by `check_step`; small values only, such as the units of the next round, never a list of workers)."""
        return {}

    def after_step(
        self, session: Session, instance: ProcessInstance, bpmn_id: str, data: dict[str, Any], user: User
    ) -> None:
        """Update business records after a step completed."""

    def form_values(self, session: Session, instance: ProcessInstance, bpmn_id: str) -> dict[str, Any]:
        """What a step's form starts with, e.g. the current application for a step that corrects it (补正)."""
        return {}

    def reopen_step(self, session: Session, instance: ProcessInstance, bpmn_id: str) -> None:
        """Undo what `after_step` recorded for a step that was returned to or withdrawn, before it is redone."""


_DEFAULT_HOOKS = ProcessHooks()


def hooks_for(process_key: str) -> ProcessHooks:
    from workflows.processes.aid import HardshipAidHooks
    from workflows.processes.hazard import HazardReportHooks
    from workflows.processes.honour import HonourNominationHooks
    from workflows.processes.studio import StudioNamingHooks
    from workflows.processes.supervision import SupervisionHooks

    registry: dict[str, ProcessHooks] = {
        "hazard_report": HazardReportHooks(),
        "hardship_aid": HardshipAidHooks(),
        "studio_naming": StudioNamingHooks(),
        "honour_nomination": HonourNominationHooks(),
        "supervision": SupervisionHooks(),
    }
    return registry.get(process_key, _DEFAULT_HOOKS)
