"""JSON API under /api/v1 (issue #3 §5, DESIGN §9): bearer tokens, the web UI's permission rules, JSON errors.

Each module registers its part on `bp`: auth (the token check before every view), errors (JSON for every error),
processes, tasks and instances (the endpoints), openapi (the document describing them).
"""

from __future__ import annotations

from flask import Blueprint

from webapp.api import auth, errors, instances, openapi, processes, tasks

bp = Blueprint("api", __name__, url_prefix="/api/v1")

for part in (errors, auth, processes, tasks, instances, openapi):
    part.register(bp)
