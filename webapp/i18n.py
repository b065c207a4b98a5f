"""Languages (issue #3): Chinese by default, English selectable per session.

Message ids are the Chinese texts themselves, so the default locale needs no catalogue; `webapp/translations/en`
holds the English one. Officials whose browser asks for English still get Chinese unless they choose English:
the system speaks the language of the federation, not of the browser.
"""

from __future__ import annotations

from flask import Blueprint, Flask, redirect, request, session, url_for
from flask_babel import Babel
from werkzeug.wrappers import Response

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = select_locale


@bp.route("/lang/<code>", methods=["POST"])
def choose_language(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    target = request.form.get("next") or ""
    # Only paths on this site, never an absolute URL someone slipped into the form.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("inbox.index")
    return redirect(target)
