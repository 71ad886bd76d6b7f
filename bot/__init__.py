"""金融客服助手: the bot's own Python code (NLU components, NLG, FAQ tooling)."""
