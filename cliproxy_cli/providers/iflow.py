"""iFlow accounts: OpenAI Chat Completions at ``iflow.api`` with the account's API key.

Facts (anchor §5.6): the Bearer credential is the API key iFlow's user info returned at login
(``TokenBundle.api_key``), not the OAuth token; the refresh grant fetches it again, so a 401 is
healed by the usual refresh-and-replay. Every request is signed like iFlow CLI's:
``session-id: session-<uuid4>``, ``x-iflow-timestamp`` (unix ms) and ``x-iflow-signature`` =
hex HMAC-SHA256 keyed by the API key over ``iFlow-Cli:<session-id>:<timestamp>``. A stream with an
explicitly empty ``tools`` list gets a placeholder tool (the same provider quirk as Qwen's).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Final

from cliproxy_cli.accounts.credential import Credential
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

IFLOW_USER_AGENT: Final = "iFlow-Cli"
NOOP_TOOL: Final = {
    "type": "function",
    "function": {"name": "noop", "description": "Placeholder tool; never call it.",
                 "parameters": {"type": "object", "properties": {}}},
}
_QUOTA_CODES: Final = frozenset({"rate_limit_exceeded", "insufficient_quota", "quota_exceeded",
                                 "rate_limit_error"})
_AUTH_CODES: Final = frozenset({"invalid_api_key", "invalid_token", "token_expired",
                                "authentication_error"})


def sign(api_key: str, session_id: str, timestamp_ms: str) -> str:
    payload = f"{IFLOW_USER_AGENT}:{session_id}:{timestamp_ms}".encode()
    return hmac.new(api_key.encode(), payload, hashlib.sha256).hexdigest()


class IFlowProvider:
    name = "iflow"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def wire_format(self, credential: Credential) -> Format:
        return Format.OPENAI_CHAT

    def can_count_tokens(self, credential: Credential) -> bool:
        return False

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        api_key = call.secret.api_key if call.secret is not None else ""
        if not api_key:
            raise UpstreamError("iflow account has no API key", kind=ErrorKind.AUTH, status=401,
                                provider=self.name, hint="run `cliproxy login iflow`")
        if call.stream and call.body.get("tools") == []:
            call.body["tools"] = [NOOP_TOOL]
        session_id = f"session-{uuid.uuid4()}"
        timestamp = str(int(self._clock() * 1000))
        headers = {
            "user-agent": IFLOW_USER_AGENT,
            "session-id": session_id,
            "x-iflow-timestamp": timestamp,
            "x-iflow-signature": sign(api_key, session_id, timestamp),
        }
        return chat_request(call, endpoints.url("iflow.api"), api_key, headers)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        err = default_classify(self.name, status, headers, body)
        data = json_body(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            codes = {str(error.get("code") or "").lower(), str(error.get("type") or "").lower()}
            if codes & _QUOTA_CODES and status in (403, 429):
                err.kind = ErrorKind.QUOTA
            elif codes & _AUTH_CODES and status in (400, 401, 403):
                err.kind = ErrorKind.AUTH
        if err.kind is ErrorKind.AUTH:
            err.hint = "run `cliproxy login iflow` if this account keeps failing"
        return err
