"""Sign-in and sign-out with flask-login; repeated failures lock the account for a while (workflows.signin)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from webapp.database import get_session
from webapp.formatting import beijing_datetime
from workflows.db import utcnow
from workflows.models import OrgUnit, Role, User
from workflows.signin import SignInPolicy, sign_in

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("请先登录")


class CurrentUser(UserMixin):
    """The signed-in official; wraps the model so flask-login's attributes stay out of the workflow layer."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


@login_manager.user_loader
def load_user(user_id: str) -> CurrentUser | None:
    # Unit (with its departments: the navigation asks whether it has any) and department in the same query:
    # permission checks on every page read them (issue #9).
    options = [joinedload(User.org_unit).joinedload(OrgUnit.departments), joinedload(User.department)]
    user = get_session().get(User, int(user_id), options=options)
    return CurrentUser(user) if user is not None and user.active and user.role != Role.SERVICE else None


def init_app(app: Flask) -> None:
    app.config.setdefault("LOGIN_MAX_FAILURES", SignInPolicy.max_failures)
    app.config.setdefault("LOGIN_LOCK_MINUTES", int(SignInPolicy.lock.total_seconds() // 60))
    login_manager.init_app(app)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if request.method == "POST":
        session = get_session()
        policy = SignInPolicy(
            max_failures=int(current_app.config["LOGIN_MAX_FAILURES"]),
            lock=timedelta(minutes=int(current_app.config["LOGIN_LOCK_MINUTES"])),
        )
        result = sign_in(session, request.form.get("username", ""), request.form.get("password", ""), utcnow(), policy)
        # The failure count is state too: commit it whether or not the password was right.
        session.commit()
        if result.user is not None:
            login_user(CurrentUser(result.user))
            return redirect(_safe_next(request.args.get("next")))
        if result.locked_until is not None:
            flash(_("登录失败次数过多，账户已锁定至 %(until)s", until=beijing_datetime(result.locked_until)))
        else:
            flash(_("用户名或密码错误"))
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    return redirect(url_for("auth.login"))
