"""Public hazard-report page for workers without accounts (issue #3 §2). Placeholder."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("public", __name__)
