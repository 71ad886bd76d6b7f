"""python -m bot.widget [--host H] [--port P] [--rasa-url URL]: the widget and its demo page."""
from __future__ import annotations

import argparse
import logging
from typing import List, Optional

from aiohttp import web

from bot.settings import get_settings


def main(argv: Optional[List[str]] = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="金融客服助手 网页在线客服（演示页与 widget.js）")
    parser.add_argument("--host", default=settings.widget_host)
    parser.add_argument("--port", type=int, default=settings.widget_port)
    parser.add_argument(
        "--rasa-url", default=None,
        help="the Rasa server as browsers reach it (default: BOT_WIDGET_RASA_URL, "
        "else BOT_RASA_URL or rasa_host:rasa_port)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from bot.widget.app import create_app

    web.run_app(create_app(settings, rasa_url=args.rasa_url), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
