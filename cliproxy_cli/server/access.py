"""Access control as pure ASGI middleware (SPEC §7).

- API keys (when configured) from ``Authorization: Bearer``, ``x-api-key``, ``x-goog-api-key``,
  ``?key=`` or ``?auth_token=``, compared in constant time against every configured key.
- On a loopback bind, a ``Host`` that is not a loopback name is refused (DNS rebinding).
- No CORS headers unless ``cors-allow-origins`` lists the origin; POST bodies must be JSON (415),
  so a cross-site page cannot send a "simple" request.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Final
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cliproxy_cli.formats.ir import Format
from cliproxy_cli.server.errors import error_response
from cliproxy_cli.server.runtime import Runtime

OPEN_PATHS: Final = frozenset({"/", "/healthz"})
LOOPBACK_HOSTS: Final = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def caller_format(path: str) -> Format:
    """Which error shape a path's clients expect."""
    if path.startswith("/v1/messages"):
        return Format.ANTHROPIC
    if path.startswith(("/v1beta", "/v1internal")):
        return Format.GEMINI
    if path.startswith("/v1/responses"):
        return Format.OPENAI_RESPONSES
    return Format.OPENAI_CHAT


def is_loopback_host(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _host_name(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def presented_keys(headers: dict[bytes, bytes], query: bytes) -> list[str]:
    found: list[str] = []
    auth = headers.get(b"authorization")
    if auth:
        text = auth.decode("latin-1").strip()
        scheme, _, value = text.partition(" ")
        found.append(value.strip() if scheme.lower() == "bearer" and value else text)
    for name in (b"x-api-key", b"x-goog-api-key"):
        if name in headers:
            found.append(headers[name].decode("latin-1").strip())
    if query and (b"key=" in query or b"auth_token=" in query):
        for k, v in parse_qsl(query.decode("latin-1")):
            if k in ("key", "auth_token"):
                found.append(v)
    return found


def key_matches(candidates: list[str], keys: tuple[str, ...]) -> bool:
    ok = False
    for candidate in candidates:
        c = candidate.encode()
        for key in keys:
            ok |= hmac.compare_digest(c, key.encode())
    return ok


class AccessMiddleware:
    def __init__(self, app: ASGIApp, runtime: Callable[[], Runtime], *, loopback_bind: bool) -> None:
        self.app = app
        self.runtime = runtime
        self.loopback_bind = loopback_bind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rt = self.runtime()
        config = rt.config
        headers = dict(scope["headers"])
        path: str = scope["path"]
        fmt = caller_format(path)
        if self.loopback_bind:
            host = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if host and not is_loopback_host(host):
                await error_response(fmt, 403, f"host {host!r} is not allowed on a loopback "
                                     "bind (DNS rebinding protection)")(scope, receive, send)
                return
        origin = headers.get(b"origin")
        allowed = _allowed_origin(origin, config.cors_allow_origins)
        if scope["method"] == "OPTIONS" and allowed:
            await _preflight(allowed, send)
            return
        if path not in OPEN_PATHS and config.api_keys:
            keys = presented_keys(headers, scope.get("query_string", b""))
            if not keys:
                await error_response(fmt, 401, "missing API key: send it as Authorization: "
                                     "Bearer, x-api-key or x-goog-api-key")(scope, receive, send)
                return
            if not key_matches(keys, config.api_keys):
                await error_response(fmt, 401, "invalid API key")(scope, receive, send)
                return
        if scope["method"] == "POST" and not _is_json(headers.get(b"content-type", b"")):
            await error_response(fmt, 415, "request bodies must be application/json")(
                scope, receive, send)
            return
        if allowed:
            await self.app(scope, receive, _with_cors(send, allowed))
        else:
            await self.app(scope, receive, send)


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")


def _allowed_origin(origin: bytes | None, allowed: tuple[str, ...]) -> bytes | None:
    if not origin or not allowed:
        return None
    text = origin.decode("latin-1")
    if "*" in allowed or text in allowed:
        return origin
    return None


async def _preflight(origin: bytes, send: Send) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
        (b"access-control-allow-headers", b"*"),
        (b"access-control-max-age", b"600"),
        (b"vary", b"Origin"),
    ]})
    await send({"type": "http.response.body", "body": b""})


def _with_cors(send: Send, origin: bytes) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []),
                                  (b"access-control-allow-origin", origin), (b"vary", b"Origin")]
        await send(message)

    return wrapped
