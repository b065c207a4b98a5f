"""BPMN scripts run restricted (DESIGN §5; issue #5): the known sandbox escapes are refused, normal policy scripts run.

Not covered, because nothing bounds it: CPU time. `while True: pass` or `int(Decimal("9e999999"))` (~40 s) in a
deployed diagram would hold a worker; there is no script timeout (see `workflows.engine.scripting`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

from workflows.engine.script_functions import SCRIPT_FUNCTIONS
from workflows.engine.scripting import (
    MAX_INT_BITS,
    MAX_SEQUENCE_LENGTH,
    RestrictedEnvironment,
    check_source,
    make_script_engine,
)

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


# (script, where it is refused, what the refusal says). "deploy": `check_source` (so deployment) refuses it;
# "run": it compiles (nothing static shows the danger) and fails at run time in a guard.
KNOWN_ESCAPES = {
    "subclasses": ("x = ().__class__.__base__.__subclasses__()", "deploy", "__class__"),
    "getattr dunder": ("x = getattr(1, '__class__')", "deploy", "getattr"),
    "getattr private": ("x = getattr(end_of_day, '_x', 1)", "deploy", "getattr"),
    "str.format attribute": ("x = '{0.__class__}'.format(1)", "run", "format"),
    "str.format globals": ("x = '{0.__globals__}'.format(end_of_day)", "run", "format"),
    "str.format_map": ("x = '{a.__globals__}'.format_map({'a': end_of_day})", "run", "format"),
    "str.format bound": ("f = '{0.__globals__}'.format\nx = f(end_of_day)", "deploy", "format"),
    "str.format item": ("x = '{0[__builtins__]}'.format({})", "run", "format"),
    "f-string dunder": ("x = f'{end_of_day.__globals__}'", "deploy", "__globals__"),
    "f-string class": ("x = f'{(1).__class__}'", "deploy", "__class__"),
    "generator frame": ("x = (y for y in []).gi_frame.f_back.f_globals", "deploy", "gi_frame|f_back|f_globals"),
    "generator code": ("def g():\n    yield 1\nx = g().gi_code", "deploy", "gi_code"),
    "coroutine": ("async def g():\n    pass\nx = g().cr_frame", "deploy", "AsyncFunctionDef"),
    "__import__": ("x = __import__('os')", "deploy", "__import__"),
    "import": ("import os\nx = os.getcwd()", "deploy", "import"),
    "from import": ("from os import path\nx = path", "deploy", "import"),
    "open": ("x = open('/etc/passwd').read()", "deploy", "open"),
    "eval": ("x = eval('1+1')", "deploy", "Eval"),
    "exec": ("exec('x = 1')", "deploy", "Exec"),
    "compile": ("x = compile('1', 'f', 'eval')", "deploy", "compile"),
    "globals": ("x = globals()", "deploy", "globals"),
    "locals": ("x = locals()", "deploy", "locals"),
    "vars": ("x = vars(end_of_day)", "deploy", "vars"),
    "dir": ("x = dir(end_of_day)", "deploy", "dir"),
    "type three-arg": ("C = type('C', (), {})\nx = C()", "deploy", "type"),
    "type mro": ("x = type.mro(type)", "run", "type"),
    "class statement": ("class A:\n    pass\nx = A", "deploy", "类"),
    "__builtins__": ("x = __builtins__['__import__']", "deploy", "__builtins__"),
    "lambda code": ("f = lambda: 1\nx = f.__code__", "deploy", "__code__"),
    "closure cells": ("def g():\n    a = 1\n    return lambda: a\nx = g().__closure__", "deploy", "__closure__"),
    "function globals": ("x = end_of_day.__globals__", "deploy", "__globals__"),
    "wrapped": ("x = hazard_reward_suggestion.__wrapped__", "deploy", "__wrapped__"),
    "private attribute": ("x = end_of_day._private", "deploy", "_private"),
    "module of Decimal": ("x = Decimal.__module__", "deploy", "__module__"),
    "traceback frame": ("try:\n    1 / 0\nexcept Exception as e:\n    x = e.__traceback__", "deploy", "__traceback__"),
    "reduce": ("x = (1).__reduce_ex__(2)", "deploy", "__reduce_ex__"),
    "match class pattern": ("match end_of_day:\n    case object(__globals__=g):\n        x = g", "deploy", "Match"),
    "setattr": ("setattr(end_of_day, 'x', 1)\nx = 1", "run", "attribute-less"),
    "delattr": ("delattr(end_of_day, '__doc__')\nx = 1", "run", "attribute-less"),
    "attribute assignment": ("end_of_day.x = 1\nx = 1", "run", "attribute-less"),
    "huge string": ("x = 'a' * 10**10", "run", "过大"),
    "huge string reversed": ("x = 10**10 * 'a'", "run", "过大"),
    "huge list": ("x = [0] * 10**10", "run", "过大"),
    "huge augmented": ("x = 'a'\nx *= 10**10", "run", "过大"),
    "huge power": ("x = 10**10**10", "run", "过大"),
    "huge pow builtin": ("x = pow(10, 10**10)", "run", "过大"),
    "huge shift": ("x = 1 << 10**10", "run", "过大"),
    "squaring loop": ("x = 2\nfor i in range(40):\n    x = x * x", "run", "过大"),
    "huge range": ("x = list(range(10**10))", "run", "过大"),
}


@pytest.mark.parametrize(("script", "stage", "message"), KNOWN_ESCAPES.values(), ids=KNOWN_ESCAPES.keys())
def test_known_escape_is_refused(tmp_path: Path, script: str, stage: str, message: str) -> None:
    """Each escape fails with its own reason, never runs; "deploy" ones are refused by the deployment check already."""
    assert bool(check_source(script)) is (stage == "deploy"), check_source(script)
    with pytest.raises(WorkflowTaskException, match=message):
        run_script(tmp_path, script)


@pytest.mark.parametrize("expression", ["'{0.__class__}'.format(1)", "'a' * 10**10", "2 ** 10**10", "open"])
def test_expressions_are_restricted_like_scripts(expression: str) -> None:
    """Gateway conditions and due expressions go through `evaluate`, which has the same guards."""
    with pytest.raises(Exception) as refused:
        make_script_engine().environment.evaluate(expression, {})
    assert not isinstance(refused.value, SyntaxError)


def test_task_data_cannot_replace_the_guards() -> None:
    """`evaluate` lets task data shadow globals (SpiffWorkflow's order); names starting with `_` are kept ours."""
    environment = RestrictedEnvironment(SCRIPT_FUNCTIONS)
    hostile = {"_getattr_": getattr, "_mul_": lambda a, b: a * b, "__builtins__": {"open": open}}
    with pytest.raises(NotImplementedError, match="format"):
        environment.evaluate("'{0.__class__}'.format(1)", dict(hostile))
    with pytest.raises(ValueError, match="过大"):
        environment.evaluate("'a' * 10**10", dict(hostile))
    with pytest.raises(NameError, match="open"):
        environment.evaluate("open", dict(hostile))


def test_arithmetic_within_the_limits_still_works(tmp_path: Path) -> None:
    data = run_script(
        tmp_path,
        "total = 0\nfor n in range(5):\n    total += n\n"
        "label = '-' * 3\nlabel += '>'\npower = 2 ** 100\nshifted = 1 << 10\nby_pow = pow(3, 4, 5)\n"
        f"edge = len('a' * {MAX_SEQUENCE_LENGTH})\nwide = (2 ** {MAX_INT_BITS - 1}).bit_length()\n"
        "money = str(Decimal('12.50') * 3)\nitems = [1]\nitems += [2]",
    )
    assert data["total"] == 10 and data["label"] == "--->" and data["power"] == 2**100
    assert data["shifted"] == 1024 and data["by_pow"] == 1 and data["edge"] == MAX_SEQUENCE_LENGTH
    assert data["wide"] == MAX_INT_BITS and data["money"] == "37.50" and data["items"] == [1, 2]


def test_registered_functions_hand_out_plain_data_only() -> None:
    """A registered function exposes no public attribute (only dunders, which RestrictedPython blocks) and
    returns str/bool/dict values, so no script reaches a module's globals through them."""
    for name, function in SCRIPT_FUNCTIONS.items():
        if name == "Decimal":
            continue
        assert [attr for attr in dir(function) if not attr.startswith("_")] == [], name
    # Decimal's public attributes are its methods and nothing that leads to the decimal module or its context.
    for attr in dir(SCRIPT_FUNCTIONS["Decimal"]):
        if not attr.startswith("_"):
            assert callable(getattr(SCRIPT_FUNCTIONS["Decimal"], attr)) or attr in {"real", "imag"}, attr
    reward = SCRIPT_FUNCTIONS["hazard_reward_suggestion"]("属实", "重大", False, False, {"major": "3000"})
    assert {type(value) for value in reward.values()} <= {str, bool}
    assert isinstance(SCRIPT_FUNCTIONS["end_of_day"]("2026-12-01"), str)
    assert SCRIPT_FUNCTIONS["countersign_decided"]([], 2, "all") in (True, False)


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
