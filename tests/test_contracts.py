"""Contract tests over bpmn/ (DESIGN §10), deployment checks and versioning (DESIGN §2), and `flask deploy`.

The contract half reads the diagrams' XML itself, so it does not rely on the deployment checks it backs up.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from flask.cli import FlaskGroup
from jsonschema import Draft202012Validator
from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from sqlalchemy import select
from sqlalchemy.orm import Session

from forms import FORMS_DIR
from tests.workflow_helpers import complete, open_steps, open_task, start_report
from workflows.engine.deployment import (
    DeploymentError,
    check_process,
    deploy_file,
    deploy_paths,
    latest_version,
    parse_file,
)
from workflows.engine.scripting import check_source
from workflows.models import InstanceStatus, ProcessVersion
from workflows.routing import BPMN_DIR, load_routing

BPMN_FILES = sorted(BPMN_DIR.glob("*.bpmn"))
HAZARD = BPMN_DIR / "hazard_report.bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FORM_PROPERTIES = ("formJsonSchemaFilename", "formUiSchemaFilename")
DUE_PROPERTIES = ("dueWorkingDays", "dueDate")
OPINION = {"opinion": "经研究，同意。"}

bpmn_files = pytest.mark.parametrize("path", BPMN_FILES, ids=[path.name for path in BPMN_FILES])


def tree(path: Path) -> etree._ElementTree:
    return etree.parse(str(path))


def owner_id(element: etree._Element) -> str:
    """The id of the flow element (task, event, sequence flow) an extension or expression belongs to."""
    node: etree._Element | None = element
    while node is not None and node.getparent() is not None:
        parent = node.getparent()
        if parent is not None and etree.QName(parent).localname == "process":
            return str(node.get("id"))
        node = parent
    return "?"


def expressions(path: Path) -> Iterator[tuple[str, str, str, str]]:
    """(kind, owner id, source, compile mode) of every piece of Python in a diagram."""
    doc = tree(path)
    for element in doc.iterfind(".//bpmn:script", NS):
        yield "script", owner_id(element), element.text or "", "exec"
    for tag in ("preScript", "postScript"):
        for element in doc.iterfind(f".//spiffworkflow:{tag}", NS):
            yield tag, owner_id(element), element.text or "", "exec"
    for element in doc.iterfind(".//bpmn:conditionExpression", NS):
        yield "condition", owner_id(element), element.text or "", "eval"
    for tag in ("timeDate", "timeDuration", "timeCycle"):
        for element in doc.iterfind(f".//bpmn:{tag}", NS):
            yield "timer", owner_id(element), element.text or "", "eval"
    for element in doc.iterfind(".//spiffworkflow:property", NS):
        if element.get("name") in DUE_PROPERTIES:
            yield "due", owner_id(element), element.get("value") or "", "eval"


# --- contracts over every diagram in bpmn/ ------------------------------------------------------------------------


def test_there_are_diagrams() -> None:
    assert HAZARD in BPMN_FILES


@bpmn_files
def test_diagram_parses_and_passes_the_deployment_checks(path: Path) -> None:
    parsed = parse_file(path)
    assert parsed, path.name
    for process in parsed:
        assert process.source_file == path.name
        assert check_process(process, load_routing()) == []


@bpmn_files
def test_every_process_is_registered_in_routing(path: Path) -> None:
    processes = load_routing().processes
    for process in tree(path).iterfind(".//bpmn:process[@isExecutable='true']", NS):
        assert process.get("id") in processes


@bpmn_files
def test_every_lane_is_mapped_and_every_user_task_is_in_a_mapped_lane(path: Path) -> None:
    lanes = load_routing().lanes
    doc = tree(path)
    lane_names = [lane.get("name") for lane in doc.iterfind(".//bpmn:lane", NS)]
    assert lane_names and all(name in lanes for name in lane_names), lane_names
    in_lane = {ref.text for ref in doc.iterfind(".//bpmn:lane/bpmn:flowNodeRef", NS)}
    user_task_ids = [task.get("id") for task in doc.iterfind(".//bpmn:userTask", NS)]
    assert user_task_ids and set(user_task_ids) <= in_lane, set(user_task_ids) - in_lane
    # The engine's view of the same: every human task spec carries a lane the routing table knows.
    for process in parse_file(path):
        spec, subprocesses = process.specs
        user_tasks = [
            task for p in (spec, *subprocesses.values()) for task in p.task_specs.values() if isinstance(task, UserTask)
        ]
        assert {task.bpmn_id for task in user_tasks} == set(user_task_ids)
        assert all(task.lane in lanes for task in user_tasks), [(t.bpmn_id, t.lane) for t in user_tasks]


@bpmn_files
def test_every_user_task_names_a_form(path: Path) -> None:
    for task in tree(path).iterfind(".//bpmn:userTask", NS):
        names = [p.get("name") for p in task.iterfind(".//spiffworkflow:property", NS)]
        assert "formJsonSchemaFilename" in names, task.get("id")


@bpmn_files
def test_every_form_file_exists_and_is_a_draft_2020_12_schema(path: Path) -> None:
    referenced = [
        (owner_id(prop), prop.get("value"))
        for prop in tree(path).iterfind(".//spiffworkflow:property", NS)
        if prop.get("name") in FORM_PROPERTIES
    ]
    assert referenced
    for owner, name in referenced:
        form_path = FORMS_DIR / str(name)
        assert form_path.is_file(), f"{owner}: {name}"
        schema = json.loads(form_path.read_text(encoding="utf-8"))
        if name and name.endswith("-schema.json"):
            assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema", name
            Draft202012Validator.check_schema(schema)
            assert schema.get("type") == "object", name


@bpmn_files
def test_every_script_and_expression_calls_only_known_functions(path: Path) -> None:
    problems = [
        (kind, owner, source, problem)
        for kind, owner, source, mode in expressions(path)
        for problem in check_source(source, mode=mode)
    ]
    assert problems == []


def test_the_expression_walk_finds_every_kind_in_the_hazard_diagram() -> None:
    """Guards the contract above against passing because it found nothing."""
    found = {(kind, owner) for kind, owner, _source, _mode in expressions(HAZARD)}
    assert {
        ("script", "compute_reward"),
        ("postScript", "rectify_notice"),
        ("condition", "f_dup_yes"),
        ("timer", "rectify_overdue"),
        ("due", "verify"),
        ("due", "enterprise_reply"),
    } <= found
    assert check_source("os_system('ls')", mode="eval") == ["调用了未登记的函数：os_system"]


# --- deployment refuses broken diagrams --------------------------------------------------------------------------


def hazard_copy(tmp_path: Path, old: str, new: str, name: str = "hazard_report.bpmn") -> Path:
    source = HAZARD.read_text(encoding="utf-8")
    assert old in source, old
    path = tmp_path / name
    path.write_text(source.replace(old, new), encoding="utf-8")
    return path


def deploy_error(session: Session, path: Path, forms_dir: Path | None = None) -> str:
    with pytest.raises(DeploymentError) as refused:
        deploy_file(session, path, load_routing(), forms_dir)
    message = str(refused.value)
    assert path.name in message
    assert session.scalars(select(ProcessVersion)).all() == []
    return message


def test_unmapped_lane_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(tmp_path, 'name="市总工会财务部"', 'name="市总工会后勤部"')
    message = deploy_error(session, path)
    assert "reward_payment" in message and "市总工会后勤部" in message


def test_user_task_outside_every_lane_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(tmp_path, "        <bpmn:flowNodeRef>triage</bpmn:flowNodeRef>\n", "")
    message = deploy_error(session, path)
    assert "triage" in message and "泳道" in message


def test_missing_form_file_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(tmp_path, "hazard-triage-schema.json", "hazard-missing-schema.json")
    message = deploy_error(session, path)
    assert "triage" in message and "hazard-missing-schema.json" in message


def test_invalid_form_schema_is_refused(session: Session, tmp_path: Path) -> None:
    forms_dir = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, forms_dir, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (forms_dir / "hazard-triage-schema.json").write_text(
        json.dumps({"type": "object", "properties": {"triage_level": {"type": 5}}}), encoding="utf-8"
    )
    message = deploy_error(session, HAZARD, forms_dir)
    assert "triage" in message and "hazard-triage-schema.json" in message


def test_script_calling_an_unknown_function_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(
        tmp_path, "rectification_due = end_of_day(rectification_deadline)", "rectification_due = os_system('rm -rf /')"
    )
    message = deploy_error(session, path)
    assert "os_system" in message and "rectify_notice" in message


def test_condition_calling_an_unknown_function_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(tmp_path, "decision == '重复报告'", "os_system('id') == '重复报告'")
    message = deploy_error(session, path)
    assert "os_system" in message and "gw_duplicate" in message


def test_due_expression_calling_an_unknown_function_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(tmp_path, "3 if triage_level == '可能重大' else 10", "len(open('/etc/passwd').read())")
    message = deploy_error(session, path)
    assert "open" in message and "verify" in message and "dueWorkingDays" in message


def test_sandbox_escape_in_a_script_is_refused(session: Session, tmp_path: Path) -> None:
    path = hazard_copy(
        tmp_path, 'reward_eligible = reward["eligible"]', "reward_eligible = ().__class__.__base__.__subclasses__()"
    )
    message = deploy_error(session, path)
    assert "compute_reward" in message and "__class__" in message


def test_every_problem_of_a_file_is_reported_at_once(session: Session, tmp_path: Path) -> None:
    source = HAZARD.read_text(encoding="utf-8")
    path = tmp_path / "hazard_report.bpmn"
    path.write_text(
        source.replace('name="市总工会财务部"', 'name="市总工会后勤部"').replace(
            "hazard-triage-schema.json", "hazard-missing-schema.json"
        ),
        encoding="utf-8",
    )
    message = deploy_error(session, path)
    assert "市总工会后勤部" in message and "hazard-missing-schema.json" in message


def test_unregistered_process_is_refused(session: Session, tmp_path: Path) -> None:
    source = HAZARD.read_text(encoding="utf-8").replace('"hazard_report"', '"unknown_process"')
    path = tmp_path / "unknown.bpmn"
    path.write_text(source, encoding="utf-8")
    assert "unknown_process" in deploy_error(session, path)


def test_file_that_is_not_xml_is_refused(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "broken.bpmn"
    path.write_text("<bpmn:definitions", encoding="utf-8")
    assert "无法解析" in deploy_error(session, path)


def test_diagram_in_a_declared_non_utf8_encoding_is_deployed_or_refused_by_name(
    session: Session, tmp_path: Path
) -> None:
    """Well-formed XML in GBK (common on Chinese Windows) must not crash deployment with a bare UnicodeDecodeError:
    either it deploys, or `flask deploy` gets a DeploymentError naming the file (which the CLI reports)."""
    source = HAZARD.read_text(encoding="utf-8").replace('encoding="UTF-8"', 'encoding="GBK"')
    path = tmp_path / "hazard_report_gbk.bpmn"
    path.write_bytes(source.encode("gbk"))
    try:
        results = deploy_file(session, path, load_routing())
    except DeploymentError as exc:
        assert path.name in str(exc)
    else:
        assert [(r.key, r.created) for r in results] == [("hazard_report", True)]


def test_deployment_does_not_depend_on_the_server_locale() -> None:
    """The diagrams are UTF-8 and say so in their XML declaration; a server whose locale encoding is not UTF-8
    (a C/POSIX locale without UTF-8 mode here, cp936 on a Chinese Windows desktop) must deploy them all the same."""
    env = dict(os.environ, PYTHONUTF8="0", PYTHONCOERCECLOCALE="0", LC_ALL="C", LANG="C")
    code = (
        "import locale; from workflows.engine.deployment import check_process, parse_file;"
        "from workflows.routing import BPMN_DIR, load_routing;"
        "print(locale.getpreferredencoding(False));"
        "print([p for f in sorted(BPMN_DIR.glob('*.bpmn'))"
        " for x in parse_file(f) for p in check_process(x, load_routing())])"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=BPMN_DIR.parent, capture_output=True, text=True, encoding="utf-8"
    )
    assert run.returncode == 0, run.stderr[-600:]
    assert run.stdout.split("\n")[1] == "[]"


# --- versioning ---------------------------------------------------------------------------------------------------


def changed_hazard(tmp_path: Path) -> Path:
    """The same diagram with new task names, under the same file name."""
    folder = tmp_path / "v2"
    folder.mkdir(exist_ok=True)
    path = folder / "hazard_report.bpmn"
    source = HAZARD.read_text(encoding="utf-8")
    for old, new in (('name="登记查重"', 'name="登记查重（新版）"'), ('name="分级研判"', 'name="分级研判（新版）"')):
        assert old in source
        source = source.replace(old, new)
    path.write_text(source, encoding="utf-8")
    return path


def test_redeploying_the_same_file_creates_nothing(session: Session) -> None:
    first = deploy_file(session, HAZARD, load_routing())
    again = deploy_file(session, HAZARD, load_routing())
    assert [(r.key, r.version, r.created, r.source_file) for r in first] == [
        ("hazard_report", 1, True, "hazard_report.bpmn")
    ]
    assert [(r.key, r.version, r.created) for r in again] == [("hazard_report", 1, False)]
    assert len(session.scalars(select(ProcessVersion)).all()) == 1


def test_a_changed_file_is_a_new_version(session: Session, tmp_path: Path) -> None:
    deploy_file(session, HAZARD, load_routing())
    changed = changed_hazard(tmp_path)
    result = deploy_file(session, changed, load_routing())
    assert [(r.key, r.version, r.created, r.source_file) for r in result] == [
        ("hazard_report", 2, True, "hazard_report.bpmn")
    ]
    latest = latest_version(session, "hazard_report")
    assert latest is not None and latest.version == 2
    assert "登记查重（新版）" in latest.bpmn_xml
    assert [(r.version, r.created) for r in deploy_file(session, changed, load_routing())] == [(2, False)]
    redeployed = deploy_paths(session, [BPMN_DIR], load_routing())
    assert [(r.key, r.version, r.created) for r in redeployed] == [
        ("hardship_aid", 1, True),
        ("hazard_report", 1, False),
        ("honour_nomination", 1, True),
        ("studio_naming", 1, True),
        ("supervision", 1, True),
    ]
    assert latest_version(session, "nothing_deployed") is None


def test_running_cases_stay_on_their_version(world: Session, tmp_path: Path) -> None:
    v1 = latest_version(world, "hazard_report")
    assert v1 is not None and v1.version == 1
    old = start_report(world)
    assert open_task(world, old, "register_report").title == "登记查重"

    [result] = deploy_file(world, changed_hazard(tmp_path), load_routing())
    assert (result.version, result.created) == (2, True)
    v2 = latest_version(world, "hazard_report")
    assert v2 is not None and v2.version == 2

    new = start_report(world, location="二号仓库消防通道")
    assert new.process_version_id == v2.id
    assert open_task(world, new, "register_report").title == "登记查重（新版）"

    # The old case runs its own version to the end.
    complete(world, "ganjingzi1", old, "register_report", {"decision": "受理", **OPINION})
    assert open_task(world, old, "triage").title == "分级研判"
    complete(world, "jingji1", old, "triage", {"triage_level": "一般", **OPINION})
    complete(
        world,
        "ganjingzi1",
        old,
        "verify",
        {
            "inspection_date": "2026-11-20",
            "inspectors": "马晓东、朱丽",
            "verification_result": "不属实",
            "hazard_level": "一般",
            "reporter_responsible": "false",
            "evidence": "现场核查，配电箱完好。",
            **OPINION,
        },
    )
    assert open_steps(world, old) == ["feedback_close"]
    complete(
        world,
        "ganjingzi1",
        old,
        "feedback_close",
        {"feedback_date": "2026-12-03", "feedback_channel": "电话", "feedback_content": "已告知处理结果。", **OPINION},
    )
    assert old.status == InstanceStatus.COMPLETED
    assert old.process_version_id == v1.id
    assert new.process_version_id == v2.id


# --- flask deploy -------------------------------------------------------------------------------------------------


FlaskCommand = Callable[..., Result]


@pytest.fixture
def flask(fresh_database_url: str) -> Iterator[FlaskCommand]:
    """`flask --app webapp ...` against a fresh database that `flask init-db` prepared.

    The commands are plain click commands that rely on the `flask` group to push the app context (as it does in
    production), so they are invoked through a FlaskGroup rather than through `app.cli` directly.
    """
    from webapp import create_app
    from webapp.database import engine

    app = create_app({"TESTING": True, "DATABASE_URL": fresh_database_url})
    runner = app.test_cli_runner()
    group = FlaskGroup(create_app=lambda: app)

    def invoke(*args: str) -> Result:
        return runner.invoke(group, list(args))

    result = invoke("init-db")
    assert result.exit_code == 0, result.output
    assert "hazard_report.bpmn: hazard_report v1（新版本）" in result.stdout
    yield invoke
    engine(app).dispose()


def test_cli_redeploying_bpmn_reports_unchanged(flask: FlaskCommand, tmp_path: Path) -> None:
    result = flask("deploy", str(BPMN_DIR))
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        "hardship_aid.bpmn: hardship_aid v1（未变化）",
        "hazard_report.bpmn: hazard_report v1（未变化）",
        "honour_nomination.bpmn: honour_nomination v1（未变化）",
        "studio_naming.bpmn: studio_naming v1（未变化）",
        "supervision.bpmn: supervision v1（未变化）",
    ]


def test_cli_deploys_a_changed_file_as_a_new_version(flask: FlaskCommand, tmp_path: Path) -> None:
    result = flask("deploy", str(changed_hazard(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "hazard_report.bpmn: hazard_report v2（新版本）" in result.output


def test_cli_refuses_a_broken_file_naming_file_and_problem(flask: FlaskCommand, tmp_path: Path) -> None:
    broken = hazard_copy(tmp_path, "hazard-triage-schema.json", "hazard-missing-schema.json", "broken_hazard.bpmn")
    result = flask("deploy", str(broken))
    assert result.exit_code != 0
    assert "部署失败" in result.stderr
    assert "broken_hazard.bpmn" in result.stderr
    assert "triage" in result.stderr and "hazard-missing-schema.json" in result.stderr
    assert "新版本" not in result.stdout


def test_cli_deploy_is_all_or_nothing(flask: FlaskCommand, tmp_path: Path) -> None:
    """A good file deployed in the same command as a broken one is not stored either."""
    good = changed_hazard(tmp_path)
    broken = hazard_copy(tmp_path, 'name="市总工会财务部"', 'name="市总工会后勤部"', "broken_hazard.bpmn")
    result = flask("deploy", str(good), str(broken))
    assert result.exit_code != 0
    assert "broken_hazard.bpmn" in result.stderr and "市总工会后勤部" in result.stderr
    again = flask("deploy", str(good))
    assert again.exit_code == 0
    assert "hazard_report.bpmn: hazard_report v2（新版本）" in again.output


def test_cli_deploy_of_a_missing_path_is_a_usage_error(flask: FlaskCommand, tmp_path: Path) -> None:
    result = flask("deploy", str(tmp_path / "nope.bpmn"))
    assert result.exit_code == 2
    assert "nope.bpmn" in result.output
