"""What the handoff says to customers (Simplified Chinese; Rasa's NLG does
not touch events the console appends, so these are sent as written).

Sent by the console: on claim, close and hand-back, after a queue
time-out, for a callback number (the bot's own handoff texts are in
actions/texts.py). Facts only from the handbook: human service
on working days 9:00-22:00 (1.3), dedicated service answers within 20
minutes and 首问负责制 (2.2), satisfaction surveys (6.3)."""
from __future__ import annotations

from typing import Dict, List

from bot.privacy import mask_phone

# What a waiting customer types to go back to the bot (after OpenCC and
# without punctuation: 取消 / 返回機器人 work too).
WITHDRAW_WORDS = frozenset({"取消", "返回机器人", "取消转人工", "返回", "不用人工了", "退出人工"})

WITHDRAWN = "好的，已为您取消人工服务，接下来由智能客服继续为您服务。请问还有什么可以帮您？"
HANDED_BACK = "人工客服已结束本次服务，接下来由智能客服继续为您服务。如还需人工帮助，请随时回复“转人工”。"


def agent_joined(agent_name: str, case_number: str) -> str:
    return (
        f"您好，我是客服{agent_name}，很高兴为您服务。您的服务单号为{case_number}，"
        "按照首问负责制，您的问题将由我负责跟进到底。"
    )


def agent_says(agent_name: str, text: str) -> str:
    """An agent's message as the customer sees it, with the agent's name."""
    return f"【客服{agent_name}】{text}"


def callback_noted(phone: str) -> str:
    return f"已记录您的回电号码{mask_phone(phone)}，客服接入后会优先与您联系。"


QUEUE_TIMED_OUT = (
    "非常抱歉让您久等了，目前人工客服繁忙，暂时未能接入。您可以继续等待，"
    "也可以直接留下11位手机号码，我们会尽快回电；回复“返回机器人”可继续由智能客服为您服务。"
)

CLOSED = "您的问题已处理完毕，感谢您的耐心。为了改进服务，请您为本次人工服务打分（5分为非常满意）："


def satisfaction_buttons() -> List[Dict[str, str]]:
    labels = {5: "5分 非常满意", 4: "4分 满意", 3: "3分 一般", 2: "2分 不满意", 1: "1分 非常不满意"}
    return [
        {"title": title, "payload": f'/rate_service{{"satisfaction_score":"{score}"}}'}
        for score, title in labels.items()
    ]
