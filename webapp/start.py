"""Start a case (issue #3 §2)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("start", __name__)


@bp.route("/start")
def index() -> str:
    raise NotImplementedError
