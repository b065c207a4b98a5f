"""Compiled templates shared by every app of this process.

A Flask app compiles each Jinja template the first time it renders it: ~20 ms a template here (the 55 templates
take 1.2 s). A server process has one app and pays that once, but the test suite creates an app per test and paid
it again in every web test. Jinja's bytecode cache keeps the compiled code by template name and the checksum of its
source, so an edited template is compiled afresh. What Jinja fixes at compile time beyond the source (extensions,
the i18n extension's style, delimiters, whitespace control, autoescaping, how each filter and test is passed its
context) is part of the key as the environment's fingerprint, so an app set up differently never takes another's
code.
"""

from __future__ import annotations

import threading
from typing import Any

from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache


class ProcessBytecodeCache(BytecodeCache):
    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        key = self.get_cache_key(f"{fingerprint(environment)}\0{name}", filename)
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # dropped by the bucket if the source's checksum changed

    def dump_bytecode(self, bucket: Bucket) -> None:
        code = bucket.bytecode_to_string()
        with self._lock:
            self._code[bucket.key] = code

    def clear(self) -> None:
        with self._lock:
            self._code.clear()


def _passing(function: Any) -> str:
    return str(getattr(function, "jinja_pass_arg", None))


def fingerprint(environment: Environment) -> str:
    """The settings compiled into a template's code besides its source."""
    autoescape = environment.autoescape
    parts = [
        ",".join(sorted(environment.extensions)),
        str(getattr(environment, "newstyle_gettext", None)),
        environment.block_start_string, environment.block_end_string,
        environment.variable_start_string, environment.variable_end_string,
        environment.comment_start_string, environment.comment_end_string,
        str(environment.line_statement_prefix), str(environment.line_comment_prefix),
        str((environment.trim_blocks, environment.lstrip_blocks, environment.keep_trailing_newline)),
        getattr(autoescape, "__qualname__", repr(autoescape)),
        ",".join(f"{name}:{_passing(f)}" for name, f in sorted(environment.filters.items())),
        ",".join(f"{name}:{_passing(f)}" for name, f in sorted(environment.tests.items())),
    ]  # fmt: skip
    return "\0".join(parts)


COMPILED_TEMPLATES = ProcessBytecodeCache()
