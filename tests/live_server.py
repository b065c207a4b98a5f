"""A Flask app served on a free loopback port in a thread, for the browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from webapp import database as webapp_database


@contextmanager
def serving(app: Flask, name: str) -> Iterator[str]:
    """Yield the base URL while `app` serves; then stop the server and close the app's database connections."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        webapp_database.engine(app).dispose()
