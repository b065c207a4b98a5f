"""Schemas of issue #4's requests and answers (流转记录, comments, attachments, copies, delegations, phrases, ...)."""

from __future__ import annotations

from webapp.api.openapi_common import TIME, JsonSchema, nullable, ref

USERNAME = {"type": "string", "description": "用户名，如 ganjingzi2"}
DATE = {"type": "string", "format": "date", "description": "北京日期 YYYY-MM-DD"}


def obj(required: list[str], properties: dict[str, JsonSchema], description: str = "") -> JsonSchema:
    schema: JsonSchema = {"type": "object", "required": required, "properties": properties}
    if description:
        schema["description"] = description
    return schema


SCHEMAS: dict[str, JsonSchema] = {
    "CaseAction": obj(
        ["id", "kind", "label", "user", "user_name", "target", "reason", "at"],
        {
            "id": {"type": "integer"},
            "kind": {"enum": ["transfer", "return", "withdraw", "add_signer", "copy", "urge"]},
            "label": {"type": "string", "description": "中文名称：转办、退回、撤回、加签、抄送、催办"},
            "task_id": nullable("string", description="所在环节的任务 ID"),
            "step": {"type": "string", "description": "所在环节名称"},
            "user": nullable("string", description="操作人用户名"),
            "user_name": {"type": "string"},
            "on_behalf_of_name": nullable("string", description="受委托代办时委托人姓名"),
            "target": {"type": "string", "description": "对象：转办给谁、退回到哪一环节、加签人、抄送人"},
            "target_user": nullable("string", description="对象用户名（如有）"),
            "target_task_id": nullable("string", description="退回、撤回到的任务 ID"),
            "reason": {"type": "string", "description": "理由、说明"},
            "at": TIME,
        },
        "流转记录的一条",
    ),
    "Comment": obj(
        ["id", "instance_id", "user", "body", "at"],
        {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "task_id": nullable("string", description="评论所针对的环节"),
            "user": nullable("string"),
            "user_name": {"type": "string"},
            "body": {"type": "string"},
            "at": TIME,
        },
    ),
    "Attachment": obj(
        ["id", "instance_id", "filename", "content_type", "size", "sha256"],
        {
            "id": {"type": "integer"},
            "instance_id": {"type": "integer"},
            "task_id": nullable("string", description="附件所属环节；null 为整个案件"),
            "filename": {"type": "string"},
            "content_type": {"type": "string", "description": "按文件内容识别的类型，如 image/png"},
            "size": {"type": "integer"},
            "sha256": {"type": "string", "description": "文件内容的 SHA-256，审批表中打印"},
            "uploaded_by": nullable("string"),
            "at": TIME,
        },
    ),
    "Copy": obj(
        ["instance_id", "case_number", "user", "copied_by", "copied_at", "read_at"],
        {
            "instance_id": {"type": "integer"},
            "case_number": nullable("string"),
            "case_title": {"type": "string"},
            "process": {"type": "string"},
            "user": {"type": "string", "description": "抄送给谁"},
            "copied_by": {"type": "string", "description": "谁抄送的"},
            "note": {"type": "string"},
            "copied_at": TIME,
            "read_at": {**TIME, "description": "阅读时间；null 为未读"},
        },
        "一份抄送",
    ),
    "CopyPage": obj(
        ["items", "total"],
        {
            "items": {"type": "array", "items": ref("Copy")},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
        },
    ),
    "Delegation": obj(
        ["id", "principal", "delegate", "starts_on", "ends_on", "active"],
        {
            "id": {"type": "integer"},
            "principal": {"type": "string", "description": "委托人用户名"},
            "principal_name": {"type": "string"},
            "delegate": {"type": "string", "description": "受托人用户名"},
            "delegate_name": {"type": "string"},
            "starts_on": DATE,
            "ends_on": DATE,
            "reason": {"type": "string"},
            "active": {"type": "boolean", "description": "今天是否在委托期内"},
            "created_at": TIME,
        },
    ),
    "Phrase": obj(
        ["id", "text", "own"],
        {
            "id": nullable("integer", description="自己的常用语的 ID；系统默认常用语为 null"),
            "text": {"type": "string"},
            "own": {"type": "boolean"},
        },
    ),
    "Returned": obj(
        ["by", "reason", "at"],
        {
            "by": nullable("string", description="退回人用户名"),
            "by_name": {"type": "string"},
            "from_step": {"type": "string", "description": "从哪一环节退回"},
            "reason": {"type": "string"},
            "at": TIME,
        },
    ),
    "ReturnTarget": obj(
        ["task_id", "bpmn_id", "title"],
        {
            "task_id": {"type": "string", "format": "uuid"},
            "bpmn_id": {"type": "string"},
            "title": {"type": "string"},
            "completed_by": nullable("string", description="原办理人，退回后由其重新办理"),
        },
    ),
    "Handled": obj(
        ["action", "instance"],
        {"action": ref("CaseAction"), "instance": ref("Instance")},
        "写入的流转记录，以及操作后的案件",
    ),
    "Urged": obj(
        ["task_id", "to", "message", "at"],
        {
            "task_id": {"type": "string"},
            "to": nullable("string", description="被催办人用户名；任务在部门待办中时为 null"),
            "message": {"type": "string"},
            "at": TIME,
        },
    ),
    "BatchResult": obj(
        ["completed", "skipped"],
        {
            "completed": {
                "type": "array",
                "items": obj(
                    ["task_id", "instance_id", "case_number"],
                    {
                        "task_id": {"type": "string"},
                        "instance_id": {"type": "integer"},
                        "case_number": nullable("string"),
                        "next_tasks": {"type": "array", "items": ref("Task")},
                    },
                ),
            },
            "skipped": {
                "type": "array",
                "items": obj(
                    ["task_id", "case_number", "reason"],
                    {
                        "task_id": {"type": "string"},
                        "case_number": nullable("string"),
                        "reason": {"type": "string", "description": "未办理的原因（中文）"},
                    },
                ),
            },
        },
        "逐案办理的结果：已办理的，和未办理的及原因",
    ),
    "TransferRequest": obj(
        ["to_user", "reason"],
        {"to_user": {**USERNAME, "description": "转办给：须能办理本环节"}, "reason": {"type": "string"}},
    ),
    "ReturnRequest": obj(
        ["target_task_id", "reason"],
        {"target_task_id": {"type": "string", "description": "见 return-targets"}, "reason": {"type": "string"}},
    ),
    "WithdrawRequest": obj([], {"reason": {"type": "string"}}),
    "SignerRequest": obj(
        ["user", "position"],
        {
            "user": {**USERNAME, "description": "加签人：本单位或上级单位的经办人、负责人"},
            "position": {"enum": ["before", "after"], "description": "before：前加签；after：后加签"},
            "reason": {"type": "string"},
        },
    ),
    "UrgeRequest": obj([], {"message": {"type": "string"}}),
    "BatchRequest": obj(
        ["task_ids"],
        {
            "task_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 100},
            "data": {"type": "object", "description": "同一环节的表单，逐案提交"},
            "decision": {"type": "string"},
            "opinion": {"type": "string"},
        },
    ),
    "CopyRequest": obj(
        ["users"],
        {"users": {"type": "array", "items": USERNAME, "minItems": 1}, "note": {"type": "string"}},
    ),
    "CommentRequest": obj(
        ["body"], {"body": {"type": "string"}, "task_id": nullable("string", description="针对的环节")}
    ),
    "DelegationRequest": obj(
        ["delegate"],
        {
            "delegate": {**USERNAME, "description": "受托人：本单位在岗的经办人或负责人"},
            "starts_on": {**DATE, "description": "开始日期，默认今天"},
            "ends_on": {**DATE, "description": "结束日期（含），默认同开始日期"},
            "reason": {"type": "string"},
        },
    ),
    "PhraseRequest": obj(["text"], {"text": {"type": "string"}}),
}
