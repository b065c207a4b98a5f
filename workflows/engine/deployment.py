"""Parse, check and store BPMN process versions (DESIGN §2; issue #2 §3–§4).

A diagram is parsed once at deployment; the stored spec is what instances run. Checks that would otherwise fail
in front of an official (an unmapped lane, a missing form, a script calling an unknown function) fail here, with
a message naming the file, the task and the problem.

A diagram is also hostile input (issue #5): BPMN never needs a DOCTYPE, so any document type declaration (entity
definitions, an external DTD, parameter entities) is refused before parsing, and the parser itself never resolves
entities, loads a DTD or touches the network. That shuts out external entities (XXE) and entity expansion
(billion laughs, quadratic blow-up) alike. XInclude is never processed.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

import forms
from workflows.engine.scripting import check_source
from workflows.engine.serializer import (
    SERIALIZER_VERSION,
    SPEC_CACHE,
    SpecPair,
    dump_spec,
    load_spec,
    spec_ref,
)
from workflows.models import ProcessVersion
from workflows.routing import RoutingTable

FORM_PROPERTY = "formJsonSchemaFilename"
UI_FORM_PROPERTY = "formUiSchemaFilename"
DUE_EXPRESSION_PROPERTIES = ("dueWorkingDays", "dueDate")
# The org unit that holds a task, where the case's home unit does not decide it: an expression giving a unit id, such
# as the element variable of a multi-instance step sent to each district (workflows.task_index.task_unit).
ORG_UNIT_PROPERTY = "orgUnit"
# For a lane whose department is "*": the department of the unit that holds the task (issue #8).
DEPARTMENT_PROPERTY = "departmentCode"


class DeploymentError(ValueError):
    """A diagram that must not be deployed; the message names the file and every problem found."""


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    name: str
    specs: SpecPair
    source_file: str
    bpmn_xml: str
    content_hash: str


@dataclass(frozen=True)
class DeployResult:
    key: str
    version: int
    created: bool
    source_file: str


def properties(task_spec: Any) -> dict[str, str]:
    extensions = getattr(task_spec, "extensions", None) or {}
    props = extensions.get("properties") or {}
    return dict(props)


def _safe_xml_parser(**options: Any) -> etree.XMLParser:
    # huge_tree=False keeps libxml2's limits on text node size and nesting depth.
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, **options)


class _DoctypeFound(Exception):
    pass


class _DoctypeSentry:
    """lxml parser target that stops the parse at a DOCTYPE, before any entity in it is declared or used."""

    def doctype(self, name: str | None, public_id: str | None, system_url: str | None) -> None:
        raise _DoctypeFound(name)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        pass

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> None:
        pass


def _doctype_refused(name: str) -> DeploymentError:
    return DeploymentError(f"{name}：不接受 DOCTYPE 声明（DTD、实体定义或外部引用），BPMN 文件不需要它，请删除后再部署")


def parse_xml(raw: bytes, name: str) -> etree._Element:
    """The root element of a BPMN document; refuses any DOCTYPE (DeploymentError), raises XMLSyntaxError."""
    try:
        # A syntax error is left to the real parse below, which reports it with its line number.
        with contextlib.suppress(etree.XMLSyntaxError):
            etree.fromstring(raw, parser=_safe_xml_parser(target=_DoctypeSentry()))
    except _DoctypeFound as exc:
        raise _doctype_refused(name) from exc
    # Parse the bytes, so the file's declared encoding decides, never the server's locale.
    root = etree.fromstring(raw, parser=_safe_xml_parser())
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _doctype_refused(name)  # the sentry above already stops these; this only guards a change there
    return root


def parse_file(path: Path) -> list[ParsedProcess]:
    raw = path.read_bytes()
    content_hash = hashlib.sha256(raw).hexdigest()
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        tree = parse_xml(raw, path.name)
        parser.add_bpmn_xml(etree.ElementTree(tree), filename=str(path))
        keys = parser.get_process_ids()
        parsed = []
        for key in keys:
            spec = parser.get_spec(key)
            parsed.append(
                ParsedProcess(
                    key=key,
                    name=spec.description or key,
                    specs=(spec, parser.get_subprocess_specs(key)),
                    source_file=path.name,
                    bpmn_xml=etree.tostring(tree, encoding="unicode"),
                    content_hash=content_hash,
                )
            )
    except DeploymentError:
        raise
    except (ValidationException, etree.XMLSyntaxError, OSError, ValueError) as exc:
        raise DeploymentError(f"{path.name}：无法解析：{exc}") from exc
    if not parsed:
        raise DeploymentError(f'{path.name}：没有可执行的流程（isExecutable="true"）')
    return parsed


def _all_task_specs(specs: SpecPair) -> Iterable[tuple[BpmnProcessSpec, Any]]:
    spec, subprocess_specs = specs
    for process_spec in (spec, *subprocess_specs.values()):
        for task_spec in process_spec.task_specs.values():
            yield process_spec, task_spec


def check_process(parsed: ParsedProcess, routing: RoutingTable, forms_dir: Path | None = None) -> list[str]:
    """Every problem that stops `parsed` from running under this routing table and these forms."""
    problems: list[str] = []
    if parsed.key not in routing.processes:
        problems.append(f"流程 {parsed.key} 未在 routing.json 的 processes 中登记")
    for _process_spec, task_spec in _all_task_specs(parsed.specs):
        where = f"任务 {task_spec.bpmn_id}（{task_spec.bpmn_name or ''}）"
        props = properties(task_spec)
        is_human = isinstance(task_spec, UserTask)
        if is_human:
            if task_spec.lane is None:
                problems.append(f"{where}：人工任务不在任何泳道内")
            elif task_spec.lane not in routing.lanes:
                problems.append(f"{where}：泳道“{task_spec.lane}”未在 routing.json 中映射到角色")
            if FORM_PROPERTY not in props:
                problems.append(f"{where}：缺少表单属性 {FORM_PROPERTY}")
            # Every task has a due date (issue #4): reminders and 红黄灯 depend on it.
            if not any(prop in props for prop in DUE_EXPRESSION_PROPERTIES):
                problems.append(f"{where}：缺少办理时限（dueWorkingDays 或 dueDate）")
            role = routing.lanes.get(task_spec.lane or "")
            if role is not None and role.level is None and ORG_UNIT_PROPERTY not in props:
                problems.append(f"{where}：泳道“{task_spec.lane}”由任务指定办理单位，缺少 {ORG_UNIT_PROPERTY}")
            if role is not None and role.department == "*" and DEPARTMENT_PROPERTY not in props:
                problems.append(f"{where}：泳道“{task_spec.lane}”由任务指定办理部门，缺少 {DEPARTMENT_PROPERTY}")
            for prop in ("assignee", ORG_UNIT_PROPERTY, DEPARTMENT_PROPERTY):
                if prop in props:
                    problems += [f"{where}：{prop}：{p}" for p in check_source(props[prop], mode="eval")]
        condition = getattr(task_spec, "condition", None)
        if isinstance(task_spec, MultiInstanceTask) and condition:
            problems += [f"{where}：完成条件：{p}" for p in check_source(condition, mode="eval")]
        for prop in (FORM_PROPERTY, UI_FORM_PROPERTY):
            if prop in props:
                try:
                    forms.load_form(props[prop], forms_dir)
                except forms.FormNotFound:
                    problems.append(f"{where}：表单文件不存在：{props[prop]}")
                except forms.InvalidFormSchema as exc:
                    problems.append(f"{where}：表单无效：{exc}")
        for prop in DUE_EXPRESSION_PROPERTIES:
            if prop in props:
                problems += [f"{where}：{prop}：{p}" for p in check_source(props[prop], mode="eval")]
        if isinstance(task_spec, ScriptTask):
            problems += [f"{where}：脚本：{p}" for p in check_source(task_spec.script)]
        for label, script in (
            ("preScript", getattr(task_spec, "prescript", None)),
            ("postScript", getattr(task_spec, "postscript", None)),
        ):
            if script:
                problems += [f"{where}：{label}：{p}" for p in check_source(script)]
        for condition, _target in getattr(task_spec, "cond_task_specs", None) or []:
            expression = condition.args[0] if condition is not None else None
            if expression:
                problems += [f"{where}：条件 {expression!r}：{p}" for p in check_source(expression, mode="eval")]
        if isinstance(task_spec, CatchingEvent) and isinstance(task_spec.event_definition, TimerEventDefinition):
            problems += [
                f"{where}：定时器表达式：{p}" for p in check_source(task_spec.event_definition.expression, mode="eval")
            ]
    return problems


def deploy_file(
    session: Session, path: Path, routing: RoutingTable, forms_dir: Path | None = None
) -> list[DeployResult]:
    """Store each process of `path` as a new version unless this exact file is already deployed."""
    parsed_processes = parse_file(path)
    problems = [p for parsed in parsed_processes for p in check_process(parsed, routing, forms_dir)]
    if problems:
        raise DeploymentError(f"{path.name}：\n  " + "\n  ".join(problems))
    results = []
    for parsed in parsed_processes:
        existing = session.scalar(
            select(ProcessVersion).where(
                ProcessVersion.process_key == parsed.key, ProcessVersion.content_hash == parsed.content_hash
            )
        )
        if existing is not None:
            results.append(DeployResult(parsed.key, existing.version, False, parsed.source_file))
            continue
        latest = session.scalar(
            select(func.max(ProcessVersion.version)).where(ProcessVersion.process_key == parsed.key)
        )
        version = ProcessVersion(
            process_key=parsed.key,
            version=(latest or 0) + 1,
            name=parsed.name,
            content_hash=parsed.content_hash,
            source_file=parsed.source_file,
            bpmn_xml=parsed.bpmn_xml,
            serialized_spec=dump_spec(parsed.specs),
            serializer_version=SERIALIZER_VERSION,
        )
        session.add(version)
        session.flush()
        results.append(DeployResult(parsed.key, version.version, True, parsed.source_file))
    return results


def deploy_paths(session: Session, paths: Iterable[Path], routing: RoutingTable) -> list[DeployResult]:
    results: list[DeployResult] = []
    for path in paths:
        if path.is_dir():
            results += deploy_paths(session, sorted(path.glob("*.bpmn")), routing)
        else:
            results += deploy_file(session, path, routing)
    return results


def latest_version(session: Session, process_key: str) -> ProcessVersion | None:
    return session.scalar(_LATEST_VERSION, {"process_key": process_key})


_LATEST_VERSION = (  # built once: every case start asks it (issue #9)
    select(ProcessVersion)
    .where(ProcessVersion.process_key == bindparam("process_key"))
    .order_by(ProcessVersion.version.desc())
    .limit(1)
)


def specs_for(version: ProcessVersion) -> SpecPair:
    """The parsed spec of a stored version, restored once per process and then shared."""
    ref = spec_ref(version.process_key, version.content_hash)
    cached = SPEC_CACHE.get(ref)
    if cached is None:
        SPEC_CACHE.put(ref, load_spec(version.serialized_spec))
        cached = SPEC_CACHE.get(ref)
        assert cached is not None
    return cached
