"""Schemathesis against the API's own OpenAPI document (issue #5): no 500 anywhere, every answer as documented.

The document is loaded from the app (`/api/v1/openapi.json`) and checked against the OpenAPI 3.1 meta-schema. Then,
for every operation, Hypothesis draws requests from it, valid ones (positive) and ones that break it on purpose
(negative), with the bearer token of a demo official who holds tasks. Path parameters are either what Schemathesis
generates (mostly unknown ids: 404) or, half of the time, a real case and a real open task of that official, so
the bodies reach the validation behind the lookups. Every answer must be something other than a server error, its
status must be one the document lists, its Content-Type the documented one, and a JSON answer must match the
documented schema.

The draws are bounded (a few per operation and mode, the same ones every run) so the whole file stays within half
a minute on two cores. For a longer hunt with fresh draws, set `UNIONFLOW_FUZZ_EXAMPLES` (say 100); to look at one
operation, `UNIONFLOW_FUZZ_ONLY` (a part of its label, e.g. `attachments`).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from tests.workflow_helpers import open_task, start_report, user
from workflows.tokens import create_token

DEFAULT_EXAMPLES = 8
EXAMPLES = int(os.environ.get("UNIONFLOW_FUZZ_EXAMPLES", str(DEFAULT_EXAMPLES)))
HOLDER = "ganjingzi1"  # holds 甘井子区's registration and verification steps
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass(frozen=True)
class Target:
    token: str
    instance_id: int
    task_id: str


@pytest.fixture
def target(app: Flask, app_db: Session) -> Target:
    case = start_report(app_db, HOLDER)
    task = open_task(app_db, case, "register_report")
    token = create_token(app_db, user(app_db, HOLDER), "schemathesis")
    app_db.commit()
    return Target(token, case.id, task.task_id)


@pytest.fixture
def api_schema(app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def test_the_document_is_valid_openapi(api_schema: schemathesis.BaseSchema) -> None:
    api_schema.validate()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    # What the edge may answer before any operation runs is documented on every one (webapp.edge).
    for operation in operations:
        responses = operation.definition.raw["responses"]
        assert "400" in responses, operation.label
        assert "413" in responses or "requestBody" not in operation.definition.raw, operation.label


def _operations(schema: schemathesis.BaseSchema) -> Iterator[Any]:
    only = os.environ.get("UNIONFLOW_FUZZ_ONLY", "")
    for result in schema.get_all_operations():
        operation = result.ok()
        if only in operation.label:
            yield operation


def _real_ids(operation: Any, target: Target) -> dict[str, Any]:
    names = {parameter.name for parameter in operation.path_parameters}
    real: dict[str, Any] = {}
    if "instance_id" in names:
        real["instance_id"] = target.instance_id
    if "task_id" in names:
        real["task_id"] = target.task_id
    if "key" in names:
        real["key"] = "hazard_report"
    return real


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_no_operation_answers_a_server_error(
    api_schema: schemathesis.BaseSchema, target: Target, mode: GenerationMode
) -> None:
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {target.token}"}
    for operation in _operations(api_schema):
        strategy = st.one_of(
            operation.as_strategy(generation_mode=mode),
            operation.as_strategy(generation_mode=mode, path_parameters=_real_ids(operation, target)),
        )

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES,
            # The suite's bounded run draws the same requests every time (a failure reproduces); a longer hunt
            # (UNIONFLOW_FUZZ_EXAMPLES) draws fresh ones.
            derandomize=EXAMPLES == DEFAULT_EXAMPLES,
            deadline=None,
            database=None,
            # No shrinking: the first failing request is reported as drawn, which keeps a failing run short.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.validate_response(case.call(headers=headers), checks=CHECKS, headers=headers)

        try:
            run()
        except Exception as failure:  # every operation is tried; the failures are reported together below
            trace = "" if isinstance(failure, FailureGroup) else "".join(traceback.format_exception(failure)[-12:])
            failures.append(f"{operation.label}: {failure}\n{trace}")
    assert not failures, "\n\n".join(failures)
