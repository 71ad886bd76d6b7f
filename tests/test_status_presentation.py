"""What a verified customer is told about their application."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bot.db.models import ApplicationStatus
from bot.status.presentation import (
    NOTIFICATION_CHANNELS,
    STAGES,
    ApplicationView,
    describe,
    mask_application_number,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
SINCE = datetime(2026, 11, 28, 10, 5, tzinfo=SHANGHAI)
MATERIALS = "近三个月收入证明、身份证复印件"


def view(status: str, *, note=None, missing_materials=None, channel="sms") -> ApplicationView:
    return ApplicationView(
        masked_number="SQ2026****0001",
        service_name="个人贷款",
        masked_name="张**",
        status=status,
        since=SINCE,
        note=note,
        missing_materials=missing_materials,
        notification_channel=channel,
    )


def test_every_application_status_has_a_stage():
    assert set(STAGES) == {status.value for status in ApplicationStatus}


@pytest.mark.parametrize("status", sorted(STAGES))
def test_describe_names_the_stage_and_since_when(status):
    text = describe(view(status, missing_materials=MATERIALS))
    assert f"当前状态：{STAGES[status].label}。" in text
    assert STAGES[status].meaning in text
    assert "2026年11月28日 10:05" in text
    assert "SQ2026****0001" in text
    assert "张**您好" in text


def test_materials_required_lists_the_materials():
    text = describe(view("materials_required", missing_materials=MATERIALS + "。"))
    assert f"请尽快补充以下材料：{MATERIALS}。" in text
    assert "。。" not in text


def test_materials_required_without_a_list_points_to_the_notice():
    text = describe(view("materials_required"))
    assert "请留意通知中的材料清单" in text


def test_returned_gives_the_reason():
    text = describe(view("returned", note="收入证明不符合要求。"))
    assert "退回原因：收入证明不符合要求。" in text
    assert "。。" not in text


@pytest.mark.parametrize("status", [s for s in STAGES if s != "returned"])
def test_other_stages_do_not_show_the_internal_note(status):
    text = describe(view(status, note="内部备注：客户经理王五"))
    assert "内部备注" not in text
    assert "退回原因" not in text


def test_completed_has_no_notification_line():
    text = describe(view("completed"))
    assert "通知您" not in text
    assert "无需其他操作" in text


@pytest.mark.parametrize("channel, word", sorted(NOTIFICATION_CHANNELS.items()))
@pytest.mark.parametrize("status", [s for s in STAGES if s != "completed"])
def test_notification_channel_word(status, channel, word):
    text = describe(view(status, channel=channel, missing_materials=MATERIALS))
    assert f"办理结果将通过{word}通知您。" in text


def test_unknown_channel_names_all_of_them():
    text = describe(view("under_review", channel="fax"))
    assert "办理结果将通过短信、邮件或APP推送通知您。" in text


def test_channel_words():
    assert NOTIFICATION_CHANNELS == {"sms": "短信", "email": "邮件", "app_push": "APP推送"}


def test_mask_application_number():
    masked = mask_application_number("SQ202611280001")
    assert masked == "SQ2026****0001"
    assert "1128" not in masked


def test_mask_leaves_short_text_alone():
    assert mask_application_number("SQ123") == "SQ123"
