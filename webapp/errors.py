"""Error pages for the web UI: Chinese messages, and 404 for anything the user may not see (no existence leaks).

The API blueprint answers the same errors as JSON with its own handlers.
"""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from webapp.database import get_session
from webapp.edge import UnsafeInput
from workflows.attachments import size_text
from workflows.errors import ConflictError, NotFound, PermissionDenied, ProcessNotDeployed


def _page(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, status=status), status


def init_app(app: Flask) -> None:
    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> tuple[str, int]:
        return _page(_("未找到"), str(exc) or _("页面不存在"), 404)

    @app.errorhandler(404)
    def http_not_found(_exc: Exception) -> tuple[str, int]:
        return _page(_("未找到"), _("页面不存在"), 404)

    @app.errorhandler(PermissionDenied)
    def forbidden(exc: PermissionDenied) -> tuple[str, int]:
        return _page(_("无权操作"), str(exc) or _("无权执行此操作"), 403)

    @app.errorhandler(403)
    def http_forbidden(_exc: Exception) -> tuple[str, int]:
        return _page(_("无权操作"), _("无权执行此操作"), 403)

    @app.errorhandler(ConflictError)
    def conflict(exc: ConflictError) -> tuple[str, int]:
        return _page(_("操作冲突"), str(exc), 409)

    @app.errorhandler(ProcessNotDeployed)
    def not_deployed(exc: ProcessNotDeployed) -> tuple[str, int]:
        return _page(_("流程未部署"), str(exc), 503)

    @app.errorhandler(CSRFError)
    def csrf_failed(_exc: CSRFError) -> tuple[str, int]:
        return _page(_("请求已失效"), _("页面已过期或来源不明，请刷新页面后重试"), 400)

    @app.errorhandler(400)
    def bad_request(exc: Exception) -> tuple[str, int]:
        # CSRFError (a 400 too) keeps its own handler above: Flask picks the most specific class of a code.
        message = exc.description if isinstance(exc, UnsafeInput) and exc.description else _("请求格式不正确")
        return _page(_("请求无效"), message, 400)

    @app.errorhandler(405)
    def method_not_allowed(_exc: Exception) -> tuple[str, int]:
        return _page(_("不支持的操作"), _("此页面不支持该请求方式"), 405)

    @app.errorhandler(500)
    def internal_error(_exc: Exception) -> tuple[str, int]:
        # The page's navigation queries the database: start from a clean session after whatever failed.
        get_session().rollback()
        return _page(_("系统错误"), _("系统出现错误，操作未完成，请稍后重试或联系管理员"), 500)

    @app.errorhandler(413)
    def too_large(_exc: Exception) -> tuple[str, int]:
        # Werkzeug refused the body before any view read it (webapp.edge sets the limit per page).
        return _page(_("文件过大"), too_large_message(), 413)


def too_large_message() -> str:
    """The Chinese answer to a body over its limit, naming the limit the request had (issue #5)."""
    limit = request.max_content_length
    if limit is None:
        return _("上传的内容超过大小限制，请减少或压缩文件后重试")
    return _("上传的内容超过大小限制（本次提交最多 %(size)s），请减少或压缩文件后重试", size=size_text(limit))
