"""Cases: /api/v1/instances/<id> (marks a copy to the reader read) and its approval record as PDF."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request
from sqlalchemy.exc import IntegrityError, OperationalError

from webapp.api.auth import api_user
from webapp.api.shapes import Shapes
from webapp.database import get_session
from workflows.copies import mark_copy_read
from workflows.queries import visible_case
from workflows.routing import load_routing


def register(bp: Blueprint) -> None:
    @bp.get("/instances/<int:instance_id>")
    def get_instance(instance_id: int) -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        instance = visible_case(session, user, instance_id, routing)
        answer = Shapes(session, user, routing).instance(instance)
        # Reading a case copied to one (抄送我) marks the copy read, as opening its page does.
        if mark_copy_read(session, user, instance.id):
            session.commit()
        return jsonify(answer)

    @bp.get("/instances/<int:instance_id>/record.pdf")
    def get_record_pdf(instance_id: int) -> Response:
        # Imported here: the PDF stack (WeasyPrint, fonts) loads only when a record is actually printed.
        from webapp.records import render_record_pdf

        session, user, routing = get_session(), api_user(), load_routing()
        instance = visible_case(session, user, instance_id, routing)
        # The renderer registers the printed record's hash (an audit event, for its QR verification page). A GET
        # takes no write lock before reading the audit chain's tail, so a concurrent event can win the race: then
        # render and register once more on fresh state, as the web route does.
        for attempt in range(2):
            try:
                pdf = render_record_pdf(session, instance, request.url_root, actor_id=user.id)
                session.commit()
                break
            except (IntegrityError, OperationalError):
                session.rollback()
                if attempt == 1:
                    raise
        filename = f"{instance.case_number or instance.id}.pdf"
        return Response(
            pdf,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"},
        )
