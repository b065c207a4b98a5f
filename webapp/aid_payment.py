"""代发 (issue #6 step 7): bank payment files, the bank's result, and the districts' corrections of failed rows."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("aid_payment", __name__, url_prefix="/aid")
