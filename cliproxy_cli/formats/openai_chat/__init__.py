"""OpenAI Chat Completions (``POST /v1/chat/completions``) ⇄ the IR.

Spoken by OpenAI SDK clients and by the Qwen, iFlow and OpenAI-compatible upstreams. Requests
are parsed in ``_request`` and rendered in ``_request_render``; responses and errors live in
``_response``, streams in ``_stream``, the legacy ``/v1/completions`` adapters in
``completions``.

Lossy towards Chat (other formats' IR): signatures and redacted reasoning, ``ToolResult.is_error``,
images in assistant turns, text/tool-call interleaving inside one assistant turn, ``top_k`` is
sent as the non-standard ``top_k``, a reasoning "auto" effort becomes "medium". Lossy from Chat:
``choices[1:]`` and unknown content parts (``input_audio``, ``file``) have no IR form and only
survive a Chat → Chat round trip (in extras).
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
