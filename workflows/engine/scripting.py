"""Restricted execution of BPMN scripts and expressions (DESIGN §5).

SpiffWorkflow's TaskDataEnvironment runs plain exec/eval; swapping in `safe_globals` only removes builtins and is
escapable through `().__class__.__base__.__subclasses__()`. Compiling with RestrictedPython blocks dunder access.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_globals
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, safer_getattr
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from workflows.engine.script_functions import SCRIPT_FUNCTIONS


class ScriptRejected(ValueError):
    """A script or expression that RestrictedPython refuses to compile."""


_GUARDS: dict[str, Any] = {
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_iter_unpack_sequence,
}

# Builtins a policy script may use besides RestrictedPython's safe set.
_EXTRA_BUILTINS = ("min", "max", "sum", "any", "all", "sorted", "enumerate", "dict", "list", "set")


def _restricted_globals(functions: Mapping[str, Callable[..., Any]]) -> dict[str, Any]:
    globals_: dict[str, Any] = dict(safe_globals)
    restricted_builtins = dict(globals_["__builtins__"])
    for name in _EXTRA_BUILTINS:
        restricted_builtins[name] = getattr(builtins, name)
    globals_["__builtins__"] = restricted_builtins
    globals_.update(_GUARDS)
    globals_.update(functions)
    return globals_


@lru_cache(maxsize=2048)
def _compile_exec(script: str) -> CodeType:
    result = compile_restricted_exec(script)
    if result.errors or result.code is None:
        raise ScriptRejected("脚本被安全检查拒绝：" + "; ".join(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def _compile_eval(expression: str) -> CodeType:
    result = compile_restricted_eval(expression)
    if result.errors or result.code is None:
        raise ScriptRejected("表达式被安全检查拒绝：" + "; ".join(result.errors))
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self, functions: Mapping[str, Callable[..., Any]]):
        super().__init__(_restricted_globals(functions))

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        return eval(_compile_eval(expression), my_globals)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        code = _compile_exec(script)
        context.update(self.globals)
        context.update(external_context or {})
        try:
            exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True


def make_script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=RestrictedEnvironment(SCRIPT_FUNCTIONS))


_SAFE_CALLABLES = frozenset(dict(safe_globals["__builtins__"])) | frozenset(_EXTRA_BUILTINS)


def unknown_calls(source: str, *, mode: str = "exec") -> list[str]:
    """Names called in `source` that are neither a registered script function nor a safe builtin.

    Method calls on values (`text.strip()`) are allowed; RestrictedPython guards attribute access at run time.
    """
    tree = ast.parse(source, mode=mode)
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    return sorted(called - set(SCRIPT_FUNCTIONS) - _SAFE_CALLABLES)


def check_source(source: str, *, mode: str = "exec") -> list[str]:
    """Problems that would stop `source` from running here: syntax, restriction, unknown functions."""
    try:
        (_compile_exec if mode == "exec" else _compile_eval)(source)
    except (ScriptRejected, SyntaxError) as exc:
        return [str(exc)]
    return [f"调用了未登记的函数：{name}" for name in unknown_calls(source, mode=mode)]


def known_function_names() -> Iterable[str]:
    return SCRIPT_FUNCTIONS.keys()
