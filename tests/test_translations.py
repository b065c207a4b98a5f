"""The English catalogue (issue #3): complete, compiled, faithful to placeholders, and actually served.

Message ids are the Chinese texts, so a string someone wraps in `_()` without translating it would silently show
Chinese to English users; these tests name such strings instead. The .mo is committed (a fresh clone runs without a
compile step), so it must be rebuilt whenever the .po changes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from flask import Flask, render_template_string
from flask import session as flask_session
from flask.testing import FlaskClient
from flask_babel import force_locale

from tests.conftest import AuthActions

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES"
HAN = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")  # Han characters and full-width punctuation
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]")
NAV_LABELS = ("待办", "部门待办", "已办", "我发起", "发起", "退出")
# Flask-Babel's lazy_gettext (module-level texts such as flask-login's message) is not among babel's default keywords.
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None}


def _extracted_ids() -> set[str]:
    """Every msgid in the current sources, extracted as `pybabel extract -F babel.cfg -k lazy_gettext` does."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        # ngettext yields (singular, plural); the catalogue keys plural entries by the singular.
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def _po() -> Catalog:
    with (MESSAGES / "messages.po").open("rb") as po:
        return read_po(po, locale="en")


def _strings(string: str | Sequence[str] | None) -> tuple[str, ...]:
    if string is None:
        return ("",)
    return (string,) if isinstance(string, str) else tuple(string)


def _pairs(catalog: Catalog) -> set[tuple[object, object]]:
    """(id, string) pairs of the messages, without the header entry (its dates say nothing about the messages)."""
    return {(message.id, message.string) for message in catalog if message.id}


def _untranslated(msgids: set[str], catalog: Catalog) -> list[str]:
    """The ids an English user would see in Chinese: missing, empty, fuzzy, or "translated" into Chinese."""
    missing = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        # Fuzzy entries are left out of the compiled catalogue, so they count as untranslated.
        strings = _strings(message.string) if message is not None and not message.fuzzy else ("",)
        if any(not text.strip() or HAN.search(text) for text in strings):
            missing.append(msgid)
    return missing


def _placeholder_mismatches(catalog: Catalog) -> list[tuple[object, str]]:
    mismatched: list[tuple[object, str]] = []
    for message in catalog:
        if not message.id:
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        wanted = set().union(*(PLACEHOLDER.findall(text) for text in ids))
        for text in _strings(message.string):
            if text and set(PLACEHOLDER.findall(text)) != wanted:
                mismatched.append((message.id, text))
    return mismatched


def test_every_extracted_message_has_an_english_translation() -> None:
    extracted = _extracted_ids()
    assert len(extracted) > 100, "extraction found almost nothing: is babel.cfg still pointing at the sources?"
    untranslated = _untranslated(extracted, _po())
    assert not untranslated, (
        "Messages without an English translation (run the commands in babel.cfg and translate them in "
        f"{MESSAGES / 'messages.po'}): {untranslated}"
    )


def test_the_committed_mo_is_compiled_from_the_current_po() -> None:
    compiled = io.BytesIO()
    write_mo(compiled, _po())
    compiled.seek(0)
    with (MESSAGES / "messages.mo").open("rb") as committed:
        on_disk = read_mo(committed)
    assert _pairs(on_disk) == _pairs(read_mo(compiled)), "messages.mo is stale: run `pybabel compile` (see babel.cfg)"


def test_translations_keep_the_placeholders_of_their_ids() -> None:
    assert not _placeholder_mismatches(_po())


def test_the_checks_name_what_a_careless_edit_breaks() -> None:
    """The two checks above on a small catalogue with one of each mistake, so their passing means something."""
    catalog = Catalog(locale="en")
    catalog.add("部门待办", "Department queue")
    catalog.add("已认领：%(step)s（%(case)s）", "Claimed: %(step)s")  # a placeholder lost
    catalog.add("已办", "")  # extracted but never translated
    catalog.add("办结", "Closed", flags=["fuzzy"])  # guessed by msgmerge, not compiled
    catalog.add("认领", "认领")  # the id copied over
    ids = {"部门待办", "已办", "办结", "认领", "新加的文字"}
    assert _untranslated(ids, catalog) == sorted(["已办", "办结", "认领", "新加的文字"])
    assert _placeholder_mismatches(catalog) == [("已认领：%(step)s（%(case)s）", "Claimed: %(step)s")]


def _nav(html: str) -> str:
    match = re.search(r'<nav class="mainnav">(.*?)</nav>', html, re.S)
    assert match is not None, "the inbox has no main navigation"
    return match.group(1)


def test_the_inbox_speaks_english_after_choosing_it(client: FlaskClient, auth: AuthActions) -> None:
    auth.login("ganjingzi1")
    chinese = client.get("/?view=queue").get_data(as_text=True)
    assert "部门待办" in _nav(chinese) and "Department queue" not in chinese

    client.post("/lang/en", data={"next": "/"})
    html = client.get("/?view=queue").get_data(as_text=True)
    nav = _nav(html)
    for label in ("My tasks", "Department queue", "Done", "Started by me", "Start a case"):
        assert label in nav
    assert not HAN.search(nav), nav
    # The page chrome around the list: filters, column heads, the claim button, sign-out.
    for label in ("Filter", "Case no.", "Deadline", "Claim", "Sign out"):
        assert label in html
    assert not any(f">{label}<" in html for label in NAV_LABELS)


def test_english_chosen_on_the_sign_in_page_survives_signing_in(client: FlaskClient, auth: AuthActions) -> None:
    client.post("/lang/en", data={"next": "/login"})
    # flask-login's redirect message is a lazy string, translated when flashed rather than at import.
    assert "Please sign in first" in client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Wrong username or password" in auth.login("ganjingzi1", "wrong-password").get_data(as_text=True)
    auth.login("ganjingzi1")
    assert "Department queue" in _nav(client.get("/").get_data(as_text=True))


@pytest.mark.parametrize("language, submit", [("zh_CN", "提交"), ("en", "Submit")])
def test_form_chrome_follows_the_language_but_schema_titles_stay_chinese(
    client: FlaskClient, auth: AuthActions, language: str, submit: str
) -> None:
    auth.login("ganjingzi1")
    client.post(f"/lang/{language}", data={"next": "/"})
    html = client.get("/start/hazard_report").get_data(as_text=True)
    assert f'<button type="submit" class="primary">{submit}</button>' in html
    # Field titles come from the JSON Schemas, which are Chinese data, not UI text.
    assert "隐患描述" in html


def test_templates_follow_a_forced_locale_and_return_to_the_session_s(app: Flask) -> None:
    """The templates' gettext keeps the request's catalogue (issue #9) but follows flask_babel.force_locale, as the
    Chinese documents of an English session need, and returns to the session's language after it."""
    template = "{{ _('待办') }}"
    with app.test_request_context("/"):
        flask_session["lang"] = "en"
        assert render_template_string(template) == "My tasks"
        with force_locale("zh_CN"):
            assert render_template_string(template) == "待办"
        assert render_template_string(template) == "My tasks"
    with app.test_request_context("/"):
        assert render_template_string(template) == "待办"  # a new request: the default language
