"""Documents of the aid list (issue #6 records): review summary, payment roster, reconciliation, per-worker record."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("aid_documents", __name__, url_prefix="/aid")
