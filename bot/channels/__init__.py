"""Rasa input channels of our own (Rasa loads them by dotted path from
credentials.yml). ``bot.channels.wechat.WeChatInput``: the WeChat official
account (微信公众号). Importing this package does no I/O."""
