"""The OpenAPI paths of issue #4's endpoints: 转办, 退回, 撤回, 加签, 催办, 批量审批, 抄送, comments, attachments,
委托 and 常用语 (modules handling, casework and personal). Their schemas are in openapi_collab_schemas; openapi.py
merges both into the document."""

from __future__ import annotations

from typing import Any

from webapp.api.openapi_collab_schemas import obj
from webapp.api.openapi_common import (
    BAD_BODY,
    CONFLICT,
    INSTANCE_ID,
    INVALID,
    NOT_FOUND,
    TASK_ID,
    TOO_LARGE,
    UNAUTHORIZED,
    error,
    json_body,
    query,
    ref,
)
from workflows.attachments import TYPE_NAMES


def _request(name: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": ref(name)}}}


def _array(item: str, description: str) -> dict[str, Any]:
    return json_body({"type": "array", "items": ref(item)}, description)


FORBIDDEN = error("无权执行此操作")
REFUSED = error("任务已被处理或被他人认领，案件已被他人更新，或当前状态不允许此操作")


def _task_operation(
    summary: str, request: str, answer: dict[str, Any], *, description: str = "", body_required: bool = True
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [TASK_ID],
        "requestBody": _request(request, required=body_required),
        "responses": {
            **answer,
            "400": BAD_BODY,
            "401": UNAUTHORIZED,
            "403": FORBIDDEN,
            "404": NOT_FOUND,
            "409": REFUSED,
            "422": INVALID,
        },
    }
    if description:
        operation["description"] = description
    return {"post": operation}


HANDLED = {"200": json_body(ref("Handled"), "流转记录及案件")}
DELETED = {"204": {"description": "已删除"}}

PATHS: dict[str, Any] = {
    "/api/v1/tasks/{task_id}/transfer": _task_operation(
        "转办：交给本部门可办理此环节的同事", "TransferRequest", HANDLED
    ),
    "/api/v1/tasks/{task_id}/return-targets": {
        "get": {
            "summary": "可退回到的环节：本路径上已办理的环节",
            "parameters": [TASK_ID],
            "responses": {
                "200": _array("ReturnTarget", "由远及近"),
                "401": UNAUTHORIZED,
                "403": FORBIDDEN,
                "404": NOT_FOUND,
                "409": CONFLICT,
            },
        }
    },
    "/api/v1/tasks/{task_id}/return": _task_operation(
        "退回到本路径上已办理的环节，由原办理人重新办理", "ReturnRequest", HANDLED
    ),
    "/api/v1/tasks/{task_id}/withdraw": _task_operation(
        "撤回自己已办理的环节",
        "WithdrawRequest",
        HANDLED,
        body_required=False,
        description="task_id 为自己已办理的任务；下一环节已办理或其办理人已查看（含通过 API 读取）时返回 409。",
    ),
    "/api/v1/tasks/{task_id}/signers": _task_operation(
        "加签：请他人在本人之前（前加签）或之后（后加签）签署意见",
        "SignerRequest",
        HANDLED,
        description="加签人在其待办中看到此任务，表单为加签意见（同意/不同意 + 意见），用 complete 提交。",
    ),
    "/api/v1/tasks/{task_id}/urge": _task_operation(
        "催办：提醒办理人",
        "UrgeRequest",
        {"201": json_body(ref("Urged"), "已催办")},
        body_required=False,
        description="同一人对同一任务 24 小时内只能催办一次（409）；自己的待办不能催办（403）。",
    ),
    "/api/v1/tasks/batch-complete": {
        "post": {
            "summary": "批量审批：同一环节的多项任务，同一意见，逐案办理",
            "requestBody": _request("BatchRequest"),
            "responses": {
                "200": json_body(ref("BatchResult"), "已办理与未办理（附原因）"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "409": error("所选任务不属于同一环节"),
                "422": INVALID,
            },
        }
    },
    "/api/v1/instances/{instance_id}/copies": {
        "post": {
            "summary": "抄送：本案件所属单位或其上级单位的人员",
            "parameters": [INSTANCE_ID],
            "requestBody": _request("CopyRequest"),
            "responses": {
                "201": _array("Copy", "每位抄送人一份"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "422": INVALID,
            },
        }
    },
    "/api/v1/instances/{instance_id}/comments": {
        "get": {
            "summary": "案件的评论",
            "parameters": [INSTANCE_ID],
            "responses": {"200": _array("Comment", "按时间先后"), "401": UNAUTHORIZED, "404": NOT_FOUND},
        },
        "post": {
            "summary": "评论案件（备注，不是审批意见）",
            "parameters": [INSTANCE_ID],
            "requestBody": _request("CommentRequest"),
            "responses": {
                "201": json_body(ref("Comment"), "新评论"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "422": INVALID,
            },
        },
    },
    "/api/v1/instances/{instance_id}/attachments": {
        "post": {
            "summary": "上传附件",
            "description": "类型按文件内容识别（默认 JPEG、PNG、PDF）；大小上限见 CASE_UPLOAD_MAX_BYTES（默认 10 MB）",
            "parameters": [INSTANCE_ID],
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": obj(
                            ["file"],
                            {
                                "file": {"type": "string", "format": "binary"},
                                "task_id": {"type": "string", "description": "附件所属环节（本案件的任务）"},
                            },
                        )
                    }
                },
            },
            "responses": {
                "201": json_body(ref("Attachment"), "已保存的附件"),
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
                "413": TOO_LARGE,
                "422": INVALID,
            },
        }
    },
    "/api/v1/instances/{instance_id}/attachments/{attachment_id}": {
        "get": {
            "summary": "下载附件",
            "parameters": [
                INSTANCE_ID,
                {"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {
                "200": {
                    "description": "文件内容，类型按上传时识别的文件内容（JPEG、PNG、PDF 等）",
                    # Served as the type sniffed on upload, so every type an upload policy can accept is listed.
                    "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in TYPE_NAMES},
                },
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/v1/copies": {
        "get": {
            "summary": "抄送我",
            "parameters": [
                query("unread", {"enum": ["0", "1"], "default": "0"}, "1：只看未读"),
                query("page", {"type": "integer", "minimum": 1, "default": 1}, "页码"),
                query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "每页条数"),
            ],
            "responses": {"200": json_body(ref("CopyPage"), "新抄送在前"), "401": UNAUTHORIZED, "422": INVALID},
        }
    },
    "/api/v1/delegations": {
        "get": {
            "summary": "我的委托：我委托他人的，和他人委托我的（未撤销）",
            "responses": {"200": _array("Delegation", "开始日期新的在前"), "401": UNAUTHORIZED},
        },
        "post": {
            "summary": "委托：在期间内由受托人代办我的任务",
            "requestBody": _request("DelegationRequest"),
            "responses": {
                "201": json_body(ref("Delegation"), "新委托"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "422": INVALID,
            },
        },
    },
    "/api/v1/delegations/{delegation_id}": {
        "delete": {
            "summary": "撤销我的委托",
            "parameters": [{"name": "delegation_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {**DELETED, "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
    "/api/v1/phrases": {
        "get": {
            "summary": "常用语：系统默认的，和自己的",
            "responses": {"200": _array("Phrase", "默认的在前"), "401": UNAUTHORIZED},
        },
        "post": {
            "summary": "添加常用语",
            "requestBody": _request("PhraseRequest"),
            "responses": {
                "201": json_body(ref("Phrase"), "新常用语"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "422": INVALID,
            },
        },
    },
    "/api/v1/phrases/{phrase_id}": {
        "delete": {
            "summary": "删除自己的常用语",
            "parameters": [{"name": "phrase_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {**DELETED, "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
}
