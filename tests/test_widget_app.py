"""The widget's aiohttp app without a browser: what it serves and how.

The browser tests (test_widget_browser.py) cover the widget itself."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import textwrap

import pytest

from bot.settings import ROOT, Settings
from bot.widget.app import SOCKET_IO_CLIENT, SOCKET_IO_VERSION, VENDOR_DIR, bundle, create_app, demo_csp


@pytest.fixture
async def client(aiohttp_client):
    settings = Settings(rasa_url="https://rasa.example.com:8443")
    return await aiohttp_client(create_app(settings))


async def test_the_demo_page_embeds_the_widget_with_one_tag_under_a_strict_policy(client):
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    tags = re.findall(r"<script[^>]*>", page)
    assert tags == [
        '<script src="/widget.js" data-rasa-url="https://rasa.example.com:8443" '
        'data-title="金融客服助手" defer>'
    ]
    assert "<style" not in page and " style=" not in page and "onclick" not in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "connect-src 'self' https://rasa.example.com:8443 wss://rasa.example.com:8443;" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_rasa_url_is_escaped_in_the_page(aiohttp_client):
    app = create_app(Settings(), rasa_url='http://rasa"><script>alert(1)</script>')
    page = await (await (await aiohttp_client(app)).get("/")).text()
    assert "<script>alert(1)" not in page
    assert 'data-rasa-url="http://rasa&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


async def test_widget_js_is_the_vendored_client_kept_local_and_the_widget(client):
    response = await client.get("/widget.js")
    assert response.status == 200
    assert response.content_type == "application/javascript"
    assert response.charset == "utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    script = await response.text()
    assert f"Socket.IO v{SOCKET_IO_VERSION}" in script
    assert "var module = { exports: {} }, exports = module.exports, define;" in script
    assert "sourceMappingURL" not in script
    assert "window[NAMESPACE] = Object.freeze(" in script

    # Revalidated by ETag, not downloaded again.
    again = await client.get("/widget.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


async def test_the_stylesheet_the_license_and_health(client):
    css = await client.get("/widget.css")
    assert css.status == 200 and css.content_type == "text/css"
    assert ":host" in await css.text()
    license_ = await client.get("/vendor/socket.io-client/LICENSE.txt")
    assert license_.status == 200 and "MIT License" in await license_.text()
    assert (await (await client.get("/health")).json()) == {"status": "ok"}


@pytest.mark.parametrize("path", [
    "/widget.src.js", "/static/widget.js", "/vendor/socket.io.min.js", "/demo/index.html",
    "/../settings.py", "/app.py",
])
async def test_nothing_else_of_the_package_is_served(client, path):
    assert (await client.get(path)).status == 404


def test_the_vendored_client_is_the_one_its_readme_names():
    readme = (VENDOR_DIR / "README.md").read_text(encoding="utf-8")
    digest = hashlib.sha256(SOCKET_IO_CLIENT.read_bytes()).hexdigest()
    assert f"socket.io.min.js` sha256: `{digest}`" in readme
    assert f"version **{SOCKET_IO_VERSION}**" in readme
    assert "MIT License" in (VENDOR_DIR / "LICENSE.socket.io-client.txt").read_text(encoding="utf-8")


def test_the_bundle_hides_the_clients_umd_from_the_page():
    script = bundle("/*! c */\n!function(t,n){}(this,function(){});\n//# sourceMappingURL=x.map", "io;")
    assert script.count("(function () {") == 2 and "x.map" not in script
    assert script.rstrip().endswith("})();")


def test_the_policy_lets_the_page_reach_only_rasa():
    assert "connect-src 'self' http://127.0.0.1:5005 ws://127.0.0.1:5005;" in demo_csp(
        "http://127.0.0.1:5005/"
    )


def test_importing_reads_no_file_and_the_command_line_has_help():
    probe = textwrap.dedent(
        """
        import pathlib
        def refuse(*args, **kwargs):
            raise AssertionError("a file was read at import time")
        pathlib.Path.read_text = pathlib.Path.read_bytes = refuse
        import bot.widget, bot.widget.app, bot.widget.__main__
        print("ok")
        """
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert imported.returncode == 0 and imported.stdout.strip() == "ok", imported.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "bot.widget", "--help"], cwd=ROOT, capture_output=True, text=True,
        timeout=120,
    )
    assert helped.returncode == 0, helped.stderr
    assert "--port" in helped.stdout and "--rasa-url" in helped.stdout


def _widget_source() -> str:
    from bot.widget.app import STATIC_DIR

    return (STATIC_DIR / "widget.js").read_text(encoding="utf-8")


def test_the_widget_never_writes_markup():
    source = _widget_source()
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert forbidden not in source, forbidden
