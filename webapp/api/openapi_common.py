"""Building blocks of the OpenAPI document: references, JSON bodies, the shared errors and parameters."""

from __future__ import annotations

from typing import Any

JsonSchema = dict[str, Any]


def ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(kind: str, **extra: Any) -> JsonSchema:
    return {"type": [kind, "null"], **extra}


def json_body(schema: JsonSchema, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def error(description: str) -> dict[str, Any]:
    return json_body(ref("Error"), description)


UNAUTHORIZED = {
    **error("缺少令牌，或令牌无效、过期、已吊销"),
    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "description": 'Bearer realm="UnionFlow"'}},
}
NOT_FOUND = error("不存在，或当前用户无权查看（两者不加区分）")
CONFLICT = error("任务已被处理、已被他人认领，或案件已被他人更新")
INVALID = json_body(ref("ValidationError"), "表单校验失败：errors 按字段给出中文说明")
BAD_BODY = error("请求体不是 JSON 对象，嵌套过深，或含有不允许的字符（U+0000、不成对的代理字符）")
# Answers any operation may give (issue #5): the edge refuses a NUL character in the path, query or form (400), and
# a body over the endpoint's size limit (413), before the operation runs.
BAD_REQUEST = error("请求格式不正确，或路径、查询参数、表单中含有不允许的控制字符（U+0000）")
TOO_LARGE = error("请求内容超过大小限制")

TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
INSTANCE_ID = {"name": "instance_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PROCESS_KEY = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}, "example": "hazard_report"}


def query(name: str, schema: JsonSchema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


TIME = nullable("string", format="date-time", description="ISO 8601，北京时间，带时区偏移")
