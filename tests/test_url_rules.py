"""Every route builds the URLs plain Werkzeug rules build, though its builders are shared (webapp/url_rules.py)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import Map, Rule

from webapp.url_rules import SharedBuilderRule

SAMPLES: dict[str, Any] = {
    "IntegerConverter": 7,
    "DatabaseIdConverter": 42,
    "UnicodeConverter": "甘井子区/a b",
    "PathConverter": "a/b c",
}


def sample_values(rule: Rule) -> dict[str, Any]:
    return {name: SAMPLES.get(type(converter).__name__, "x") for name, converter in rule._converters.items()}


def test_every_route_builds_what_a_plain_rule_builds(app: Flask) -> None:
    shared = [rule for rule in app.url_map.iter_rules() if isinstance(rule, SharedBuilderRule)]
    assert len(shared) > 100  # every route but Flask's static one
    plain_map = Map(converters=app.url_map.converters)
    for rule in shared:
        plain = Rule(rule.rule, endpoint=rule.endpoint, defaults=rule.defaults, methods=rule.methods)
        plain_map.add(plain)
        values = sample_values(rule)
        for append_unknown in (False, True):
            extra = {"page": 2, "q": "红灯 & 黄灯"} if append_unknown else {}
            assert rule.build({**values, **extra}, append_unknown) == plain.build({**values, **extra}, append_unknown)


def test_a_second_app_reuses_the_first_apps_builders(app: Flask) -> None:
    from webapp import create_app

    other = create_app({**app.config, "TESTING": True})
    first = {rule.rule: rule._build for rule in app.url_map.iter_rules() if isinstance(rule, SharedBuilderRule)}
    second = {rule.rule: rule._build for rule in other.url_map.iter_rules() if isinstance(rule, SharedBuilderRule)}
    assert first.keys() == second.keys()
    assert all(first[key].__func__ is second[key].__func__ for key in first)  # the same compiled function


def test_rules_whose_converter_arguments_differ_do_not_share_a_builder() -> None:
    """A default filling a variable is baked into the builder through the converter: `int(fixed_digits=4)` writes
    5 as 0005, plain `int` as 5 (the review's reproduction)."""
    built = []
    for rule_text in ("/y/<int:year>", "/y/<int(fixed_digits=4):year>"):
        shared = SharedBuilderRule(rule_text, endpoint="year", defaults={"year": 5})
        plain = Rule(rule_text, endpoint="year", defaults={"year": 5})
        Map([shared]), Map([plain])  # binding compiles the builders
        assert shared.build({}, False) == plain.build({}, False)
        built.append(shared.build({}, False))
    assert [url for _domain, url in built] == ["/y/5", "/y/0005"]
