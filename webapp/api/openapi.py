"""The OpenAPI 3.1 description of /api/v1, built as data; tests check it covers exactly the blueprint's routes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"

JsonSchema = dict[str, Any]


def _ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **extra: Any) -> JsonSchema:
    return {"type": [kind, "null"], **extra}


def _json(schema: JsonSchema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


UNAUTHORIZED = {
    **_error("缺少令牌，或令牌无效、过期、已吊销"),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="UnionFlow"'}},
}
NOT_FOUND = _error("不存在，或当前用户无权查看（两者不加区分）")
CONFLICT = _error("任务已被处理、已被他人认领，或案件已被他人更新")
INVALID = _json(_ref("ValidationError"), "表单校验失败：errors 按字段给出中文说明")
BAD_BODY = _error("请求体不是 JSON 对象")

TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
INSTANCE_ID = {"name": "instance_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PROCESS_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}, "example": "hazard_report"}


def _query(name: str, schema: JsonSchema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TIME = _nullable("string", format="date-time", description="ISO 8601，北京时间，带时区偏移")

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
            _ref("Process"),
            {
                "type": "object",
                "required": ["start_form"],
                "properties": {
                    "start_form": _nullable("object", description="发起表单的 JSON Schema（Draft 2020-12）"),
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
            "department": _nullable("string", description="部门代码，如 econ-labour；无部门的泳道为 null"),
            "org_unit": {"type": "string", "description": "组织代码，如 210211"},
            "status": {"enum": ["ready", "completed"]},
            "claimed_by": _nullable("string", description="认领人用户名"),
            "completed_by": _nullable("string"),
            "ready_at": TIME,
            "due_at": TIME,
            "completed_at": TIME,
            "actions": {
                "type": "array",
                "items": {"enum": ["view", "claim", "release", "complete"]},
                "description": "当前用户可执行的操作",
            },
        },
    },
    "TaskDetail": {
        "allOf": [
            _ref("Task"),
            {
                "type": "object",
                "required": ["form", "data"],
                "properties": {
                    "form": _nullable("object", description="任务表单的 JSON Schema"),
                    "decision_field": _nullable("string", description="顶层 decision 对应的表单字段"),
                    "data": {"type": "object", "description": "表单字段的当前值（不含身份证号、银行卡号）"},
                },
            },
        ]
    },
    "TaskPage": {
        "type": "object",
        "required": ["items", "total"],
        "properties": {
            "items": {"type": "array", "items": _ref("Task")},
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
            "department": _nullable("string"),
            "decision": _nullable("string"),
            "opinion": _nullable("string", description="审批意见"),
            "at": {"type": "string", "format": "date-time"},
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
            "started_by": _nullable("string"),
            "started_at": TIME,
            "completed_at": TIME,
            "tasks": {"type": "array", "items": _ref("Task"), "description": "待办理的任务"},
            "steps": {"type": "array", "items": _ref("Step"), "description": "审批记录"},
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
        "properties": {"instance": _ref("Instance"), "next_tasks": {"type": "array", "items": _ref("Task")}},
    },
}


def _task_action(summary: str) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [TASK_ID],
            "responses": {
                "200": _json(_ref("Task"), "操作后的任务"),
                "401": UNAUTHORIZED,
                "403": _error("无权执行此操作"),
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
                "200": _json({"type": "array", "items": _ref("Process")}, "每个流程的最新版本"),
                "401": UNAUTHORIZED,
            },
        }
    },
    "/api/v1/processes/{key}": {
        "get": {
            "summary": "流程及其发起表单",
            "parameters": [PROCESS_KEY],
            "responses": {"200": _json(_ref("ProcessDetail"), "流程"), "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
    "/api/v1/processes/{key}/instances": {
        "post": {
            "summary": "发起案件",
            "parameters": [PROCESS_KEY],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("StartRequest")}}},
            "responses": {
                "201": {
                    **_json(_ref("Instance"), "新案件"),
                    "headers": {"Location": {"schema": {"type": "string"}}},
                },
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "403": _error("当前用户所在单位不能发起此流程"),
                "404": NOT_FOUND,
                "422": INVALID,
            },
        }
    },
    "/api/v1/tasks": {
        "get": {
            "summary": "任务列表：待办、部门待办、已办",
            "parameters": [
                _query("view", {"enum": ["mine", "queue", "done"], "default": "mine"}, "待办、部门待办、已办"),
                _query("process", {"type": "string"}, "只看此流程"),
                _query("light", {"enum": ["red", "yellow", "green"]}, "红黄灯：逾期、临近到期、正常"),
                _query("q", {"type": "string"}, "按案件编号或标题搜索"),
                _query("sort", {"enum": ["due", "newest", "oldest"], "default": "due"}, "排序"),
                _query("page", {"type": "integer", "minimum": 1, "default": 1}, "页码"),
                _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "每页条数"),
            ],
            "responses": {"200": _json(_ref("TaskPage"), "一页任务"), "401": UNAUTHORIZED, "422": INVALID},
        }
    },
    "/api/v1/tasks/{task_id}": {
        "get": {
            "summary": "任务、表单及当前值",
            "parameters": [TASK_ID],
            "responses": {"200": _json(_ref("TaskDetail"), "任务"), "401": UNAUTHORIZED, "404": NOT_FOUND},
        }
    },
    "/api/v1/tasks/{task_id}/claim": _task_action("认领任务"),
    "/api/v1/tasks/{task_id}/release": _task_action("退回认领"),
    "/api/v1/tasks/{task_id}/complete": {
        "post": {
            "summary": "提交任务表单，办结此步骤",
            "parameters": [TASK_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("CompleteRequest")}}},
            "responses": {
                "200": _json(_ref("Completion"), "案件及其下一步任务"),
                "400": BAD_BODY,
                "401": UNAUTHORIZED,
                "403": _error("无权办理此任务"),
                "404": NOT_FOUND,
                "409": CONFLICT,
                "422": INVALID,
            },
        }
    },
    "/api/v1/instances/{instance_id}": {
        "get": {
            "summary": "案件：状态、待办任务、审批记录",
            "parameters": [INSTANCE_ID],
            "responses": {"200": _json(_ref("Instance"), "案件"), "401": UNAUTHORIZED, "404": NOT_FOUND},
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
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }


def register(bp: Blueprint) -> None:
    @bp.get("/openapi.json")
    def openapi_document() -> Response:
        return jsonify(document())
