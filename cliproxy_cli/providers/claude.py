"""Anthropic Messages upstream: ``claude-api-key`` entries and Claude Pro/Max OAuth accounts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import orjson

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.providers.base import (
    UpstreamCall,
    UpstreamRequest,
    default_classify,
    forward,
    join_url,
    json_body,
    merge_headers,
)

ANTHROPIC_VERSION: Final = "2023-06-01"
OAUTH_BETA: Final = "oauth-2025-04-20"
OAUTH_BETAS: Final = (
    "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
    "fine-grained-tool-streaming-2025-05-14"
)
# The reference places this first for OAuth tokens (anthropic only serves subscription tokens
# to Claude Code); the client's own system prompt follows it.
CLAUDE_CODE_SYSTEM: Final = "You are Claude Code, Anthropic's official CLI for Claude."


class ClaudeProvider:
    name = "claude"

    def wire_format(self, credential: Credential) -> Format:
        return Format.ANTHROPIC

    def can_count_tokens(self, credential: Credential) -> bool:
        return True

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        cred = call.credential
        base = cred.base_url or endpoints.url("claude.api")
        counting = call.action == "count_tokens"
        path = "/v1/messages/count_tokens" if counting else "/v1/messages"
        body = call.body
        body["model"] = call.upstream_model
        if not counting:
            body["stream"] = call.stream
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream and not counting else "application/json",
            "anthropic-version": call.client_headers.get("anthropic-version", ANTHROPIC_VERSION),
            **forward(call.client_headers, ("anthropic-beta",)),
        }
        if cred.kind == "api_key":
            headers["x-api-key"] = cred.api_key
        else:
            assert call.secret is not None
            headers["authorization"] = f"Bearer {call.secret.access_token}"
            headers["anthropic-beta"] = _oauth_betas(headers.get("anthropic-beta", ""))
            headers.setdefault("user-agent", "claude-cli/1.0.83 (external, cli)")
            headers["x-app"] = "cli"
            headers["anthropic-dangerous-direct-browser-access"] = "true"
            _prepend_claude_code_system(body)
        merge_headers(headers, cred.headers)
        return UpstreamRequest(
            url=join_url(base, path), headers=headers, body=orjson.dumps(body),
            stream=call.stream and not counting,
        )

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        err = default_classify(self.name, status, headers, body)
        data = json_body(body)
        etype = ""
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            etype = str(data["error"].get("type", ""))
        match etype:
            case "rate_limit_error":
                err.kind = ErrorKind.QUOTA
            case "overloaded_error" | "api_error":
                err.kind = ErrorKind.TRANSIENT
            case "authentication_error" | "permission_error":
                err.kind = ErrorKind.AUTH
            case "invalid_request_error" | "not_found_error" | "request_too_large":
                err.kind = ErrorKind.BAD_REQUEST
        if status == 429:
            reset = headers.get("anthropic-ratelimit-unified-reset")
            if err.retry_after is None and reset:
                err.retry_after = _reset_delta(reset)
        return err


def _reset_delta(value: str) -> float | None:
    import time

    try:
        return max(0.0, float(value) - time.time())
    except ValueError:
        return None


def _oauth_betas(client_betas: str) -> str:
    if not client_betas:
        return OAUTH_BETAS
    if "oauth" in client_betas:
        return client_betas
    return f"{client_betas},{OAUTH_BETA}"


def _prepend_claude_code_system(body: dict[str, object]) -> None:
    system = body.get("system")
    first = {"type": "text", "text": CLAUDE_CODE_SYSTEM}
    if isinstance(system, str):
        body["system"] = [first, {"type": "text", "text": system}] if system else [first]
    elif isinstance(system, list):
        if not (system and isinstance(system[0], dict) and system[0].get("text") == CLAUDE_CODE_SYSTEM):
            body["system"] = [first, *system]
    else:
        body["system"] = [first]
