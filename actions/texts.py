"""Customer-facing text sent by custom actions (Simplified; rendered per script)."""

RELATED_QUESTIONS = "您可能还想了解："
FEATURED_QUESTIONS = "猜你想问："
DID_YOU_MEAN = "抱歉，我不太确定您的意思。您是不是想问："
NONE_OF_THESE = "都不是"
