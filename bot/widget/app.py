"""The widget's aiohttp application: the demo page, ``/widget.js`` and its CSS.

    app = create_app()                      # settings from the environment
    web.run_app(app, host=..., port=...)    # or: python -m bot.widget

Routes (nothing else of the package is served):

``GET /``
    A demo bank page that embeds the widget with one script tag pointing at
    this app's ``/widget.js`` and at the Rasa server (``rasa_url`` or the
    settings' ``rasa_base_url``). A strict Content-Security-Policy shows the
    widget needs no inline script or style and no ``eval``.
``GET /widget.js``
    One script: the vendored socket.io client (``static/vendor``, npm
    ``socket.io-client`` 4.8.4, MIT), wrapped in a function so that it
    defines no global, followed by ``static/widget.js``. The only global the
    page gets is ``window.KefuWidget``.
``GET /widget.css``
    The widget's stylesheet, linked from inside its shadow root.
``GET /demo.css``, ``GET /vendor/socket.io-client/LICENSE.txt``, ``GET /health``

The files are read once, by ``create_app`` (never at import time).
"""
from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional
from urllib.parse import urlsplit

from aiohttp import web

from bot.settings import Settings, get_settings

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
SOCKET_IO_CLIENT = VENDOR_DIR / "socket.io.min.js"
SOCKET_IO_LICENSE = VENDOR_DIR / "LICENSE.socket.io-client.txt"
SOCKET_IO_VERSION = "4.8.4"

JS = "application/javascript"
CSS = "text/css"
TEXT = "text/plain"
HTML = "text/html"


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> "Asset":
        return cls(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


ASSETS = web.AppKey("widget_assets", Dict[str, Asset])


def bundle(vendor: str, widget: str) -> str:
    """``/widget.js``: the socket.io client, kept out of the page's globals, then the widget.

    The client's UMD wrapper sees local ``module``/``exports`` (CommonJS), so it
    neither sets ``window.io`` nor calls a page's AMD ``define``; the widget
    then finds it as the local ``io``."""
    vendor = "\n".join(
        line for line in vendor.splitlines() if not line.startswith("//# sourceMappingURL=")
    )
    return (
        f"/*! 金融客服助手 网页在线客服 widget.js. Includes Socket.IO client v{SOCKET_IO_VERSION}"
        " (MIT License, see /vendor/socket.io-client/LICENSE.txt). */\n"
        "(function () {\n"
        "var io = (function () {\n"
        "var module = { exports: {} }, exports = module.exports, define;\n"
        f"{vendor}\n"
        ";return module.exports;\n"
        "})();\n"
        f"{widget}\n"
        "})();\n"
    )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def demo_csp(rasa_url: str) -> str:
    """The demo page's policy: its own scripts and styles only, sockets to Rasa."""
    rasa = _origin(rasa_url)
    connect = ["'self'"]
    if rasa:
        socket = ("wss" if rasa.startswith("https:") else "ws") + rasa[rasa.index(":"):]
        connect += [rasa, socket]
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: https:",
            "connect-src " + " ".join(connect),
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def demo_page(template: str, rasa_url: str) -> str:
    return template.replace("{{RASA_URL}}", html.escape(rasa_url, quote=True))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def load_assets(rasa_url: str) -> Dict[str, Asset]:
    widget = bundle(_read(SOCKET_IO_CLIENT), _read(STATIC_DIR / "widget.js"))
    return {
        "/": Asset.of(demo_page(_read(STATIC_DIR / "demo" / "index.html"), rasa_url).encode(), HTML),
        "/widget.js": Asset.of(widget.encode(), JS),
        "/widget.css": Asset.of((STATIC_DIR / "widget.css").read_bytes(), CSS),
        "/demo.css": Asset.of((STATIC_DIR / "demo" / "demo.css").read_bytes(), CSS),
        "/vendor/socket.io-client/LICENSE.txt": Asset.of(SOCKET_IO_LICENSE.read_bytes(), TEXT),
    }


def _handler(path: str):
    async def serve(request: web.Request) -> web.StreamResponse:
        asset = request.app[ASSETS][path]
        if asset.etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers={"ETag": asset.etag})
        return web.Response(
            body=asset.body, content_type=asset.content_type, charset="utf-8",
            headers={"ETag": asset.etag},
        )

    return serve


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Optional[Settings] = None, *, rasa_url: Optional[str] = None) -> web.Application:
    """The widget app. ``rasa_url``: the Rasa server as the *browser* reaches it
    (the demo page's ``data-rasa-url``); default the settings' ``widget_rasa_url``,
    else ``rasa_base_url``."""
    settings = settings or get_settings()
    rasa_url = (rasa_url or settings.widget_rasa_url or settings.rasa_base_url).rstrip("/")
    app = web.Application()
    app[ASSETS] = load_assets(rasa_url)
    csp = demo_csp(rasa_url)

    async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
        if request.path == "/":
            response.headers["Content-Security-Policy"] = csp
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Cache-Control"] = "no-cache"
        else:
            # The script and stylesheet are embedded by other sites' pages.
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Cache-Control"] = "no-cache"

    app.on_response_prepare.append(security_headers)
    for path in app[ASSETS]:
        app.router.add_get(path, _handler(path))
    app.router.add_get("/health", health)
    return app
