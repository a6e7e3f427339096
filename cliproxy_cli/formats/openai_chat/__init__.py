"""OpenAI Chat Completions (``POST /v1/chat/completions``) ⇄ the IR.

Spoken by OpenAI SDK clients and by the Qwen, iFlow and OpenAI-compatible upstreams. Requests
are parsed in ``_request`` and rendered in ``_request_render``; responses and errors live in
``_response``, streams in ``_stream``, the legacy ``/v1/completions`` adapters in
``completions``.
"""

from __future__ import annotations

from cliproxy_cli.formats.openai_chat._request import parse_request
from cliproxy_cli.formats.openai_chat._request_render import render_request
from cliproxy_cli.formats.openai_chat._response import (
    parse_error,
    parse_response,
    render_error,
    render_response,
)
from cliproxy_cli.formats.openai_chat._stream import (
    ChatStreamParser,
    ChatStreamRenderer,
    parse_stream,
    render_stream,
)
from cliproxy_cli.formats.openai_chat.completions import (
    chat_chunk_to_completions,
    chat_response_to_completions,
    completions_request_to_chat,
)

__all__ = [
    "ChatStreamParser",
    "ChatStreamRenderer",
    "chat_chunk_to_completions",
    "chat_response_to_completions",
    "completions_request_to_chat",
    "parse_error",
    "parse_request",
    "parse_response",
    "parse_stream",
    "render_error",
    "render_request",
    "render_response",
    "render_stream",
]
