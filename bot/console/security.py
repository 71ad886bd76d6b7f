"""CSRF tokens, the Origin check, security headers and the in-memory guards.

The login rate limit and the revoked-session list here live in this
process's memory: enough for one console process. With several behind a
load balancer (``BOT_REDIS_URL`` set), ``shared_state`` subclasses them to
keep both in Redis, behind these same (async) methods, and falls back to
this memory while Redis is unreachable.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from typing import Callable, Deque, Dict, Iterable, Optional, Tuple
from urllib.parse import urlsplit

from aiohttp import web

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS: Dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: every response gets them, errors, static
    files and the websocket handshake included. Nothing the console serves
    may be cached except its static assets, which are revalidated."""
    response.headers.update(SECURITY_HEADERS)
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"
    else:
        response.headers["Cache-Control"] = "no-store"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def tokens_match(expected: Optional[str], supplied: Optional[str]) -> bool:
    """Constant-time comparison; a missing token on either side never matches."""
    if not isinstance(expected, str) or not isinstance(supplied, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode(), supplied.encode())


def origin_allowed(request: web.Request, allowed: Iterable[str]) -> bool:
    """The browser's ``Origin`` is the console itself (same host and port as
    the request, whatever the scheme a TLS proxy in front may have changed)
    or one of ``allowed``. No Origin at all is refused: browsers always send
    it on a websocket handshake."""
    origin = request.headers.get("Origin")
    if not origin or origin == "null":
        return False
    normalised = origin.strip().rstrip("/").lower()
    if normalised in {entry.strip().rstrip("/").lower() for entry in allowed}:
        return True
    parts = urlsplit(normalised)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return parts.netloc == (request.host or "").lower()


class LoginRateLimiter:
    """At most ``max_failures`` failed logins per (username, IP) within
    ``window`` seconds; after that the pair is refused, without a password
    check, until the oldest failure leaves the window. A success clears the pair. Keyed on both so
    that an attacker cannot lock a colleague out from elsewhere, and a
    shared office IP does not block everyone. At most ``max_keys`` pairs
    are remembered (the oldest are forgotten first), so memory stays bounded.

    The client IP is the TCP peer: behind a reverse proxy that is the proxy,
    and the limit then works per username only (configure the proxy to
    limit too, or teach this the proxy's forwarded header)."""

    def __init__(
        self,
        max_failures: int = 5,
        window: float = 15 * 60,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._failures: "OrderedDict[Tuple[str, str], Deque[float]]" = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(username: str, ip: Optional[str]) -> Tuple[str, str]:
        return (username.strip().lower()[:64], ip or "")

    async def attempt(self, key: Tuple[str, str]) -> Optional[float]:
        """Count a login attempt of the pair before its password is checked:
        None when it may go ahead, else the seconds until it may try again.
        Counting first keeps concurrent attempts from slipping past the
        limit; a success then clears the pair (``succeeded``)."""
        with self._lock:
            failures = self._recent(key)
            if failures is not None and len(failures) >= self.max_failures:
                return max(1.0, failures[0] + self.window - self._clock())
            if failures is None:
                failures = self._failures[key] = deque(maxlen=self.max_failures)
            failures.append(self._clock())
            self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)
            return None

    async def succeeded(self, key: Tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _recent(self, key: Tuple[str, str]) -> Optional[Deque[float]]:
        failures = self._failures.get(key)
        if failures is None:
            return None
        horizon = self._clock() - self.window
        while failures and failures[0] <= horizon:
            failures.popleft()
        if not failures:
            del self._failures[key]
            return None
        return failures


class RevokedSessions:
    """Session ids ended by a logout. The session lives in an encrypted
    cookie, so logging out clears the browser's copy but a copy taken
    earlier would stay valid until its max age: remembering the id until
    then closes that gap."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._until: Dict[str, float] = {}
        self._lock = threading.Lock()

    async def revoke(self, sid: str, until: float) -> None:
        with self._lock:
            self._prune()
            self._until[sid] = until

    async def is_revoked(self, sid: str) -> bool:
        with self._lock:
            until = self._until.get(sid)
            return until is not None and until > self._clock()

    def _prune(self) -> None:
        now = self._clock()
        for sid in [sid for sid, until in self._until.items() if until <= now]:
            del self._until[sid]
