"""OpenAI Responses upstreams: ``codex-api-key`` entries and ChatGPT (Codex) login accounts.

The ChatGPT Codex backend (anchor §5.4, translation-spec §1.2 "Codex dialect") only streams and
keeps nothing: every request has ``stream: true``, ``store: false`` and an ``instructions``
string, ``system`` input roles become ``developer``, and the fields it rejects are dropped. A
client that did not ask for a stream is served by reading the stream to its end (the pipeline does
that when ``UpstreamRequest.stream`` is set). OAuth requests carry the account's
``chatgpt-account-id`` and Codex CLI's ``originator``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Final

import orjson

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.providers.base import (
    UpstreamCall,
    UpstreamRequest,
    default_classify,
    join_url,
    json_body,
    merge_headers,
)

CODEX_VERSION: Final = "0.101.0"
CODEX_USER_AGENT: Final = f"codex_cli_rs/{CODEX_VERSION} (Mac OS 26.0.1; arm64) Apple_Terminal/464"
CODEX_ORIGINATOR: Final = "codex_cli_rs"
# The ChatGPT backend rejects these (anchor §5.4, translation-spec §1.2).
_DROPPED_FOR_OAUTH: Final = (
    "previous_response_id", "prompt_cache_retention", "safety_identifier", "max_output_tokens",
    "max_completion_tokens", "temperature", "top_p", "service_tier", "user",
)
_QUOTA_CODES: Final = frozenset({"usage_limit_reached", "rate_limit_exceeded",
                                 "insufficient_quota", "usage_not_included"})
_AUTH_CODES: Final = frozenset({"invalid_api_key", "token_expired", "invalid_token",
                                "token_invalidated", "account_deactivated"})
_BAD_REQUEST_CODES: Final = frozenset({"context_length_exceeded", "model_not_found",
                                       "unsupported_parameter", "invalid_prompt"})


class CodexProvider:
    name = "codex"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def wire_format(self, credential: Credential) -> Format:
        return Format.OPENAI_RESPONSES

    def can_count_tokens(self, credential: Credential) -> bool:
        return False

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        cred = call.credential
        body = call.body
        body["model"] = call.upstream_model
        headers = {"content-type": "application/json"}
        if cred.kind == "api_key":
            base = cred.base_url or endpoints.url("codex.api")
            body["stream"] = call.stream
            headers["authorization"] = f"Bearer {cred.api_key}"
            stream = call.stream
        else:
            if call.secret is None or cred.account is None:
                raise UpstreamError("codex OAuth account has no token", kind=ErrorKind.AUTH,
                                    status=401, provider=self.name,
                                    hint="run `cliproxy login codex`")
            base = endpoints.url("codex.api")
            _codex_dialect(body)
            headers.update(_oauth_headers(call.secret.access_token, call, body,
                                          cred.account.account_id))
            stream = True
        headers["accept"] = "text/event-stream" if stream else "application/json"
        merge_headers(headers, cred.headers)
        return UpstreamRequest(url=join_url(base, "/responses"), headers=headers,
                               body=orjson.dumps(body), stream=stream)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        err = default_classify(self.name, status, headers, body)
        data = json_body(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            codes = {str(error.get("code") or ""), str(error.get("type") or "")} - {""}
            if codes & _QUOTA_CODES:
                err.kind = ErrorKind.QUOTA
                if err.retry_after is None:
                    err.retry_after = self._body_reset(error)
                if "usage_not_included" in codes:
                    err.hint = "this ChatGPT plan does not include Codex"
            elif codes & _AUTH_CODES:
                err.kind = ErrorKind.AUTH
            elif codes & _BAD_REQUEST_CODES and status < 500 and status not in (401, 403, 429):
                err.kind = ErrorKind.BAD_REQUEST
        if err.kind is ErrorKind.QUOTA and err.retry_after is None:
            err.retry_after = self._header_reset(headers)
        if err.kind is ErrorKind.QUOTA and err.status == 429:
            err.scope = "account"  # one subscription limit covers every model
        if err.kind is ErrorKind.AUTH and err.hint is None:
            err.hint = "run `cliproxy login codex` if this account keeps failing"
        return err

    def _body_reset(self, error: Mapping[str, Any]) -> float | None:
        """``usage_limit_reached`` carries ``resets_at`` (unix seconds) and/or
        ``resets_in_seconds``."""
        resets_at = error.get("resets_at")
        if isinstance(resets_at, int | float) and not isinstance(resets_at, bool):
            return max(0.0, float(resets_at) - self._clock())
        resets_in = error.get("resets_in_seconds")
        if isinstance(resets_in, int | float) and not isinstance(resets_in, bool):
            return max(0.0, float(resets_in))
        return None

    def _header_reset(self, headers: Mapping[str, str]) -> float | None:
        """The ``x-codex-{primary,secondary}-*`` rate-limit headers: the reset of every window
        that is used up (the latest one is what frees the account)."""
        waits: list[float] = []
        for window in ("primary", "secondary"):
            used = _number(headers.get(f"x-codex-{window}-used-percent"))
            if used is None or used < 100:
                continue
            after = _number(headers.get(f"x-codex-{window}-reset-after-seconds"))
            at = _number(headers.get(f"x-codex-{window}-reset-at"))
            if after is not None:
                waits.append(max(0.0, after))
            elif at is not None:
                waits.append(max(0.0, at - self._clock()))
        return max(waits) if waits else None


def _number(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _codex_dialect(body: dict[str, Any]) -> None:
    body["stream"] = True
    body["store"] = False
    if not isinstance(body.get("instructions"), str):
        body["instructions"] = ""
    for key in _DROPPED_FOR_OAUTH:
        body.pop(key, None)
    items = body.get("input")
    if isinstance(items, str):
        body["input"] = [{"type": "message", "role": "user",
                          "content": [{"type": "input_text", "text": items}]}]
    elif isinstance(items, list):
        # Copies, not edits: the pipeline may replay the same body on another account.
        body["input"] = [{**item, "role": "developer"}
                         if isinstance(item, dict) and item.get("role") == "system" else item
                         for item in items]
    include = body.get("include")
    if not isinstance(include, list):
        body["include"] = ["reasoning.encrypted_content"]
    elif "reasoning.encrypted_content" not in include:
        body["include"] = [*include, "reasoning.encrypted_content"]


def _oauth_headers(
    access_token: str, call: UpstreamCall, body: Mapping[str, Any], account_id: str
) -> dict[str, str]:
    client = call.client_headers
    # A real Codex CLI identifies itself; its own originator and user agent go on as sent.
    is_codex = client.get("originator", "").startswith("codex")
    cache_key = body.get("prompt_cache_key")
    session = (client.get("session_id") or client.get("session-id")
               or (cache_key if isinstance(cache_key, str) and cache_key else str(uuid.uuid4())))
    headers = {
        "authorization": f"Bearer {access_token}",
        "originator": client["originator"] if is_codex else CODEX_ORIGINATOR,
        "version": client.get("version", CODEX_VERSION) if is_codex else CODEX_VERSION,
        "user-agent": client.get("user-agent", CODEX_USER_AGENT) if is_codex else CODEX_USER_AGENT,
        "session_id": session,
    }
    if isinstance(cache_key, str) and cache_key:
        headers["conversation_id"] = cache_key
    if account_id:
        headers["chatgpt-account-id"] = account_id
    return headers
