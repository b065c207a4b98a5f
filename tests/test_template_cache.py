"""Compiled templates are shared by the apps of a process (webapp/template_cache.py), never served stale."""

from __future__ import annotations

from typing import Any

from flask import Flask
from jinja2 import DictLoader, Environment

from webapp.template_cache import COMPILED_TEMPLATES, ProcessBytecodeCache


def test_a_second_environment_takes_the_compiled_code_and_an_edited_source_is_compiled_afresh() -> None:
    cache = ProcessBytecodeCache()
    sources = {"page.html": "<p>{{ name }}：待办 {{ count }} 件</p>"}
    compiled: list[str] = []

    class CountingEnvironment(Environment):
        def compile(self, source: Any, name: Any = None, filename: Any = None, raw: bool = False,
                    defer_init: bool = False) -> Any:  # fmt: skip
            compiled.append(name)
            return super().compile(source, name, filename, raw, defer_init)

    first = CountingEnvironment(loader=DictLoader(sources), bytecode_cache=cache)
    assert first.get_template("page.html").render(name="甘井子区", count=3) == "<p>甘井子区：待办 3 件</p>"
    second = CountingEnvironment(loader=DictLoader(sources), bytecode_cache=cache)
    assert second.get_template("page.html").render(name="中山区", count=1) == "<p>中山区：待办 1 件</p>"
    assert compiled == ["page.html"]  # the second environment loaded the first one's code

    edited = {"page.html": "<p>{{ name }}：已办 {{ count }} 件</p>"}
    third = CountingEnvironment(loader=DictLoader(edited), bytecode_cache=cache)
    assert third.get_template("page.html").render(name="中山区", count=2) == "<p>中山区：已办 2 件</p>"
    assert compiled == ["page.html", "page.html"]


def test_every_app_uses_the_process_cache(app: Flask) -> None:
    assert app.jinja_env.bytecode_cache is COMPILED_TEMPLATES
