"""Console login, logout, sessions, CSRF and security headers, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.console.security import LoginRateLimiter, RevokedSessions, tokens_match
from bot.db.engine import unit_of_work
from bot.handoff.models import AuditAction, AuditEntry
from test_console_fixtures import (  # noqa: F401  (fixtures are found by name)
    PASSWORD,
    Console,
    calendar,
    console,
    database_url,
    db,
    fast_seeding,
    login,
    login_token,
    make_app,
    open_case,
    post,
    postgres_database_url,
    stored,
)

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _audit(db: str):
    with unit_of_work(db) as session:
        return [
            (entry.action, entry.detail)
            for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
        ]


def _session_cookie_header(response) -> str:
    headers = [h for h in response.headers.getall("Set-Cookie", []) if "kefu_console=" in h]
    assert len(headers) == 1, response.headers.getall("Set-Cookie", [])
    return headers[0]


async def test_login_sets_a_hardened_session_cookie_and_the_api_knows_the_agent(console: Console):
    client = await console.client()
    response = await login(client, "agent1", PASSWORD)

    assert response.status == 200
    body = await response.json()
    assert body["agent"] == {
        "username": "agent1",
        "display_name": "李娜",
        "role": {"value": "agent", "label": "客服"},
        "is_supervisor": False,
    }
    cookie = _session_cookie_header(response).lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "max-age=28800" in cookie
    assert "path=/" in cookie
    assert "secure" not in cookie.replace("kefu_console", "")  # plain http on localhost here

    me = await client.get("/api/me")
    assert me.status == 200
    assert (await me.json()) == {**body["agent"], "csrf_token": body["csrf_token"]}
    assert me.headers["Cache-Control"] == "no-store"
    assert (AuditAction.LOGIN, "") in _audit(console.db)


async def test_the_cookie_is_secure_with_the_host_prefix_when_configured(
    db, calendar, aiohttp_client
):
    client = await aiohttp_client(make_app(db, calendar, cookie_secure=True))
    # The client keeps a Secure cookie for https only: look at what was set.
    response = await client.get("/login")
    cookie = _session_cookie_header(response)
    assert cookie.startswith("__Host-kefu_console=")
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie


async def test_a_failed_login_says_the_same_for_a_wrong_password_and_an_unknown_user(
    console: Console,
):
    client = await console.client()
    wrong_password = await login(client, "agent1", "not-the-password")
    unknown_user = await login(client, "nobody", PASSWORD)
    empty = await login(client, "agent1", "")

    assert wrong_password.status == unknown_user.status == 401
    assert (await wrong_password.json()) == (await unknown_user.json()) == {
        "error": "用户名或密码错误"
    }
    assert empty.status == 422
    assert (await empty.json()) == {"error": "请输入用户名和密码"}
    assert (await client.get("/api/me")).status == 401
    failures = [detail for action, detail in _audit(console.db) if action is AuditAction.LOGIN_FAILED]
    assert failures == ["wrong password: agent1", "unknown user: nobody"]


async def test_login_needs_the_token_issued_by_get_login(console: Console):
    client = await console.client()
    without = await client.post("/login", data={"username": "agent1", "password": PASSWORD})
    wrong = await login(client, "agent1", PASSWORD, token="forged")
    other_browser_token = await login_token(await console.client())
    foreign = await login(client, "agent1", PASSWORD, token=other_browser_token)

    for response in (without, wrong, foreign):
        assert response.status == 403
        assert (await response.json()) == {"error": "安全校验失败，请刷新页面后重试"}
    assert (await client.get("/api/me")).status == 401
    assert _audit(console.db) == []  # refused before any password check


async def test_failed_logins_are_limited_per_username_and_address(db, calendar, aiohttp_client):
    client = await aiohttp_client(
        make_app(db, calendar, login_limiter=LoginRateLimiter(max_failures=3, window=600))
    )
    for _ in range(3):
        assert (await login(client, "agent1", "guess")).status == 401

    blocked = await login(client, "agent1", PASSWORD)  # even the right password now
    assert blocked.status == 429
    assert (await blocked.json()) == {"error": "登录失败次数过多，请10分钟后再试"}
    # An unknown username is limited the same way: no enumeration.
    for _ in range(3):
        await login(client, "ghost", "guess")
    assert (await login(client, "ghost", "guess")).status == 429
    # Colleagues are not locked out.
    assert (await login(client, "agent2", PASSWORD)).status == 200
    assert _audit(db).count((AuditAction.LOGIN_FAILED, "rate limited: agent1")) == 1


async def test_the_rate_limiter_forgets_failures_after_the_window_and_on_success():
    now = [0.0]
    limiter = LoginRateLimiter(max_failures=2, window=60, clock=lambda: now[0])
    key = limiter.key(" Agent1 ", "10.0.0.1")
    assert key == ("agent1", "10.0.0.1")
    assert await limiter.attempt(key) is None
    now[0] = 10
    assert await limiter.attempt(key) is None
    assert await limiter.attempt(key) == pytest.approx(50)
    assert await limiter.attempt(limiter.key("agent1", "10.0.0.2")) is None
    now[0] = 61
    assert await limiter.attempt(key) is None  # the first attempt left the window
    await limiter.succeeded(key)
    assert await limiter.attempt(key) is None and await limiter.attempt(key) is None


async def test_the_rate_limiter_remembers_a_bounded_number_of_keys():
    limiter = LoginRateLimiter(max_failures=1, window=60, max_keys=2)
    for name in ("a", "b", "c"):
        await limiter.attempt(limiter.key(name, "ip"))
    assert await limiter.attempt(limiter.key("a", "ip")) is None  # forgotten, the oldest
    assert await limiter.attempt(limiter.key("c", "ip")) is not None


async def test_revoked_sessions_expire_and_tokens_compare_safely():
    now = [100.0]
    revoked = RevokedSessions(clock=lambda: now[0])
    await revoked.revoke("sid", until=200)
    assert await revoked.is_revoked("sid") and not await revoked.is_revoked("other")
    now[0] = 201
    assert not await revoked.is_revoked("sid")
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match(None, None) and not tokens_match("", "")


async def test_logout_ends_the_session_even_for_a_copy_of_the_cookie(console: Console):
    client = await console.agent("agent1")
    stolen = {cookie.key: cookie.value for cookie in client.session.cookie_jar}

    without_token = await client.post("/logout")
    assert without_token.status == 403
    response = await post(client, "/logout")

    assert response.status == 200
    assert (await client.get("/api/me")).status == 401
    replay = await console.client()
    replay.session.cookie_jar.update_cookies(stolen)
    assert (await replay.get("/api/me")).status == 401
    assert [a for a, _ in _audit(console.db)] == [AuditAction.LOGIN, AuditAction.LOGOUT]


async def test_a_deactivated_agent_is_logged_out_at_the_next_request(console: Console):
    client = await console.agent("agent1")
    with unit_of_work(console.db) as session:
        from bot.handoff.repositories import AgentRepository

        AgentRepository(session).by_username("agent1").active = False
    assert (await client.get("/api/queue")).status == 401


ROUTES = [
    ("GET", "/api/me"),
    ("GET", "/api/queue"),
    ("GET", "/api/cases/mine"),
    ("GET", "/api/cases"),
    ("GET", "/api/cases/AJ202611270001"),
    ("GET", "/api/agents"),
    ("GET", "/api/canned-replies"),
    ("POST", "/api/cases/AJ202611270001/claim"),
    ("POST", "/api/cases/AJ202611270001/messages"),
    ("POST", "/api/cases/AJ202611270001/stage"),
    ("POST", "/api/cases/AJ202611270001/transfer"),
    ("POST", "/api/cases/AJ202611270001/consult"),
    ("POST", "/api/cases/AJ202611270001/close"),
    ("POST", "/api/cases/AJ202611270001/reassign"),
    ("POST", "/api/cases/AJ202611270001/return-to-bot"),
    ("POST", "/logout"),
]


async def test_every_api_route_needs_a_logged_in_agent(console: Console, calendar):
    number = open_case(console.db, calendar)
    assert number == "AJ202611270001"
    client = await console.client()
    for method, path in ROUTES:
        response = await client.request(method, path, headers={"X-CSRF-Token": "x"}, json={})
        assert response.status == 401, (method, path)
        assert (await response.json()) == {"error": "请先登录"}
        assert response.headers["Cache-Control"] == "no-store"
    assert stored(console.db, number, "status") == ("waiting",)


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_a_change_without_the_sessions_csrf_token_is_refused_and_changes_nothing(
    console: Console, calendar, token
):
    number = open_case(console.db, calendar)
    client = await console.agent("agent1")
    headers = {} if token is None else {"X-CSRF-Token": token}

    response = await client.post(f"/api/cases/{number}/claim", json={}, headers=headers)

    assert response.status == 403
    assert (await response.json()) == {"error": "安全校验失败，请刷新页面后重试"}
    assert stored(console.db, number, "status", "owner") == ("waiting", None)
    assert AuditAction.CLAIM not in [action for action, _ in _audit(console.db)]


async def test_another_sessions_token_does_not_do(console: Console, calendar):
    number = open_case(console.db, calendar)
    li = await console.agent("agent1")
    wang = await console.agent("agent2")
    response = await li.post(
        f"/api/cases/{number}/claim", json={}, headers={"X-CSRF-Token": wang.csrf}
    )
    assert response.status == 403
    assert stored(console.db, number, "owner") == (None,)


@pytest.mark.parametrize(
    "path", ["/", "/static/console.js", "/static/console.css", "/api/me", "/login", "/nowhere"]
)
async def test_every_response_carries_the_security_headers(console: Console, path):
    response = await (await console.client()).get(path)
    for header, value in SECURITY_HEADERS.items():
        assert value in response.headers.get(header, ""), (path, header)
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    expected_cache = "no-cache" if path.startswith("/static/") else "no-store"
    assert response.headers["Cache-Control"] == expected_cache


async def test_the_ui_is_served_without_inline_code_or_outside_resources(console: Console):
    client = await console.client()
    page = await client.get("/")
    html = await page.text()
    assert page.status == 200 and page.content_type == "text/html"
    assert '<script src="/static/console.js" defer></script>' in html
    assert "<script>" not in html and "style=" not in html and "http" not in html
    script = await (await client.get("/static/console.js")).text()
    assert "innerHTML" not in script and "X-CSRF-Token" in script
    assert (await client.get("/static/")).status in (403, 404)
    assert (await client.get("/static/../app.py")).status in (403, 404)


async def test_unknown_pages_and_methods_answer_in_chinese_json(console: Console):
    client = await console.agent("agent1")
    missing = await client.get("/api/nothing-here")
    assert missing.status == 404 and (await missing.json()) == {"error": "未找到"}
    wrong_method = await client.delete("/api/queue", headers={"X-CSRF-Token": client.csrf})
    assert wrong_method.status == 405 and (await wrong_method.json()) == {"error": "不支持的请求方法"}
