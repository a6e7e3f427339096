"""Anthropic Messages upstream: ``claude-api-key`` entries and Claude Pro/Max OAuth accounts.

OAuth (subscription) tokens are only served to Claude Code, so an OAuth request looks like one
(anchor §5.3, §8.4): ``Authorization: Bearer``, the ``oauth-2025-04-20`` beta, the Claude Code
headers, ``?beta=true`` and the Claude Code system prompt as the first system block. Unlike the
reference, the client's own system prompt is kept after it whatever its shape (CLIProxyAPI drops a
string ``system``). A real Claude Code client (``claude-cli`` user agent) already sends all of
this, so its headers and system blocks pass as they are.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
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
    forward,
    join_url,
    json_body,
    merge_headers,
)

ANTHROPIC_VERSION: Final = "2023-06-01"
OAUTH_BETA: Final = "oauth-2025-04-20"
PROMPT_CACHING_BETA: Final = "prompt-caching-2024-07-31"
OAUTH_BETAS: Final = (
    "claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,"
    "fine-grained-tool-streaming-2025-05-14,prompt-caching-2024-07-31"
)
CLAUDE_CODE_SYSTEM: Final = "You are Claude Code, Anthropic's official CLI for Claude."
CLAUDE_CLI_USER_AGENT: Final = "claude-cli/1.0.83 (external, cli)"
# What Claude Code's Node SDK sends besides the user agent (anchor §5.3 "Ensure headers").
_CLAUDE_CODE_HEADERS: Final = {
    "x-app": "cli",
    "anthropic-dangerous-direct-browser-access": "true",
    "x-stainless-retry-count": "0",
    "x-stainless-runtime-version": "v24.3.0",
    "x-stainless-package-version": "0.55.1",
    "x-stainless-runtime": "node",
    "x-stainless-lang": "js",
    "x-stainless-arch": "arm64",
    "x-stainless-os": "MacOS",
    "x-stainless-timeout": "60",
}
# Headers of a real Claude Code client that are forwarded as it sent them.
_CLAUDE_CODE_FORWARDED: Final = (
    *_CLAUDE_CODE_HEADERS, "x-stainless-helper-method", "x-claude-code-session-id",
)
# Block types that accept a cache_control breakpoint.
_CACHEABLE: Final = frozenset({"text", "image", "document", "tool_use", "tool_result"})
# Unified rate-limit windows named by ``anthropic-ratelimit-unified-representative-claim``.
_CLAIM_WINDOWS: Final = {"five_hour": "5h", "seven_day": "7d", "seven_day_opus": "7d_opus",
                         "seven_day_sonnet": "7d_sonnet"}
_WINDOWS: Final = ("5h", "7d", "7d_opus", "7d_sonnet", "7d_oi", "overage")
# The session part of the metadata.user_id Claude Code sends, one per process like a CLI session.
_SESSION: Final = str(uuid.uuid4())


class ClaudeProvider:
    name = "claude"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

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
        _drop_thinking_for_forced_tool(body)
        body_betas = _pop_betas(body)
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if call.stream and not counting else "application/json",
            "anthropic-version": call.client_headers.get("anthropic-version", ANTHROPIC_VERSION),
            **forward(call.client_headers, ("anthropic-beta",)),
        }
        if body_betas:
            headers["anthropic-beta"] = _join_betas(headers.get("anthropic-beta", ""), body_betas)
        if cred.kind == "api_key":
            headers["x-api-key"] = cred.api_key
        else:
            if call.secret is None:
                raise UpstreamError("claude OAuth account has no token", kind=ErrorKind.AUTH,
                                    status=401, provider=self.name,
                                    hint="run `cliproxy login claude`")
            is_claude_code = call.client_headers.get("user-agent", "").startswith("claude-cli")
            headers["authorization"] = f"Bearer {call.secret.access_token}"
            headers["anthropic-beta"] = _oauth_betas(headers.get("anthropic-beta", ""))
            headers.update(_CLAUDE_CODE_HEADERS)
            headers["user-agent"] = CLAUDE_CLI_USER_AGENT
            if is_claude_code:
                headers.update(forward(call.client_headers,
                                       ("user-agent", *_CLAUDE_CODE_FORWARDED)))
            if not call.upstream_model.startswith("claude-3-5-haiku"):
                _ensure_claude_code_system(body, is_claude_code)
            if not counting:
                account_id = cred.account.id if cred.account is not None else cred.id
                _ensure_user_id(body, account_id)
                _add_cache_breakpoints(body)
            path += "?beta=true"
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
            case "overloaded_error" | "api_error" | "timeout_error":
                err.kind = ErrorKind.TRANSIENT
            case "authentication_error" | "permission_error":
                err.kind = ErrorKind.AUTH
            case "invalid_request_error" | "not_found_error" | "request_too_large":
                if status not in (401, 403, 429) and status < 500:
                    err.kind = ErrorKind.BAD_REQUEST
        if err.kind is ErrorKind.QUOTA and err.retry_after is None:
            err.retry_after = self._unified_reset(headers)
        if err.kind is ErrorKind.QUOTA and err.status == 429:
            err.scope = "account"  # one subscription limit covers every model
        if err.kind is ErrorKind.AUTH:
            err.hint = "run `cliproxy login claude` if this account keeps failing"
        return err

    def _unified_reset(self, headers: Mapping[str, str]) -> float | None:
        """Seconds until the subscription window that rejected the request resets, from the
        ``anthropic-ratelimit-unified-*`` headers (reset values are unix seconds)."""
        now = self._clock()
        overall = _unix(headers.get("anthropic-ratelimit-unified-reset"))
        if overall is not None:
            return max(0.0, overall - now)
        claim = _CLAIM_WINDOWS.get(
            headers.get("anthropic-ratelimit-unified-representative-claim", ""))
        if claim is not None:
            reset = _unix(headers.get(f"anthropic-ratelimit-unified-{claim}-reset"))
            if reset is not None:
                return max(0.0, reset - now)
        resets = [
            reset for w in _WINDOWS
            if headers.get(f"anthropic-ratelimit-unified-{w}-status") == "rejected"
            and (reset := _unix(headers.get(f"anthropic-ratelimit-unified-{w}-reset"))) is not None
        ]
        return max(0.0, max(resets) - now) if resets else None


def _unix(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.strip()).timestamp()
    except ValueError:
        return None


def _pop_betas(body: dict[str, Any]) -> list[str]:
    """An SDK-style ``betas`` body field belongs in the ``anthropic-beta`` header."""
    betas = body.pop("betas", None)
    if isinstance(betas, str):
        betas = betas.split(",")
    if not isinstance(betas, list):
        return []
    return [b.strip() for b in betas if isinstance(b, str) and b.strip()]


def _join_betas(header: str, extra: list[str]) -> str:
    have = [b.strip() for b in header.split(",") if b.strip()]
    return ",".join(have + [b for b in extra if b not in have])


def _oauth_betas(client_betas: str) -> str:
    if not client_betas:
        return OAUTH_BETAS
    have = [b.strip() for b in client_betas.split(",") if b.strip()]
    if not any("oauth" in b for b in have):
        have.append(OAUTH_BETA)
    if PROMPT_CACHING_BETA not in have:
        have.append(PROMPT_CACHING_BETA)
    return ",".join(have)


def _drop_thinking_for_forced_tool(body: dict[str, Any]) -> None:
    """The API refuses extended thinking together with a forced tool choice."""
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        body.pop("thinking", None)


def _ensure_claude_code_system(body: dict[str, Any], is_claude_code: bool) -> None:
    first = {"type": "text", "text": CLAUDE_CODE_SYSTEM}
    system = body.get("system")
    if isinstance(system, str):
        body["system"] = [first, {"type": "text", "text": system}] if system.strip() else [first]
    elif isinstance(system, list):
        texts = [b.get("text") for b in system if isinstance(b, dict)]
        if is_claude_code and CLAUDE_CODE_SYSTEM in texts:
            return  # Claude Code's own blocks (its billing header comes first)
        if not (texts and texts[0] == CLAUDE_CODE_SYSTEM):
            body["system"] = [first, *system]
    else:
        body["system"] = [first]


def _ensure_user_id(body: dict[str, Any], account_id: str) -> None:
    """Claude Code always sends ``metadata.user_id``; a stable one per account when missing."""
    metadata = body.get("metadata")
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    if not metadata.get("user_id"):
        digest = hashlib.sha256(account_id.encode()).hexdigest()
        metadata["user_id"] = f"user_{digest}_account__session_{_SESSION}"
        body["metadata"] = metadata


def _has_cache_control(value: Any) -> bool:
    if isinstance(value, dict):
        return "cache_control" in value or any(_has_cache_control(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_cache_control(v) for v in value)
    return False


def _marked_last(blocks: list[Any]) -> list[Any]:
    """A copy of ``blocks`` whose last block carries a breakpoint (when its type takes one)."""
    last = blocks[-1]
    if not (isinstance(last, dict) and last.get("type", "text") in _CACHEABLE):
        return blocks
    return [*blocks[:-1], {**last, "cache_control": {"type": "ephemeral"}}]


def _add_cache_breakpoints(body: dict[str, Any]) -> None:
    """Claude Code caches its prompt prefix; a translated request that set no breakpoint gets
    the reference's three (last tool, last system block, the turn before the last user turn), so
    a long conversation spends far less of the subscription's window. Nested objects are copied,
    never edited: the pipeline may replay the same body on another account."""
    if any(_has_cache_control(body.get(k)) for k in ("system", "tools", "messages")):
        return
    tools = body.get("tools")
    if isinstance(tools, list) and tools and isinstance(tools[-1], dict):
        body["tools"] = [*tools[:-1], {**tools[-1], "cache_control": {"type": "ephemeral"}}]
    system = body.get("system")
    if isinstance(system, list) and system:
        body["system"] = _marked_last(system)
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    if len(users) < 2:
        return
    index = users[-2]
    content = messages[index].get("content")
    if isinstance(content, str) and content:
        content = [{"type": "text", "text": content}]
    if isinstance(content, list) and content:
        marked = {**messages[index], "content": _marked_last(content)}
        body["messages"] = [*messages[:index], marked, *messages[index + 1:]]
