"""Task pages: open, claim, release, complete (issue #3 §2)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tasks", __name__)


@bp.route("/tasks/<task_id>")
def show(task_id: str) -> str:
    raise NotImplementedError


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
def claim(task_id: str) -> str:
    raise NotImplementedError


@bp.route("/tasks/<task_id>/release", methods=["POST"])
def release(task_id: str) -> str:
    raise NotImplementedError
