"""Compiled templates are shared by the apps of a process (webapp/template_cache.py), never served stale."""

from __future__ import annotations

from typing import Any

from flask import Flask
from jinja2 import DictLoader, Environment

from webapp.template_cache import COMPILED_TEMPLATES, ProcessBytecodeCache, fingerprint


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


def test_an_environment_set_up_differently_compiles_its_own_code() -> None:
    cache = ProcessBytecodeCache()
    sources = {"row.html": "{% if true %}\n<td>甘井子区</td>\n{% endif %}\n"}
    plain = Environment(loader=DictLoader(sources), bytecode_cache=cache)
    trimmed = Environment(loader=DictLoader(sources), bytecode_cache=cache, trim_blocks=True)
    assert plain.get_template("row.html").render() == "\n<td>甘井子区</td>\n"
    assert trimmed.get_template("row.html").render() == "<td>甘井子区</td>\n"  # not the plain environment's code


def test_two_apps_share_their_compiled_templates(app: Flask) -> None:
    from webapp import create_app

    other = create_app({**app.config, "TESTING": True})
    assert fingerprint(app.jinja_env) == fingerprint(other.jinja_env)
