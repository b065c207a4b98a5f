"""PDF approval record and its verification page (issue #3 §4). Placeholder."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("records", __name__)
