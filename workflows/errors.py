"""Errors the workflow layer raises to its callers; messages are Chinese because officials read them."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class: the operation was refused and nothing was changed."""


class NotFound(WorkflowError):
    """The case or task does not exist or is not visible to this user (callers answer 404 either way)."""


class PermissionDenied(WorkflowError):
    pass


class ConflictError(WorkflowError):
    """Someone else changed the case first; reload and try again."""


class TaskAlreadyHandled(ConflictError):
    def __init__(self, message: str = "该任务已被他人处理，请刷新后查看最新状态") -> None:
        super().__init__(message)


class TaskAlreadyClaimed(PermissionDenied, ConflictError):
    """Someone else holds the task: refused as a permission, and a lost race when two claim at once."""

    def __init__(self, message: str = "该任务已由他人认领") -> None:
        super().__init__(message)


class CaseChanged(ConflictError):
    """The case's row changed between reading and writing it; the whole action may be retried on fresh state."""

    def __init__(self, message: str = "案件已被他人更新，请刷新后重试") -> None:
        super().__init__(message)


class ProcessNotDeployed(WorkflowError):
    pass


class OperationRefused(ConflictError):
    """The case is not in a state that allows the operation (e.g. withdraw after the next holder opened the task)."""
