"""Deployed processes and starting a case: /api/v1/processes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from webapp.api.auth import api_user
from webapp.api.body import json_object, object_member
from webapp.api.shapes import Shapes
from webapp.api.transaction import run_action
from webapp.database import get_session
from workflows.engine.deployment import latest_version
from workflows.errors import NotFound
from workflows.models import ProcessVersion, User
from workflows.operations import start_case, version_start_form
from workflows.routing import RoutingTable, can_start, load_routing


def summary(version: ProcessVersion, user: User, routing: RoutingTable) -> dict[str, Any]:
    info = routing.processes.get(version.process_key)
    return {
        "key": version.process_key,
        "name": info.title if info is not None else version.name,
        "version": version.version,
        "can_start": info is not None and can_start(user, info),
    }


def deployed(session: Session, key: str) -> ProcessVersion:
    version = latest_version(session, key)
    if version is None:
        raise NotFound(_("流程不存在或未部署：%(key)s", key=key))
    return version


def register(bp: Blueprint) -> None:
    @bp.get("/processes")
    def list_processes() -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        keys = session.scalars(select(ProcessVersion.process_key).distinct().order_by(ProcessVersion.process_key))
        return jsonify([summary(deployed(session, key), user, routing) for key in keys])

    @bp.get("/processes/<key>")
    def get_process(key: str) -> Response:
        session, user, routing = get_session(), api_user(), load_routing()
        version = deployed(session, key)
        form = version_start_form(version)
        return jsonify({**summary(version, user, routing), "start_form": form.schema if form is not None else None})

    @bp.post("/processes/<key>/instances")
    def start_instance(key: str) -> tuple[Response, int, dict[str, str]]:
        routing = load_routing()
        deployed(get_session(), key)
        if key not in routing.processes:  # deployed before its routing entry was removed: nobody may start it
            raise NotFound(_("流程不存在或未部署：%(key)s", key=key))
        data = object_member(json_object(), "data")

        def action(session: Session, user: User) -> dict[str, Any]:
            instance = start_case(session, user, key, data, routing=routing)
            return Shapes(session, user, routing).instance(instance)

        created = run_action(action)
        return jsonify(created), 201, {"Location": url_for("api.get_instance", instance_id=created["id"])}
