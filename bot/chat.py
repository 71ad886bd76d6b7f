"""Talk to the running bot from a terminal over Rasa's REST channel.

    python -m bot.chat [--url http://127.0.0.1:5005]

Buttons are numbered; type the number to press one. Empty line or Ctrl-D quits.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request
import uuid

from bot.settings import get_settings


def send(url: str, sender: str, message: str) -> list:
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main() -> int:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="Chat with the running bot.")
    parser.add_argument("--url", default=f"http://127.0.0.1:{settings.rasa_port}")
    args = parser.parse_args()
    sender, buttons = f"shell-{uuid.uuid4().hex[:8]}", []
    print("金融客服助手 (empty line to quit)")
    while True:
        try:
            line = input("您: ").strip()
        except EOFError:
            break
        if not line:
            break
        if line.isdigit() and 1 <= int(line) <= len(buttons):
            line = buttons[int(line) - 1]["payload"]
        buttons = []
        for message in send(args.url, sender, line):
            if message.get("text"):
                print(f"客服: {message['text']}")
            for button in message.get("buttons") or []:
                buttons.append(button)
                print(f"  [{len(buttons)}] {button['title']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
