"""Sign-in and sign-out with flask-login."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from webapp.database import get_session
from workflows.models import User
from workflows.organisation import authenticate

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"


class CurrentUser(UserMixin):
    """The signed-in official; wraps the model so flask-login's attributes stay out of the workflow layer."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


@login_manager.user_loader
def load_user(user_id: str) -> CurrentUser | None:
    user = get_session().get(User, int(user_id))
    return CurrentUser(user) if user is not None and user.active else None


def init_app(app: Flask) -> None:
    login_manager.init_app(app)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if request.method == "POST":
        user = authenticate(get_session(), request.form.get("username", ""), request.form.get("password", ""))
        if user is not None:
            login_user(CurrentUser(user))
            return redirect(url_for("inbox.index"))
        flash("用户名或密码错误")
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    return redirect(url_for("auth.login"))
