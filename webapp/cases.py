"""Case page (issue #3 §3). Placeholder: filled in by the case-page work."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("cases", __name__)


@bp.route("/cases/<int:instance_id>")
def show(instance_id: int) -> str:
    raise NotImplementedError
