"""python -m bot.console [--host H] [--port P]: run the agents' console."""
from __future__ import annotations

import argparse
import logging
from typing import List, Optional

from aiohttp import web

from bot.console.app import create_app
from bot.settings import get_settings


def main(argv: Optional[List[str]] = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description="金融客服助手 人工坐席工作台")
    parser.add_argument("--host", default=settings.console_host)
    parser.add_argument("--port", type=int, default=settings.console_port)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The default of the cookie's Secure flag follows the address listened on.
    settings = settings.copy(update={"console_host": args.host, "console_port": args.port})
    web.run_app(create_app(settings), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
