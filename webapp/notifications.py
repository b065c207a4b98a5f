"""通知 (issue #8 §Notifications): the notification centre's page, marking read, the unread count in the top bar,
and the links the e-mails carry (workflows.mailer sends them from the scheduler pass)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from webapp.database import get_session
from workflows.models import Notification, NotificationKind, TaskIndexEntry, TaskStatus, User
from workflows.notification_centre import mark_all_read, mark_read, notification_page, unread_count
from workflows.routing import Action, load_routing, task_actions

bp = Blueprint("notifications", __name__)

# Beyond any real page number; keeps OFFSET within what the database accepts.
MAX_PAGE_ARG = 1_000_000
PLAN_ITEM_ENDPOINT = "plans.item"


def kind_labels() -> dict[str, str]:
    """The kinds as officials call them (workflows.models.NOTIFICATION_LABELS, translated here)."""
    return {
        NotificationKind.TASK.value: _("新待办"),
        NotificationKind.URGED.value: _("催办"),
        NotificationKind.RETURNED.value: _("退回"),
        NotificationKind.COPIED.value: _("抄送"),
        NotificationKind.DUE_SOON.value: _("临期提醒"),
        NotificationKind.OVERDUE.value: _("超期提醒"),
        NotificationKind.ESCALATED.value: _("督办升级"),
    }


@bp.app_context_processor
def unread_notifications() -> dict[str, Any]:
    """The top bar's 通知 badge: one indexed COUNT per page for a signed-in user, nothing for anyone else."""
    if not current_user.is_authenticated:
        return {}
    return {"notification_unread": unread_count(get_session(), current_user.user)}


def _open_tasks(session: Session, notifications: Iterable[Notification]) -> dict[str, TaskIndexEntry]:
    """The still-open tasks the notifications point at, in one query."""
    task_ids = {n.task_id for n in notifications if n.task_id}
    if not task_ids:
        return {}
    entries = session.scalars(
        select(TaskIndexEntry).where(
            TaskIndexEntry.task_id.in_(task_ids), TaskIndexEntry.status == TaskStatus.READY.value
        )
    )
    return {entry.task_id: entry for entry in entries}


def _plan_item_url(plan_item_id: int, external: bool) -> str | None:
    # The plan pages are another blueprint's (issue #8 dashboard): linked only where the app has them.
    if PLAN_ITEM_ENDPOINT not in current_app.view_functions:
        return None
    try:
        return url_for(PLAN_ITEM_ENDPOINT, plan_item_id=plan_item_id, _external=external)
    except BuildError:
        return None


def link_of(notification: Notification, open_task: TaskIndexEntry | None, *, external: bool = False) -> str:
    """Where a notification leads: its task while open (and visible), else its case, else its plan item."""
    if open_task is not None:
        return url_for("tasks.show", task_id=open_task.task_id, _external=external)
    if notification.instance_id is not None:
        return url_for("cases.show", instance_id=notification.instance_id, _external=external)
    if notification.plan_item_id is not None:
        plan_url = _plan_item_url(notification.plan_item_id, external)
        if plan_url:
            return plan_url
    return url_for("notifications.index", _external=external)


def links_for(session: Session, user: User, notifications: Iterable[Notification]) -> dict[int, str]:
    """Each notification's link for `user`: the task page only while the task is open and theirs to see."""
    listed = list(notifications)
    routing = load_routing()
    open_tasks = _open_tasks(session, listed)
    links = {}
    for notification in listed:
        entry = open_tasks.get(notification.task_id or "")
        visible = entry is not None and Action.VIEW in task_actions(user, entry, routing)
        links[notification.id] = link_of(notification, entry if visible else None)
    return links


def email_link(session: Session, notification: Notification) -> str:
    """The link an e-mail carries (workflows.mailer.LinkBuilder): absolute when BASE_URL is set, else a path.

    Called inside a request context built on BASE_URL (webapp.scheduler); the pages check visibility when opened.
    """
    entry = _open_tasks(session, [notification]).get(notification.task_id or "")
    return link_of(notification, entry, external=bool(current_app.config.get("BASE_URL")))


def _page_arg() -> int:
    try:
        value = int(request.args.get("page", 1))
    except ValueError:
        return 1
    return value if 1 <= value <= MAX_PAGE_ARG else 1


def _kind_arg() -> NotificationKind | None:
    """The kind filter; anything unknown lists every kind, not an error."""
    try:
        return NotificationKind(request.args.get("kind", ""))
    except ValueError:
        return None


@bp.route("/notifications")
@login_required
def index() -> str:
    session = get_session()
    user = current_user.user
    unread_only = request.args.get("unread") == "1"
    kind = _kind_arg()
    listing = notification_page(session, user, unread_only=unread_only, kind=kind, page=_page_arg())
    return render_template(
        "notifications/index.html",
        listing=listing,
        links=links_for(session, user, listing.items),
        labels=kind_labels(),
        unread_only=unread_only,
        kind=kind.value if kind else "",
        active_view="notifications",
    )


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def read(notification_id: int) -> Response:
    session = get_session()
    user = current_user.user
    # NotFound (someone else's notification, or none) becomes the 404 page.
    notification = mark_read(session, user, notification_id)
    session.commit()
    return redirect(links_for(session, user, [notification])[notification.id], 303)


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def read_all() -> Response:
    session = get_session()
    marked = mark_all_read(session, current_user.user)
    session.commit()
    flash(_("已将 %(count)s 条通知标为已读", count=marked), "success")
    return redirect(url_for("notifications.index"), 303)
