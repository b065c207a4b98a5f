"""Languages (issue #3): Chinese by default, English selectable per session.

Message ids are the Chinese texts themselves, so the default locale needs no catalogue; `webapp/translations/en`
holds the English one. Officials whose browser asks for English still get Chinese unless they choose English:
the system speaks the language of the federation, not of the browser.
"""

from __future__ import annotations

from typing import Any

from babel import Locale
from babel.support import NullTranslations
from flask import Blueprint, Flask, g, has_app_context, redirect, request, session, url_for
from flask_babel import Babel, get_translations
from werkzeug.wrappers import Response

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LOCALE


# Parsed once: Babel parses a locale name anew on every request (it normalises the name against all ~700 locales it
# knows, twice), and returns a Locale it is given as it is.
_LOCALES = {code: Locale.parse(code) for code in LANGUAGES}


def select_parsed_locale() -> Locale:
    return _LOCALES[select_locale()]


def init_app(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    Babel(app, locale_selector=select_parsed_locale)
    # The templates' gettext resolves the request's catalogue once (issue #9: flask_babel resolves the domain, the
    # locale and the catalogue on every call, ~25 µs; a task list's page calls it ~100 times, a tenth of its time).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
    )
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
    app.jinja_env.globals["current_language"] = select_locale


def request_translations() -> NullTranslations:
    """The catalogue of the request's locale, looked up again only when the locale changes (flask_babel's
    force_locale, as the Chinese PDFs of an English session use, sets another Locale object for its block)."""
    if not has_app_context():
        return get_translations()
    babel_context = g.get("_flask_babel")
    locale = getattr(babel_context, "babel_locale", None)
    cached: tuple[object, NullTranslations] | None = g.get("_translations")
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()  # sets the context's locale when the request had none yet
    g._translations = (getattr(g.get("_flask_babel"), "babel_locale", None), translations)
    return translations


def gettext(string: str, **variables: Any) -> str:
    """flask_babel.gettext through the request's catalogue (`request_translations`): for the helpers a page calls
    for every row (light labels) or on every page (the navigation)."""
    text = request_translations().ugettext(string)
    return text % variables if variables else text


@bp.route("/lang/<code>", methods=["POST"])
def choose_language(code: str) -> Response:
    if code in LANGUAGES:
        session["lang"] = code
    target = request.form.get("next") or ""
    # Only paths on this site, never an absolute URL someone slipped into the form.
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("inbox.index")
    return redirect(target)
