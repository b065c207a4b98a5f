"""Restricted execution of BPMN scripts and expressions (DESIGN §5; issue #5 "script tasks cannot escape").

SpiffWorkflow's TaskDataEnvironment runs plain exec/eval; swapping in `safe_globals` only removes builtins and is
escapable through `().__class__.__base__.__subclasses__()`. Compiling with RestrictedPython blocks dunder and
`_private` access, frame/generator attributes and `str.format`; `tests/test_scripting.py` lists the known escapes.

On top of RestrictedPython (issue #5):
- `import` and `class` are refused at compile time, so deployment rejects them instead of failing at run time.
- `*`, `**` and `<<` (and their augmented forms) go through guards that refuse a result that would be huge
  (`"a" * 10**10`, `10**10**10`); `pow` and `range` are guarded likewise. RestrictedPython limits none of this.
- NOT bounded: CPU time (`while True: pass`; `int(Decimal("9e999999"))` takes ~40 s) and memory grown step by
  step in a loop or through string methods and %-formatting (`s.ljust(10**9)`, `"%*d" % (10**9, 1)`); there is no
  script timeout. Scripts come from deployed diagrams, which only a server operator can deploy.
"""

from __future__ import annotations

import ast
import builtins
import math
import operator
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from types import CodeType
from typing import Any

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_eval, compile_restricted_exec, safe_globals
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, safer_getattr
from RestrictedPython.transformer import copy_locations
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from workflows.engine.script_functions import SCRIPT_FUNCTIONS


class ScriptRejected(ValueError):
    """A script or expression that RestrictedPython refuses to compile."""


# Ceilings for one arithmetic result: far above any policy calculation, far below what hurts a worker.
MAX_SEQUENCE_LENGTH = 1_000_000
MAX_INT_BITS = 4096


class ScriptLimitExceeded(ValueError):
    """A script operation whose result would exceed MAX_SEQUENCE_LENGTH or MAX_INT_BITS."""


def _too_big(what: str) -> ScriptLimitExceeded:
    return ScriptLimitExceeded(f"脚本运算结果过大（{what}），已拒绝")


def _check_repeat(sequence: Any, times: Any) -> None:
    repeats = isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int)
    if repeats and len(sequence) * max(times, 0) > MAX_SEQUENCE_LENGTH:
        raise _too_big(f"长度超过 {MAX_SEQUENCE_LENGTH}")


def _check_int_bits(bits: int) -> None:
    if bits > MAX_INT_BITS:
        raise _too_big(f"整数超过 {MAX_INT_BITS} 位")


def guarded_mul(left: Any, right: Any) -> Any:
    """`left * right`, refusing a huge repetition or integer."""
    _check_repeat(left, right)
    _check_repeat(right, left)
    if type(left) is int and type(right) is int:
        _check_int_bits(left.bit_length() + right.bit_length())
    return left * right


def guarded_pow(base: Any, exponent: Any, modulus: Any = None) -> Any:
    """`base ** exponent` (and the `pow` builtin): an integer power is bounded by MAX_INT_BITS."""
    if modulus is None and isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _check_int_bits(math.ceil(exponent * math.log2(abs(base))))
    return pow(base, exponent) if modulus is None else pow(base, exponent, modulus)


def guarded_lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and left:
        _check_int_bits(left.bit_length() + right)
    return left << right


def guarded_range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_SEQUENCE_LENGTH:
        raise _too_big(f"range 长度超过 {MAX_SEQUENCE_LENGTH}")
    return result


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": guarded_mul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": guarded_pow,
    "<<=": guarded_lshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}


def guarded_inplacevar(op: str, target: Any, value: Any) -> Any:
    """RestrictedPython rewrites `n += 1` to `n = _inplacevar_("+=", n, 1)`; without it `+=` fails at run time."""
    if op not in _INPLACE:
        raise ScriptRejected(f"不支持的运算：{op}")
    return _INPLACE[op](target, value)


class _PolicyTransformer(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus: no import, no class, and `*` `**` `<<` routed through the guards."""

    _GUARDED_OPS: dict[type[ast.operator], str] = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_"}

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "不允许 import 语句")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, "不允许 import 语句")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "不允许定义类")
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = self._GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(guard, ast.Load()), args=[node.left, node.right], keywords=[])
        copy_locations(call, node)
        return call


_GUARDS: dict[str, Any] = {
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_iter_unpack_sequence,
    "_inplacevar_": guarded_inplacevar,
    "_mul_": guarded_mul,
    "_pow_": guarded_pow,
    "_lshift_": guarded_lshift,
}

# Builtins a policy script may use besides RestrictedPython's safe set.
_EXTRA_BUILTINS = ("min", "max", "sum", "any", "all", "sorted", "enumerate", "dict", "list", "set")


def _restricted_globals(functions: Mapping[str, Callable[..., Any]]) -> dict[str, Any]:
    globals_: dict[str, Any] = dict(safe_globals)
    restricted_builtins = dict(globals_["__builtins__"])
    for name in _EXTRA_BUILTINS:
        restricted_builtins[name] = getattr(builtins, name)
    restricted_builtins["pow"] = guarded_pow
    restricted_builtins["range"] = guarded_range
    globals_["__builtins__"] = restricted_builtins
    globals_.update(_GUARDS)
    globals_.update(functions)
    return globals_


@lru_cache(maxsize=2048)
def _compile_exec(script: str) -> CodeType:
    result = compile_restricted_exec(script, policy=_PolicyTransformer)
    if result.errors or result.code is None:
        raise ScriptRejected("脚本被安全检查拒绝：" + "; ".join(result.errors))
    return result.code


@lru_cache(maxsize=4096)
def _compile_eval(expression: str) -> CodeType:
    result = compile_restricted_eval(expression, policy=_PolicyTransformer)
    if result.errors or result.code is None:
        raise ScriptRejected("表达式被安全检查拒绝：" + "; ".join(result.errors))
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    def __init__(self, functions: Mapping[str, Callable[..., Any]]):
        super().__init__(_restricted_globals(functions))
        self._protected = {name: value for name, value in self.globals.items() if name.startswith("_")}

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        my_globals = dict(self.globals)
        my_globals.update(external_context or {})
        my_globals.update(context)
        # Task data comes after the globals here (SpiffWorkflow's order), so a data key named like a guard
        # (`_getattr_`, `__builtins__`) must not replace it; scripts cannot name `_` variables themselves.
        my_globals.update(self._protected)
        return eval(_compile_eval(expression), my_globals)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        self.check_for_overwrite(context, external_context or {})
        code = _compile_exec(script)
        context.update(self.globals)
        context.update(external_context or {})
        context.update(self._protected)  # data objects must not replace a guard either
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
