"""Qwen Code OAuth accounts: OpenAI Chat Completions at the account's resource URL.

Facts (anchor §5.5): the API base is ``https://<resource_url>/v1`` from the token answer (e.g.
``portal.qwen.ai``); SPEC §5 lets an overridden ``qwen.api`` endpoint win over it, so a mirror or
a test fake receives every account's traffic. Requests carry QwenCode's headers. Streams ask for
usage, and a stream without tools gets the reference's dummy tool: Qwen3 streams otherwise
"poison" their output with stray tokens. A used-up daily quota is a 403 or 429 whose
``error.code`` is ``insufficient_quota``; it resets at 00:00 Beijing time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Final

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import Account
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.providers.base import (
    UpstreamCall,
    UpstreamRequest,
    default_classify,
    json_body,
)
from cliproxy_cli.providers.openai_compat import chat_request

QWEN_USER_AGENT: Final = "QwenCode/0.10.3 (darwin; arm64)"
QWEN_HEADERS: Final = {
    "user-agent": QWEN_USER_AGENT,
    "x-dashscope-useragent": QWEN_USER_AGENT,
    "x-dashscope-authtype": "qwen-oauth",
    "x-dashscope-cachecontrol": "enable",
    "x-stainless-runtime-version": "v22.17.0",
    "x-stainless-runtime": "node",
    "x-stainless-lang": "js",
    "x-stainless-arch": "arm64",
    "x-stainless-os": "MacOS",
    "x-stainless-package-version": "5.11.0",
    "x-stainless-retry-count": "0",
    "sec-fetch-mode": "cors",
}
DUMMY_TOOL: Final = {
    "type": "function",
    "function": {
        "name": "do_not_call_me",
        "description": "Do not call this tool under any circumstances.",
        "parameters": {"type": "object", "properties": {
            "operation": {"type": "number", "description": "never used"}},
            "required": ["operation"]},
    },
}
_QUOTA_CODES: Final = frozenset({"insufficient_quota", "quota_exceeded"})
_AUTH_CODES: Final = frozenset({"invalid_api_key", "invalid_token", "token_expired",
                                "unauthorized"})
_BEIJING_OFFSET: Final = 8 * 3600  # UTC+8 all year (no daylight saving)


def api_base(account: Account | None, endpoints: EndpointTable) -> str:
    """``qwen.api`` when overridden, else the account's resource URL, else the default."""
    if endpoints.is_overridden("qwen.api") or account is None or not account.resource_url:
        return endpoints.url("qwen.api")
    resource = account.resource_url.strip().rstrip("/")
    if "://" not in resource:
        resource = f"https://{resource}"
    return resource if resource.endswith("/v1") else f"{resource}/v1"


def seconds_to_beijing_midnight(now: float) -> float:
    local = now + _BEIJING_OFFSET
    return 86400.0 - (local % 86400.0)


class QwenProvider:
    name = "qwen"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def wire_format(self, credential: Credential) -> Format:
        return Format.OPENAI_CHAT

    def can_count_tokens(self, credential: Credential) -> bool:
        return False

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        if call.secret is None or not call.secret.access_token:
            raise UpstreamError("qwen account has no access token", kind=ErrorKind.AUTH,
                                status=401, provider=self.name, hint="run `cliproxy login qwen`")
        if call.stream:
            tools = call.body.get("tools")
            if not isinstance(tools, list) or not tools:
                call.body["tools"] = [DUMMY_TOOL]
        return chat_request(call, api_base(call.credential.account, endpoints),
                            call.secret.access_token, QWEN_HEADERS)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        err = default_classify(self.name, status, headers, body)
        data = json_body(body)
        error = data.get("error") if isinstance(data, dict) else None
        codes: set[str] = set()
        if isinstance(error, dict):
            codes = {str(error.get("code") or "").lower(), str(error.get("type") or "").lower()}
        if status in (403, 429) and codes & _QUOTA_CODES:
            err.kind = ErrorKind.QUOTA
            if err.retry_after is None:
                err.retry_after = seconds_to_beijing_midnight(self._clock())
            err.hint = "Qwen's daily free quota is used up; it resets at 00:00 Beijing time"
            err.scope = "account"
        elif codes & _AUTH_CODES and status in (400, 401, 403):
            err.kind = ErrorKind.AUTH
        if err.kind is ErrorKind.AUTH and err.hint is None:
            err.hint = "run `cliproxy login qwen` if this account keeps failing"
        return err
