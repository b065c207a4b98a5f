"""BPMN scripts run restricted (DESIGN §5): the known sandbox escape is blocked, normal policy scripts run."""

from __future__ import annotations

from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from workflows.engine.scripting import check_source, make_script_engine

SCRIPT_PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="scripted" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="script"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:script><![CDATA[{script}]]></bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="end"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="script" />
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="end" />
  </bpmn:process>
</bpmn:definitions>
"""


def run_script(tmp_path: Path, script: str) -> dict[str, object]:
    path = tmp_path / "scripted.bpmn"
    path.write_text(SCRIPT_PROCESS.replace("{script}", script), encoding="utf-8")
    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(path))
    workflow = BpmnWorkflow(parser.get_spec("scripted"), {}, script_engine=make_script_engine())
    workflow.do_engine_steps()
    assert workflow.is_completed()
    return dict(workflow.data)


ESCAPE = "escaped = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen']"


def test_subclasses_escape_is_blocked(tmp_path: Path) -> None:
    with pytest.raises(WorkflowTaskException, match=r"__subclasses__|__class__|__base__"):
        run_script(tmp_path, ESCAPE)


@pytest.mark.parametrize(
    "script",
    ["import os\nx = os.getcwd()", "x = open('/etc/passwd').read()", "x = __import__('os')", "x = eval('1+1')"],
)
def test_dangerous_builtins_are_unavailable(tmp_path: Path, script: str) -> None:
    with pytest.raises(WorkflowTaskException):
        run_script(tmp_path, script)


def test_policy_scripts_run_and_call_registered_functions(tmp_path: Path) -> None:
    data = run_script(
        tmp_path,
        "tiers = {'general.true': '500', 'general.basically_true': '300', 'major': '3000'}\n"
        "reward = hazard_reward_suggestion('属实', '重大', False, False, tiers)\n"
        "total = sum([1, 2, 3])\n"
        "due = end_of_day('2026-12-01')",
    )
    reward = data["reward"]
    assert isinstance(reward, dict)
    assert reward["eligible"] is True and reward["max_amount"] == "3000.00" and reward["reason"]
    assert data["total"] == 6
    assert data["due"] == "2026-12-01T15:59:59+00:00"


def test_check_source_names_unknown_functions_and_rejected_code() -> None:
    assert check_source("x = hazard_reward_suggestion('属实', '一般', False, False, {})") == []
    assert check_source("x = os_system('rm -rf /')") == ["调用了未登记的函数：os_system"]
    assert check_source(ESCAPE) and "安全检查" in check_source(ESCAPE)[0]
    assert check_source("reward_eligible and hazard_level == '重大'", mode="eval") == []
