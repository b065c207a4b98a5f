"""URL rules whose builders are compiled once per process, not once per app.

Werkzeug compiles two URL builder functions for every rule when an app registers it (an AST turned into code): 60 of
the ~70 ms `create_app` takes for 116 rules. A server creates one app per process, but the test suite creates one
per web test. A builder's code depends only on the rule (its text, parsed parts and converters' arguments), its
defaults and whether unknown arguments are appended as a query string; it reads the rule's converters through its
`self` argument at call time. So equal rules of different apps share one compiled builder. tests/test_url_rules.py
holds every route's URLs equal to what plain Werkzeug rules build, so a Werkzeug release that changes what the
builder depends on fails there first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, ClassVar

from werkzeug.routing import Rule

Builder = Callable[..., tuple[str, str]]


class SharedBuilderRule(Rule):
    _builders: ClassVar[dict[tuple[Any, ...], Builder]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def _compile_builder(self, append_unknown: bool = True) -> Builder:
        defaults = self.defaults or {}
        key = (
            self.rule,  # its converters' arguments (`int(fixed_digits=4)`) shape the defaults baked into the builder
            tuple(self._trace),
            tuple(sorted((name, repr(value), type(self._converters.get(name)).__name__)
                         for name, value in defaults.items())),
            append_unknown,
        )  # fmt: skip
        builder = self._builders.get(key)
        if builder is None:
            builder = super()._compile_builder(append_unknown)
            with self._lock:
                self._builders.setdefault(key, builder)
        return builder
