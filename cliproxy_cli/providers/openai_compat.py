"""OpenAI Chat Completions upstreams of ``openai-compatibility`` entries."""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.providers.base import (
    UpstreamCall,
    UpstreamRequest,
    default_classify,
    join_url,
    merge_headers,
)


def chat_request(
    call: UpstreamCall, base: str, auth: str, extra_headers: Mapping[str, str] | None = None
) -> UpstreamRequest:
    """An OpenAI Chat request: shared by openai-compat, Qwen and iFlow."""
    body = call.body
    body["model"] = call.upstream_model
    body["stream"] = call.stream
    if call.stream:
        opts = body.get("stream_options")
        body["stream_options"] = {**(opts if isinstance(opts, dict) else {}), "include_usage": True}
    else:
        body.pop("stream_options", None)
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if call.stream else "application/json",
    }
    if auth:
        headers["authorization"] = f"Bearer {auth}"
    if extra_headers:
        headers.update(extra_headers)
    merge_headers(headers, call.credential.headers)
    return UpstreamRequest(url=join_url(base, "/chat/completions"), headers=headers,
                           body=orjson.dumps(body), stream=call.stream)


class OpenAICompatProvider:
    name = "openai_compat"

    def wire_format(self, credential: Credential) -> Format:
        return Format.OPENAI_CHAT

    def can_count_tokens(self, credential: Credential) -> bool:
        return False

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        return chat_request(call, call.credential.base_url, call.credential.api_key)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return default_classify(self.name, status, headers, body)
