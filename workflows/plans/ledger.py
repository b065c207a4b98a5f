"""The plan's ledger (台账) for a period (issue #8 "Export the ledger (台账) to Excel and PDF for a period"; bpm-anchors
§3: the register of all items with deadlines, progress and results, the basis for 通报 and appraisal).

Two parts, the same in the Excel workbook and the PDF (webapp.plans_documents):
- 责任分工台账: one line per item and responsible row: open, overdue and due-soon tasks as of the moment it was
  made, cases completed and urges sent in the period, the light, and target progress with the goal's source;
- 督办事项: the plan's supervised matters with their units, deadline, status, reports and escalation.
A district union's ledger holds its own rows and matters only, as its dashboard does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from workflows.calendar import SHANGHAI
from workflows.models import Plan
from workflows.plans.dashboard import LIGHT_LABELS, Figures, ItemFigures, plan_dashboard
from workflows.plans.drilldown import SupervisedMatter, supervised_matters
from workflows.plans.metrics import TargetProgress
from workflows.plans.periods import Period
from workflows.tabular import CellValue, write_xlsx_sheets

# --- Text of a target's progress (the ledger, the PDF) ------------------------------------------------------------


def quantity(value: Decimal, unit: str) -> str:
    """“30 个”, “1,250,000.00 元”: money to the fen, counts as whole numbers."""
    if unit == "元":
        return f"{value:,.2f} 元"
    if value == value.to_integral_value():
        return f"{int(value):,} {unit}"
    return f"{value:,.2f} {unit}"


def progress_text(progress: TargetProgress, *, with_goal: bool = True) -> str:
    """One line of a target: figure, goal with its source, and the share reached. Without the goal for a unit's
    row: the goal is the whole plan's, not the unit's."""
    target = progress.target
    figure = quantity(progress.value, target.unit) if progress.value is not None else "暂无数据来源"
    if not with_goal:
        return f"{target.label}：{figure}"
    if progress.goal is None:
        goal = "无目标值" if not target.parameter_key else "本年度无目标值"
        return f"{target.label}：{figure}（{goal}）"
    default = "，默认值" if progress.goal.is_default else ""
    share = f"，完成{progress.percent}%" if progress.percent is not None else ""
    goal_text = quantity(progress.goal.value, target.unit)
    return f"{target.label}：{figure}／年度目标{goal_text}{share}（依据：{progress.goal.source}{default}）"


@dataclass(frozen=True)
class LedgerLine:
    item_number: int
    item_heading: str
    unit: str  # 责任单位, or 合计 / 其他经办单位 on the item's summary lines
    role: str  # 牵头 / 配合, empty on summary lines
    figures: Figures
    progress: list[str]
    kind: str = "row"  # row | total | other

    @property
    def item(self) -> str:
        return f"第{self.item_number}项 {self.item_heading}"

    @property
    def light(self) -> str:
        return LIGHT_LABELS[self.figures.light.value]


@dataclass(frozen=True)
class Ledger:
    plan: Plan
    period: Period
    generated_at: datetime
    lines: list[LedgerLine]
    matters: list[SupervisedMatter]
    district_view: bool  # a district union's own ledger (no totals, no other units)

    @property
    def title(self) -> str:
        return f"{self.plan.document_number}责任分工落实台账（{self.period.label}）"


def _lines(figures: ItemFigures, district_view: bool) -> list[LedgerLine]:
    item = figures.item
    lines = []
    if not district_view:
        lines.append(LedgerLine(item.number, item.heading, "合计", "", figures.totals,
                                [progress_text(p) for p in figures.targets], "total"))  # fmt: skip
    for row in figures.rows:
        # A unit's own figures only: the goal is the whole plan's (shown on the item's total line).
        targets = figures.targets if district_view else row.targets
        progress = [progress_text(p, with_goal=False) for p in targets] if row.row.covers_subtree else []
        lines.append(LedgerLine(item.number, item.heading, row.row.label, row.row.role_label, row.figures, progress))
    other = figures.other
    if not district_view and (other.open_tasks or other.completed_cases):
        lines.append(LedgerLine(item.number, item.heading, "其他经办单位", "", other, [], "other"))
    return lines


def plan_ledger(
    session: Session,
    plan: Plan,
    period: Period,
    *,
    now: datetime,
    near_limit: datetime,
    item_ids: set[int] | None = None,
    own_unit_id: int | None = None,
) -> Ledger:
    """The ledger of the plan's items (`item_ids`, or all) for the period, as of `now`."""
    dashboard = plan_dashboard(session, plan, period, now=now, near_limit=near_limit, item_ids=item_ids,
                               own_unit_id=own_unit_id, row_targets=own_unit_id is None)  # fmt: skip
    district_view = own_unit_id is not None
    lines = [line for figures in dashboard.items for line in _lines(figures, district_view)]
    matters = supervised_matters(session, plan, now=now, near_limit=near_limit, own_unit_id=own_unit_id)
    if item_ids is not None:
        matters = [m for m in matters if m.matter.plan_item_id in item_ids]
    return Ledger(plan, period, now, lines, matters, district_view)


LINE_HEADER = ("事项", "责任单位", "牵头/配合", "待办", "超期", "临期", "本期办结", "灯", "本期催办次数",
               "目标与进度")  # fmt: skip
MATTER_HEADER = ("事项", "案件编号", "督办事项", "主办/协办单位", "办理期限", "状态", "反馈次数", "超期升级")
SHEET_LINES, SHEET_MATTERS = "责任分工台账", "督办事项"


def _local(moment: datetime) -> str:
    local = moment.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def line_cells(line: LedgerLine) -> Sequence[CellValue]:
    f = line.figures
    return (line.item, line.unit, line.role, f.open_tasks, f.overdue, f.due_soon, f.completed_cases, line.light,
            f.urges, "\n".join(line.progress))  # fmt: skip


def matter_cells(matter: SupervisedMatter) -> Sequence[CellValue]:
    m = matter.matter
    deadline: date | None = m.deadline
    escalated = f"已升级（{_local(m.escalated_at)}）" if m.escalated_at is not None else "否"
    return (f"第{matter.item_number}项", m.instance.case_number or "", m.title,
            "；".join(f"{role}：{unit}" for role, unit in matter.units), deadline, matter.status_label,
            matter.feedback, escalated)  # fmt: skip


def _titled(ledger: Ledger, header: Sequence[str]) -> tuple[Sequence[str], list[Sequence[CellValue]]]:
    """A sheet's first row is the ledger's title and when it was made, as on paper; the column names follow."""
    title = [ledger.title, f"制表时间：{_local(ledger.generated_at)}"] + [""] * (len(header) - 2)
    return title, [header]


def ledger_xlsx(ledger: Ledger) -> bytes:
    """The workbook: 责任分工台账 and 督办事项 (every text formula-escaped by workflows.tabular)."""
    line_title, line_rows = _titled(ledger, LINE_HEADER)
    matter_title, matter_rows = _titled(ledger, MATTER_HEADER)
    return write_xlsx_sheets(
        [
            (SHEET_LINES, line_title, line_rows + [line_cells(line) for line in ledger.lines]),
            (SHEET_MATTERS, matter_title, matter_rows + [matter_cells(matter) for matter in ledger.matters]),
        ]
    )
