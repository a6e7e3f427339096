"""Fake subscription upstreams: what each vendor's CLI backend checks and answers, written from
the vendors' documented and observed shapes (never with cliproxy's own code).

One ASGI app per vendor, each also serving its OAuth token endpoint (refresh grant) and its
quota/usage endpoint; ``FakeSubscriptions`` mounts all five under path prefixes so one server
serves them, and ``environ()`` gives the ``CLIPROXY_ENDPOINT_*`` overrides pointing there.

- ``FakeCodeAssist`` (``/google``): ``v1internal:generateContent|streamGenerateContent|
  countTokens`` with the ``{model, project, request}`` envelope (countTokens: ``{request}``),
  answering ``{"response": …, "traceId": …}``; ``retrieveUserQuota``; Google's token endpoint.
- ``FakeClaudeOAuth`` (``/anthropic``): Messages with a Bearer token, the ``oauth-2025-04-20``
  beta and the Claude Code system prompt first (else Anthropic's "only authorized for use with
  Claude Code" 400); ``/api/oauth/usage``; the Claude token endpoint.
- ``FakeChatGPTCodex`` (``/chatgpt``): ``/backend-api/codex/responses`` requiring
  ``chatgpt-account-id``, ``originator``, ``store:false``, ``stream:true``, ``instructions`` and
  rejecting the parameters the backend rejects; ``/backend-api/wham/usage``; the OpenAI token
  endpoint.
- ``FakeQwen`` (``/qwen``): Chat Completions at the account's resource URL with QwenCode's
  headers (streams must ask for usage and carry tools); the Qwen token endpoint.
- ``FakeIFlow`` (``/iflow``): Chat Completions with the account's API key and a valid HMAC
  signature; the token endpoint and getUserInfo (which hands out the current API key).

Model answers come from ``FakeUpstream.route`` (``tests/fakes/upstreams.py``), so replies read
``"<family> says: …"`` as in the other e2e tests. Faults: ``vendor.faults`` is consumed one per
inference request: ``"429"`` (the vendor's real quota shape, reset ``reset_seconds`` away),
``"401"`` (the presented token is revoked first, as if it had expired) or ``"500"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from cliproxy_cli.endpoints import env_var
from tests.fakes.upstreams import FakeUpstream

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CLAUDE_CODE_PROMPT = "You are Claude Code, Anthropic's official CLI for Claude."
GOOGLE_CLIENT_ID = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
CLAUDE_CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
CODEX_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
QWEN_CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56"
IFLOW_CLIENT_ID, IFLOW_CLIENT_SECRET = "10009311001", "4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any  # JSON or form fields (dict), None when empty

    @property
    def bearer(self) -> str:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else ""


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    chunks: list[bytes] | None = None  # SSE


@dataclass
class Account:
    """One subscription as the vendor knows it."""

    key: str
    access: str
    refresh: str
    project: str = ""  # Code Assist
    account_id: str = ""  # ChatGPT
    api_key: str = ""  # iFlow


class VendorFake:
    vendor: ClassVar[str] = ""
    prefix: ClassVar[str] = ""

    def __init__(self, model: FakeUpstream | None = None) -> None:
        self.model = model or FakeUpstream()
        self.requests: list[Seen] = []
        self.refreshes: list[Seen] = []
        self.faults: list[str] = []
        self.accounts: dict[str, Account] = {}
        self.reset_seconds = 3600
        self._by_token: dict[str, Account] = {}
        self._by_refresh: dict[str, Account] = {}

    # -- accounts and tokens --------------------------------------------------------------------

    def add_account(self, key: str, **ids: str) -> Account:
        account = Account(key, f"{self.vendor}-{key}-access-0", f"{self.vendor}-{key}-refresh-0",
                          **ids)
        self.accounts[key] = account
        self._by_token[self.credential_of(account)] = account
        self._by_refresh[account.refresh] = account
        return account

    def credential_of(self, account: Account) -> str:
        """What the inference API takes as Bearer (iFlow: the API key)."""
        return account.access

    def account_for(self, seen: Seen) -> Account | None:
        return self._by_token.get(seen.bearer)

    def revoke(self, token: str) -> None:
        self._by_token.pop(token, None)

    def refresh(self, refresh_token: str, *, rotate: bool) -> Account | None:
        account = self._by_refresh.get(refresh_token)
        if account is None:
            return None
        self._by_token.pop(account.access, None)
        account.access = f"{self.vendor}-{account.key}-access-{secrets.token_hex(4)}"
        if rotate:
            del self._by_refresh[account.refresh]
            account.refresh = f"{self.vendor}-{account.key}-refresh-{secrets.token_hex(4)}"
            self._by_refresh[account.refresh] = account
        self._by_token[self.credential_of(account)] = account
        return account

    def inference(self) -> list[Seen]:
        return [r for r in self.requests if self.is_inference(r)]

    def served_by(self) -> list[str]:
        """The account key behind every inference request, in order ('?' for unknown)."""
        keys = []
        for r in self.inference():
            account = next((a for a in self.accounts.values()
                            if r.bearer.startswith((f"{self.vendor}-{a.key}-",
                                                    f"sk-iflow-{a.key}-"))), None)
            keys.append(account.key if account else "?")
        return keys

    def clear(self) -> None:
        self.requests.clear()
        self.refreshes.clear()
        self.faults.clear()

    # -- what each vendor defines ---------------------------------------------------------------

    def is_inference(self, seen: Seen) -> bool:
        raise NotImplementedError

    async def handle(self, seen: Seen) -> Answer:
        raise NotImplementedError

    def endpoints(self, base: str) -> dict[str, str]:
        raise NotImplementedError

    # -- shared steps ---------------------------------------------------------------------------

    def next_fault(self, seen: Seen) -> str:
        fault = self.faults.pop(0) if self.faults else ""
        if fault == "401":
            self.revoke(seen.bearer)
        return fault

    async def answer(self, path: str, seen: Seen, body: Any) -> Answer:
        status, payload, stream = await self.model.route(
            path, "&".join(f"{k}={v}" for k, v in seen.query.items()), seen.headers, body)
        return Answer(status, payload, chunks=stream)

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = await read_request(scope, receive, self.prefix)
        self.requests.append(seen)
        await send_answer(send, await self.handle(seen))


async def read_request(scope: Scope, receive: Receive, prefix: str) -> Seen:
    raw = b""
    while True:
        message = await receive()
        raw += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
    body: Any = None
    if raw:
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            body = dict(parse_qsl(raw.decode()))
        else:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
    path = scope["path"].removeprefix(prefix) or "/"
    query = dict(parse_qsl(scope.get("query_string", b"").decode()))
    return Seen(scope["method"], path, query, headers, body)


async def send_answer(send: Send, answer: Answer) -> None:
    if answer.chunks is not None:
        headers = [(b"content-type", b"text/event-stream")]
        headers += [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        for chunk in answer.chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    data = json.dumps(answer.body).encode()
    headers = [(b"content-type", b"application/json")]
    headers += [(k.encode(), v.encode()) for k, v in answer.headers.items()]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _missing(problems: list[str]) -> str:
    return "; ".join(problems)


# -- Google Code Assist ------------------------------------------------------------------------


def _google_error(code: int, status: str, message: str,
                  details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


class FakeCodeAssist(VendorFake):
    vendor = "gemini"
    prefix = "/google"

    def endpoints(self, base: str) -> dict[str, str]:
        return {"gemini.code-assist": base + self.prefix, "google.token": base + "/google/token"}

    def is_inference(self, seen: Seen) -> bool:
        return seen.path.split(":")[-1] in ("generateContent", "streamGenerateContent",
                                            "countTokens")

    async def handle(self, seen: Seen) -> Answer:
        if seen.path == "/token":
            return self._token(seen)
        method = seen.path.removeprefix("/v1internal:")
        account = self.account_for(seen)
        if account is None:
            return Answer(401, _google_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials. "
                "Expected OAuth 2 access token, login cookie or other valid authentication "
                "credential."))
        problems = self._problems(seen, method, account)
        if problems:
            return Answer(400, _google_error(400, "INVALID_ARGUMENT", _missing(problems)))
        if method == "retrieveUserQuota":
            return Answer(200, {"buckets": [
                {"remainingAmount": "950", "remainingFraction": 0.95,
                 "resetTime": "2030-01-01T00:00:00Z", "tokenType": "REQUESTS",
                 "modelId": "gemini-2.5-pro"}]})
        fault = self.next_fault(seen)
        if fault == "429":
            delay = f"{self.reset_seconds}s"
            return Answer(429, _google_error(
                429, "RESOURCE_EXHAUSTED",
                f"You have exhausted your capacity on this model. Your quota will reset after "
                f"{self.reset_seconds}s.",
                [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                  "reason": "RATE_LIMIT_EXCEEDED", "domain": "cloudcode-pa.googleapis.com",
                  "metadata": {"uiMessage": "true", "model": str(seen.body.get("model")),
                               "quotaResetDelay": delay}},
                 {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]))
        if fault == "401":
            return await self.handle(seen)
        if fault == "500":
            return Answer(500, _google_error(500, "INTERNAL", "Internal error encountered."))
        if method == "countTokens":
            return await self.answer("/v1internal:countTokens", seen, seen.body["request"])
        return await self.answer(f"/v1internal:{method}", seen, seen.body)

    def _problems(self, seen: Seen, method: str, account: Account) -> list[str]:
        problems = []
        if not seen.headers.get("user-agent", "").startswith("google-api-nodejs-client/"):
            problems.append("not the Gemini CLI user agent")
        if "pluginType=GEMINI" not in seen.headers.get("client-metadata", ""):
            problems.append("no Client-Metadata")
        body = seen.body if isinstance(seen.body, dict) else {}
        if method == "retrieveUserQuota":
            if body.get("project") != account.project:
                problems.append("retrieveUserQuota needs the account's project")
        elif method == "countTokens":
            request = body.get("request")
            if set(body) != {"request"} or not isinstance(request, dict):
                problems.append("countTokens takes {request} only")
            elif not str(request.get("model", "")).startswith("models/"):
                problems.append("countTokens request.model must be models/<id>")
        elif method in ("generateContent", "streamGenerateContent"):
            if not isinstance(body.get("model"), str) or not body.get("model"):
                problems.append("envelope has no model")
            if body.get("project") != account.project:
                problems.append(f"project {body.get('project')!r} is not the account's")
            request = body.get("request")
            if not isinstance(request, dict) or not isinstance(request.get("contents"), list):
                problems.append("envelope has no request.contents")
            if method == "streamGenerateContent" and seen.query.get("alt") != "sse":
                problems.append("stream without alt=sse")
        else:
            problems.append(f"unknown method {method}")
        return problems

    def _token(self, seen: Seen) -> Answer:
        form = seen.body if isinstance(seen.body, dict) else {}
        self.refreshes.append(seen)
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != GOOGLE_CLIENT_ID:
            return Answer(400, {"error": "invalid_request"})
        account = self.refresh(form.get("refresh_token", ""), rotate=False)
        if account is None:
            return Answer(400, {"error": "invalid_grant", "error_description": "Bad Request"})
        return Answer(200, {"access_token": account.access, "expires_in": 3599,
                            "scope": "https://www.googleapis.com/auth/cloud-platform",
                            "token_type": "Bearer"})


# -- Claude ------------------------------------------------------------------------------------


def _anthropic_error(etype: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}}


class FakeClaudeOAuth(VendorFake):
    vendor = "claude"
    prefix = "/anthropic"

    def endpoints(self, base: str) -> dict[str, str]:
        return {"claude.api": base + self.prefix,
                "claude.token": base + self.prefix + "/v1/oauth/token"}

    def is_inference(self, seen: Seen) -> bool:
        return seen.path.startswith("/v1/messages")

    async def handle(self, seen: Seen) -> Answer:
        if seen.path == "/v1/oauth/token":
            return self._token(seen)
        account = self.account_for(seen)
        if account is None or "x-api-key" in seen.headers:
            return Answer(401, _anthropic_error("authentication_error", "Invalid bearer token"))
        if "oauth-2025-04-20" not in seen.headers.get("anthropic-beta", "").split(","):
            return Answer(401, _anthropic_error(
                "authentication_error", "OAuth authentication is currently not supported."))
        if seen.path == "/api/oauth/usage":
            return Answer(200, {
                "five_hour": {"utilization": 12.0, "resets_at": "2030-01-01T05:00:00+00:00"},
                "seven_day": {"utilization": 40.0, "resets_at": "2030-01-07T00:00:00+00:00"},
                "seven_day_opus": None,
                "extra_usage": {"is_enabled": False, "monthly_limit": None,
                                "used_credits": None, "utilization": None}})
        body = seen.body if isinstance(seen.body, dict) else {}
        if not seen.headers.get("anthropic-version") or not self._claude_code_first(body):
            return Answer(400, _anthropic_error(
                "invalid_request_error", "This credential is only authorized for use with "
                "Claude Code and cannot be used for other API requests."))
        fault = self.next_fault(seen)
        if fault == "429":
            reset = str(int(time.time()) + self.reset_seconds)
            return Answer(429, _anthropic_error(
                "rate_limit_error", "This request would exceed your account's rate limit. "
                "Please try again later."), headers={
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": reset,
                "anthropic-ratelimit-unified-5h-status": "rejected",
                "anthropic-ratelimit-unified-5h-reset": reset,
                "anthropic-ratelimit-unified-5h-utilization": "1.0",
                "anthropic-ratelimit-unified-representative-claim": "five_hour"})
        if fault == "401":
            return await self.handle(seen)
        if fault == "500":
            return Answer(529, _anthropic_error("overloaded_error", "Overloaded"))
        return await self.answer(seen.path, seen, body)

    @staticmethod
    def _claude_code_first(body: dict[str, Any]) -> bool:
        system = body.get("system")
        if not isinstance(system, list) or not system or not isinstance(system[0], dict):
            return False
        return system[0].get("type") == "text" and system[0].get("text") == CLAUDE_CODE_PROMPT

    def _token(self, seen: Seen) -> Answer:
        self.refreshes.append(seen)
        body = seen.body if isinstance(seen.body, dict) else {}
        if body.get("grant_type") != "refresh_token" or body.get("client_id") != CLAUDE_CLIENT_ID:
            return Answer(400, {"error": "invalid_request"})
        account = self.refresh(str(body.get("refresh_token", "")), rotate=True)
        if account is None:
            return Answer(400, {"error": "invalid_grant",
                                "error_description": "Refresh token not found or invalid"})
        return Answer(200, {"token_type": "Bearer", "access_token": account.access,
                            "refresh_token": account.refresh, "expires_in": 28800,
                            "account": {"uuid": "acct", "email_address": f"{account.key}@x.test"}})


# -- ChatGPT Codex -----------------------------------------------------------------------------

_CODEX_REJECTED = ("max_output_tokens", "max_completion_tokens", "temperature", "top_p",
                   "previous_response_id", "service_tier", "safety_identifier",
                   "prompt_cache_retention", "user")


class FakeChatGPTCodex(VendorFake):
    vendor = "codex"
    prefix = "/chatgpt"

    def endpoints(self, base: str) -> dict[str, str]:
        return {"codex.api": base + self.prefix + "/backend-api/codex",
                "codex.token": base + self.prefix + "/oauth/token"}

    def is_inference(self, seen: Seen) -> bool:
        return seen.path == "/backend-api/codex/responses"

    async def handle(self, seen: Seen) -> Answer:
        if seen.path == "/oauth/token":
            return self._token(seen)
        account = self.account_for(seen)
        if account is None:
            return Answer(401, {"error": {
                "message": "Provided authentication token is expired. Please try signing in "
                "again.", "type": None, "code": "token_expired", "param": None}, "status": 401})
        if seen.headers.get("chatgpt-account-id") != account.account_id:
            return Answer(403, {"detail": "chatgpt-account-id does not match the token"})
        if seen.path == "/backend-api/wham/usage":
            return Answer(200, {
                "plan_type": "plus",
                "rate_limit": {"allowed": True, "limit_reached": False,
                               "primary_window": {"used_percent": 30, "limit_window_seconds":
                                                  18000, "reset_after_seconds": 600,
                                                  "reset_at": int(time.time()) + 600},
                               "secondary_window": {"used_percent": 5, "limit_window_seconds":
                                                    604800, "reset_after_seconds": 86400,
                                                    "reset_at": int(time.time()) + 86400}},
                "credits": {"has_credits": False, "unlimited": False, "balance": None}})
        body = seen.body if isinstance(seen.body, dict) else {}
        problem = self._problem(seen, body)
        if problem:
            return Answer(400, {"detail": problem})
        fault = self.next_fault(seen)
        if fault == "429":
            return Answer(429, {"error": {
                "type": "usage_limit_reached", "message": "The usage limit has been reached",
                "plan_type": "plus", "resets_at": int(time.time()) + self.reset_seconds,
                "resets_in_seconds": self.reset_seconds}})
        if fault == "401":
            return await self.handle(seen)
        if fault == "500":
            return Answer(500, {"error": {"message": "An error occurred while processing your "
                                          "request.", "type": "server_error"}})
        return await self.answer("/backend-api/codex/responses", seen, body)

    @staticmethod
    def _problem(seen: Seen, body: dict[str, Any]) -> str:
        if not seen.headers.get("originator"):
            return "Missing originator header"
        for key in _CODEX_REJECTED:
            if key in body:
                return f"Unsupported parameter: {key}"
        if body.get("store") is not False:
            return "Store must be set to false"
        if body.get("stream") is not True:
            return "Stream must be set to true"
        if not isinstance(body.get("instructions"), str):
            return "Instructions are required"
        if not isinstance(body.get("input"), list):
            return "Input must be a list"
        if any(isinstance(i, dict) and i.get("role") == "system" for i in body["input"]):
            return "System messages are not allowed"
        return ""

    def _token(self, seen: Seen) -> Answer:
        self.refreshes.append(seen)
        form = seen.body if isinstance(seen.body, dict) else {}
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != CODEX_CLIENT_ID:
            return Answer(400, {"error": "invalid_request"})
        account = self.refresh(form.get("refresh_token", ""), rotate=True)
        if account is None:
            return Answer(401, {"error": {"message": "Your refresh token has already been used",
                                          "type": "invalid_request_error",
                                          "code": "refresh_token_reused"}})
        return Answer(200, {"access_token": account.access, "refresh_token": account.refresh,
                            "expires_in": 864000, "token_type": "Bearer"})


# -- Qwen --------------------------------------------------------------------------------------


class FakeQwen(VendorFake):
    vendor = "qwen"
    prefix = "/qwen"

    def endpoints(self, base: str) -> dict[str, str]:
        return {"qwen.api": base + self.prefix + "/v1",
                "qwen.token": base + self.prefix + "/api/v1/oauth2/token"}

    def is_inference(self, seen: Seen) -> bool:
        return seen.path == "/v1/chat/completions"

    async def handle(self, seen: Seen) -> Answer:
        if seen.path == "/api/v1/oauth2/token":
            return self._token(seen)
        if self.account_for(seen) is None:
            return Answer(401, {"error": {"message": "Invalid access token or token expired",
                                          "type": "invalid_request_error",
                                          "code": "invalid_api_key"}})
        body = seen.body if isinstance(seen.body, dict) else {}
        problems = []
        if seen.headers.get("x-dashscope-authtype") != "qwen-oauth":
            problems.append("X-DashScope-AuthType must be qwen-oauth")
        if not seen.headers.get("user-agent", "").startswith("QwenCode/"):
            problems.append("not the Qwen Code user agent")
        if body.get("stream") is True:
            if (body.get("stream_options") or {}).get("include_usage") is not True:
                problems.append("stream without stream_options.include_usage")
            if not body.get("tools"):
                problems.append("stream without tools")
        if problems:
            return Answer(400, {"error": {"message": _missing(problems),
                                          "type": "invalid_request_error",
                                          "code": "invalid_parameter"}})
        fault = self.next_fault(seen)
        if fault == "429":
            return Answer(429, {"error": {"code": "insufficient_quota",
                                          "message": "Free allocated quota exceeded.",
                                          "type": "insufficient_quota"}})
        if fault == "401":
            return await self.handle(seen)
        if fault == "500":
            return Answer(500, {"error": {"message": "Internal server error",
                                          "type": "internal_error", "code": "internal_error"}})
        return await self.answer("/v1/chat/completions", seen, body)

    def _token(self, seen: Seen) -> Answer:
        self.refreshes.append(seen)
        form = seen.body if isinstance(seen.body, dict) else {}
        if form.get("grant_type") != "refresh_token" or form.get("client_id") != QWEN_CLIENT_ID:
            return Answer(400, {"error": "invalid_request"})
        account = self.refresh(form.get("refresh_token", ""), rotate=True)
        if account is None:
            return Answer(400, {"error": "invalid_request",
                                "error_description": "Invalid refresh token or client_id"})
        return Answer(200, {"access_token": account.access, "refresh_token": account.refresh,
                            "token_type": "Bearer", "expires_in": 21600,
                            "resource_url": "portal.qwen.ai"})


# -- iFlow -------------------------------------------------------------------------------------


class FakeIFlow(VendorFake):
    vendor = "iflow"
    prefix = "/iflow"

    def endpoints(self, base: str) -> dict[str, str]:
        return {"iflow.api": base + self.prefix + "/v1",
                "iflow.token": base + self.prefix + "/oauth/token",
                "iflow.userinfo": base + self.prefix + "/api/oauth/getUserInfo"}

    def credential_of(self, account: Account) -> str:
        return account.api_key

    def is_inference(self, seen: Seen) -> bool:
        return seen.path == "/v1/chat/completions"

    def revoke(self, token: str) -> None:
        # The key stops working; the next getUserInfo hands out a new one.
        account = self._by_token.pop(token, None)
        if account is not None:
            account.api_key = f"sk-iflow-{account.key}-{secrets.token_hex(4)}"

    async def handle(self, seen: Seen) -> Answer:
        if seen.path == "/oauth/token":
            return self._token(seen)
        if seen.path == "/api/oauth/getUserInfo":
            return self._userinfo(seen)
        if self.account_for(seen) is None:
            return Answer(401, {"error": {"message": "Invalid API key", "type":
                                          "authentication_error", "code": "invalid_api_key"}})
        problem = self._signature_problem(seen)
        if problem:
            return Answer(401, {"error": {"message": problem, "type": "authentication_error",
                                          "code": "invalid_signature"}})
        fault = self.next_fault(seen)
        if fault == "429":
            return Answer(429, {"error": {"message": "Rate limit exceeded",
                                          "type": "rate_limit_exceeded",
                                          "code": "rate_limit_exceeded"}},
                          headers={"retry-after": str(self.reset_seconds)})
        if fault == "401":
            return await self.handle(seen)
        if fault == "500":
            return Answer(500, {"error": {"message": "server busy", "type": "server_error"}})
        return await self.answer("/v1/chat/completions", seen, seen.body)

    @staticmethod
    def _signature_problem(seen: Seen) -> str:
        h = seen.headers
        if h.get("user-agent") != "iFlow-Cli":
            return "not the iFlow CLI user agent"
        session, stamp = h.get("session-id", ""), h.get("x-iflow-timestamp", "")
        if not session.startswith("session-") or not stamp.isdigit():
            return "missing session-id or x-iflow-timestamp"
        if abs(int(stamp) / 1000 - time.time()) > 300:
            return "stale x-iflow-timestamp"
        expected = hmac.new(seen.bearer.encode(), f"iFlow-Cli:{session}:{stamp}".encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(h.get("x-iflow-signature", ""), expected):
            return "bad x-iflow-signature"
        return ""

    def _token(self, seen: Seen) -> Answer:
        self.refreshes.append(seen)
        form = seen.body if isinstance(seen.body, dict) else {}
        basic = "Basic " + base64.b64encode(
            f"{IFLOW_CLIENT_ID}:{IFLOW_CLIENT_SECRET}".encode()).decode()
        if (form.get("grant_type") != "refresh_token" or form.get("client_id") != IFLOW_CLIENT_ID
                or seen.headers.get("authorization") != basic):
            return Answer(400, {"error": "invalid_client"})
        account = self.refresh(form.get("refresh_token", ""), rotate=True)
        if account is None:
            return Answer(400, {"error": "invalid_grant"})
        return Answer(200, {"access_token": account.access, "refresh_token": account.refresh,
                            "expires_in": 172800, "token_type": "bearer", "scope": "read"})

    def _userinfo(self, seen: Seen) -> Answer:
        token = seen.query.get("accessToken", "")
        account = next((a for a in self.accounts.values() if a.access == token), None)
        if account is None:
            return Answer(200, {"success": False, "message": "invalid accessToken"})
        self._by_token[account.api_key] = account
        return Answer(200, {"success": True, "data": {"apiKey": account.api_key, "email": "",
                                                      "phone": account.key}})


# -- all of them -------------------------------------------------------------------------------


class FakeSubscriptions:
    """Every subscription fake behind one ASGI app, by path prefix."""

    def __init__(self) -> None:
        model = FakeUpstream()
        self.gemini = FakeCodeAssist(model)
        self.claude = FakeClaudeOAuth(model)
        self.codex = FakeChatGPTCodex(model)
        self.qwen = FakeQwen(model)
        self.iflow = FakeIFlow(model)
        self.vendors: dict[str, VendorFake] = {
            v.vendor: v for v in (self.gemini, self.claude, self.codex, self.qwen, self.iflow)}

    def endpoints(self, base: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for vendor in self.vendors.values():
            out.update(vendor.endpoints(base))
        return out

    def environ(self, base: str) -> dict[str, str]:
        return {env_var(name): url for name, url in self.endpoints(base).items()}

    def clear(self) -> None:
        for vendor in self.vendors.values():
            vendor.clear()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        for vendor in self.vendors.values():
            if scope["path"].startswith(vendor.prefix + "/"):
                await vendor(scope, receive, send)
                return
        await read_request(scope, receive, "")
        await send_answer(send, Answer(404, {"error": f"no fake for {scope['path']}"}))
