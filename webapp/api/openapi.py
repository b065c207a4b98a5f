"""The OpenAPI 3.1 description of /api/v1, built as data; tests check it covers exactly the blueprint's routes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from webapp.api import openapi_collab, openapi_collab_schemas
from webapp.api.openapi_common import (
    BAD_BODY,
    BAD_REQUEST,
    CONFLICT,
    INSTANCE_ID,
    INVALID,
    NOT_FOUND,
    PROCESS_KEY,
    TASK_ID,
    TIME,
    TOO_LARGE,
    UNAUTHORIZED,
    JsonSchema,
    error,
    json_body,
    nullable,
    query,
    ref,
)

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

SCHEMAS: dict[str, JsonSchema] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "examples": ["not_found", "conflict", "unauthorized"]},
            "message": {"type": "string", "description": "中文说明"},
        },
    },
    "ValidationError": {
        "type": "object",
        "required": ["error", "message", "errors"],
        "properties": {
            "error": {"const": "validation_failed"},
            "message": {"type": "string"},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "字段路径（如 reporter.mobile）→ 中文错误说明",
            },
        },
    },
    "Process": {
        "type": "object",
        "required": ["key", "name", "version", "can_start"],
        "properties": {
            "key": {"type": "string"},
            "name": {"type": "string"},
            "version": {"type": "integer"},
            "can_start": {"type": "boolean", "description": "当前用户所在单位能否发起"},
        },
    },
    "ProcessDetail": {
        "allOf": [
            ref("Process"),
            {
                "type": "object",
                "required": ["start_form"],
                "properties": {
                    "start_form": nullable("object", description="发起表单的 JSON Schema（Draft 2020-12）"),
                },
            },
        ]
    },
    "Task": {
        "type": "object",
        "required": [
            "id",
            "instance_id",
            "name",
            "bpmn_id",
            "process",
            "lane",
            "department",
            "org_unit",
            "status",
            "claimed_by",
            "due_at",
        ],
        "properties": {
            "id": {"type": "string", "format": "uuid", "description": "引擎任务 ID"},
            "instance_id": {"type": "integer"},
            "case_number": {"type": "string"},
            "case_title": {"type": "string"},
            "name": {"type": "string"},
            "bpmn_id": {"type": "string"},
            "process": {"type": "string"},
            "lane": {"type": "string"},
            "department": nullable("string", description="部门代码，如 econ-labour；无部门的泳道为 null"),
            "org_unit": {"type": "string", "description": "组织代码，如 210211"},
            "status": {"enum": ["ready", "completed"]},
            "claimed_by": nullable("string", description="认领人（办理人）用户名"),
            "assigned_to": nullable("string", description="指定签署人用户名（加签人、会签人）；只有此人可以提交"),
            "completed_by": nullable("string"),
            "ready_at": TIME,
            "due_at": TIME,
            "completed_at": TIME,
            "actions": {
                "type": "array",
                "items": {"enum": ["view", "claim", "release", "complete", "transfer", "return", "add_signer"]},
                "description": "当前用户可执行的操作（含受委托代办的）：查看、认领、退回认领、办理、转办、退回、加签",
            },
            "on_behalf_of": nullable("string", description="受委托代办时，委托人的用户名"),
        },
    },
    "TaskDetail": {
        "allOf": [
            ref("Task"),
            {
                "type": "object",
                "required": ["form", "data"],
                "properties": {
                    "form": nullable("object", description="任务表单的 JSON Schema"),
                    "decision_field": nullable("string", description="顶层 decision 对应的表单字段"),
                    "data": {"type": "object", "description": "表单字段的当前值（不含身份证号、银行卡号）"},
                    "returned": {
                        "oneOf": [ref("Returned"), {"type": "null"}],
                        "description": "本环节是被退回来的：谁、从哪一环节、为何退回",
                    },
                    "withdrawable": {"type": "boolean", "description": "当前用户能否撤回此已办环节"},
                },
            },
        ]
    },
    "TaskPage": {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": ref("Task")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    },
    "Step": {
        "type": "object",
        "required": ["task_id", "name", "user", "org_unit", "department", "decision", "opinion", "at"],
        "properties": {
            "task_id": {"type": "string"},
            "bpmn_id": {"type": "string"},
            "name": {"type": "string"},
            "user": {"type": "string", "description": "办理人用户名"},
            "user_name": {"type": "string", "description": "办理人姓名"},
            "role": {"type": "string"},
            "org_unit": {"type": "string", "description": "组织代码"},
            "org_unit_name": {"type": "string"},
            "department": nullable("string"),
            "decision": nullable("string"),
            "opinion": nullable("string", description="审批意见"),
            "at": {"type": "string", "format": "date-time"},
            "kind": {"enum": ["step", "added_sign"], "description": "step：办理环节；added_sign：加签意见"},
            "on_behalf_of": nullable("string", description="委托人用户名：办理人代其办理（X（代Y））"),
            "on_behalf_of_name": nullable("string", description="委托人姓名"),
            "withdrawn": {"type": "boolean", "description": "已撤回：保留在记录中并注明"},
            "withdrawn_at": TIME,
        },
    },
    "Instance": {
        "type": "object",
        "required": ["id", "number", "process", "status", "tasks", "steps"],
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "string", "description": "案件编号，如 YH-2026-000001"},
            "title": {"type": "string"},
            "process": {"type": "string"},
            "process_version": {"type": "integer"},
            "status": {"enum": ["running", "completed", "suspended", "terminated"]},
            "org_unit": {"type": "string", "description": "案件所属单位代码"},
            "started_by": nullable("string"),
            "started_at": TIME,
            "completed_at": TIME,
            "tasks": {"type": "array", "items": ref("Task"), "description": "待办理的任务"},
            "steps": {"type": "array", "items": ref("Step"), "description": "审批记录"},
            "actions": {"type": "array", "items": ref("CaseAction"), "description": "流转记录"},
            "comments": {"type": "array", "items": ref("Comment"), "description": "评论（备注）"},
            "attachments": {"type": "array", "items": ref("Attachment"), "description": "附件"},
        },
    },
    "StartRequest": {
        "type": "object",
        "properties": {"data": {"type": "object", "description": "按发起表单（start_form）填写"}},
    },
    "CompleteRequest": {
        "type": "object",
        "properties": {
            "data": {"type": "object", "description": "按任务表单（form）填写"},
            "decision": {"type": "string", "description": "审批结论；写入 decision_field 指明的字段"},
            "opinion": {"type": "string", "description": "审批意见；写入 opinion 字段"},
        },
    },
    "Completion": {
        "type": "object",
        "required": ["instance", "next_tasks"],
        "properties": {"instance": ref("Instance"), "next_tasks": {"type": "array", "items": ref("Task")}},
    },
}


def _task_action(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [TASK_ID],
            "responses": {
                "200": json_body(ref("Task"), "操作后的任务"),
                "401": UNAUTHORIZED,
                "403": error("无权执行此操作"),
                "404": NOT_FOUND,
                "409": CONFLICT,
            },
        }
    }


PATHS: dict[str, Any] = {
    "/api/v1/processes": {
        "get": {
            "summary": "已部署的流程",
            "responses": {
                "200": json_body({"type": "array", "items": ref("Process")}, "每个流程的最新版本"),
                "401": UNAUTHORIZED,
            },
        }
    },
    "/api/v1/processes/{key}": {
        "get": {
            "summary": "流程及其发起表单",
            "parameters": [PROCESS_KEY],
            "responses": {"200": json_body(ref("ProcessDetail"), "流程"), "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
    "/api/v1/processes/{key}/instances": {
        "post": {
            "summary": "发起案件",
            "parameters": [PROCESS_KEY],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("StartRequest")}}},
            "responses": {
                "201": {
                    **json_body(ref("Instance"), "新案件"),
                    "headers": {"Location": {"schema": {"type": "string"}}},
                },
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "403": error("当前用户所在单位不能发起此流程"),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        }
    },
    "/api/v1/tasks": {
        "get": {
            "summary": "任务列表：待办、部门待办、已办",
            "parameters": [
                query("view", {"enum": ["mine", "queue", "done"], "default": "mine"}, "待办、部门待办、已办"),
                query("process", {"type": "string"}, "只看此流程"),
                query("light", {"enum": ["red", "yellow", "green"]}, "红黄灯：逾期、临近到期、正常"),
                query("q", {"type": "string"}, "按案件编号或标题搜索"),
                query("sort", {"enum": ["due", "newest", "oldest"], "default": "due"}, "排序"),
                query("page", {"type": "integer", "minimum": 1, "default": 1}, "页码"),
                query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "每页条数"),
            ],
            "responses": {"200": json_body(ref("TaskPage"), "一页任务"), "401": UNAUTHORIZED, "422": INVALID},
        }
    },
    "/api/v1/tasks/{task_id}": {
        "get": {
            "summary": "任务、表单及当前值",
            "description": "可办理此任务的人读取它，即视为已查看：上一环节的办理人从此不能撤回。",
            "parameters": [TASK_ID],
            "responses": {"200": json_body(ref("TaskDetail"), "任务"), "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
    "/api/v1/tasks/{task_id}/claim": _task_action("认领任务"),
    "/api/v1/tasks/{task_id}/release": _task_action("退回认领"),
    "/api/v1/tasks/{task_id}/complete": {
        "post": {
            "summary": "提交任务表单，办结此步骤",
            "parameters": [TASK_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CompleteRequest")}}},
            "responses": {
                "200": json_body(ref("Completion"), "案件及其下一步任务"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "403": error("无权办理此任务"),
                "404": NOT_FOUND,
                "409": CONFLICT,
                "422": INVALID,
            },
        }
    },
    "/api/v1/instances/{instance_id}": {
        "get": {
            "summary": "案件：状态、待办任务、审批记录、流转记录、评论、附件",
            "description": "读取抄送给自己的案件，即把该抄送标记为已读。",
            "parameters": [INSTANCE_ID],
            "responses": {"200": json_body(ref("Instance"), "案件"), "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
    "/api/v1/instances/{instance_id}/record.pdf": {
        "get": {
            "summary": "审批表（PDF）",
            "parameters": [INSTANCE_ID],
            "responses": {
                "200": {
                    "description": "审批表",
                    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                },
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/v1/openapi.json": {
        "get": {
            "summary": "本文档",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 文档", "content": {"application/json": {}}}},
        }
    },
}


def _with_edge_answers(paths: dict[str, Any]) -> dict[str, Any]:
    """Every operation also documents the edge's 400, and each that takes a body the 413 (webapp.edge)."""
    completed: dict[str, Any] = {}
    for path, item in paths.items():
        completed[path] = {}
        for method, operation in item.items():
            responses = {"400": BAD_REQUEST, **operation["responses"]}
            if "requestBody" in operation:
                responses.setdefault("413", TOO_LARGE)
            completed[path][method] = {**operation, "responses": dict(sorted(responses.items()))}
    return completed


def document() -> dict[str, Any]:
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "UnionFlow API",
            "version": API_VERSION,
            "description": (
                "工会流程与案件管理系统的 JSON 接口。令牌由 `flask --app webapp create-token 用户名` 创建，"
                "以 `Authorization: Bearer <令牌>` 发送；权限与网页端相同。"
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": _with_edge_answers({**PATHS, **openapi_collab.PATHS}),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": {**SCHEMAS, **openapi_collab_schemas.SCHEMAS},
        },
    }


def register(bp: Blueprint) -> None:
    @bp.get("/openapi.json")
    def openapi_document() -> Response:
        return jsonify(document())
