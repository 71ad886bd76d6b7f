"""Customer-facing text of the WeChat channel (Simplified; bank-staff register)."""

# Buttons become numbered choices under the message.
CHOOSE_BY_NUMBER = "回复数字即可："
# Images and voice messages are not understood.
TEXT_ONLY = "抱歉，暂时无法识别图片和语音消息，请用文字描述您的问题。"
# The bot failed on a message.
BUSY = "抱歉，系统暂时繁忙，请稍后再试。"
