"""Compiled templates shared by every app of this process.

A Flask app compiles each Jinja template the first time it renders it: ~20 ms a template here (the 55 templates
take 1.2 s). A server process has one app and pays that once, but the test suite creates an app per test and paid
it again in every web test. Jinja's bytecode cache keeps the compiled code by template name and the checksum of its
source, so an edited template is compiled afresh; every app of the process has the same Jinja settings, so their
compiled code is interchangeable.
"""

from __future__ import annotations

import threading

from jinja2.bccache import Bucket, BytecodeCache


class ProcessBytecodeCache(BytecodeCache):
    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

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


COMPILED_TEMPLATES = ProcessBytecodeCache()
