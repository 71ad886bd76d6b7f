"""Say where an application stands, in plain words (handbook 2.4-2.5).

Each stage gets what a customer asks next: what it means, what happens next and
what (if anything) they must do. The notification wording follows 2.4: results
are sent by SMS, email or APP push.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

NOTIFICATION_CHANNELS = {"sms": "短信", "email": "邮件", "app_push": "APP推送"}


@dataclass(frozen=True)
class StageText:
    label: str
    meaning: str
    next_step: str


STAGES = {
    "received": StageText("已受理", "我们已收到您的申请", "接下来将进入审核，请您耐心等待，暂时无需操作"),
    "under_review": StageText("审核中", "您的申请正在审核", "审核完成后会通知您结果，暂时无需操作"),
    "materials_required": StageText(
        "待补充材料", "审核需要您补充材料", "请尽快补充以下材料：{materials}。材料补齐后将继续审核"
    ),
    "approved": StageText("已批准", "您的申请已审核通过", "我们正在为您办理，办结后会通知您"),
    "returned": StageText(
        "已退回", "您的申请未通过审核，已退回", "如需了解原因或重新申请，可以回复“转人工”咨询"
    ),
    "completed": StageText("已完成", "您的申请已办理完成", "无需其他操作"),
}


@dataclass(frozen=True)
class ApplicationView:
    """What the customer may see once verified (names and numbers masked)."""

    masked_number: str
    service_name: str
    masked_name: str
    status: str
    since: datetime
    note: Optional[str]
    missing_materials: Optional[str]
    notification_channel: str


def mask_application_number(number: str) -> str:
    """SQ202611280001 -> SQ2026****0001: enough to recognise, not to reuse."""
    return number[:6] + "****" + number[-4:] if len(number) > 10 else number


def describe(view: ApplicationView) -> str:
    stage = STAGES[view.status]
    next_step = stage.next_step.format(materials=(view.missing_materials or "").rstrip("。.") or "请留意通知中的材料清单")
    channel = NOTIFICATION_CHANNELS.get(view.notification_channel, "短信、邮件或APP推送")
    lines = [
        f"{view.masked_name}您好，您的{view.service_name}申请（{view.masked_number}）"
        f"当前状态：{stage.label}。",
        f"{stage.meaning}（{view.since:%Y年%m月%d日 %H:%M}进入此阶段）。",
    ]
    if view.status == "returned" and view.note:
        lines.append(f"退回原因：{view.note.rstrip('。.')}。")
    lines.append(f"下一步：{next_step}。")
    if view.status != "completed":
        lines.append(f"办理结果将通过{channel}通知您。")
    return "\n".join(lines)
