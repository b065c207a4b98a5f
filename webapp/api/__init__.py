"""JSON API under /api/v1 (issue #3 §5, DESIGN §9): bearer tokens, the web UI's permission rules, JSON errors.

Each module registers its part on `bp`: auth (the token check before every view), errors (JSON for every error),
processes, tasks and instances (the endpoints), handling (转办, 退回, 撤回, 加签, 催办, 批量审批), casework (抄送,
comments, attachments), personal (抄送我, 委托, 常用语), openapi (the document describing them).
"""

from __future__ import annotations

from flask import Blueprint

from webapp.api import auth, casework, errors, handling, instances, openapi, personal, processes, tasks

bp = Blueprint("api", __name__, url_prefix="/api/v1")

for part in (errors, auth, processes, tasks, handling, instances, casework, personal, openapi):
    part.register(bp)
