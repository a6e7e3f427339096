"""Google Gemini ``generateContent`` (``Format.GEMINI``) and the Gemini CLI Cloud Code envelope.

``request`` (bodies ⇄ ``ir.Request``), ``response`` (bodies, usage, finish reasons, errors, token
counts), ``stream`` (SSE ⇄ IR events), ``envelope`` (the ``v1internal`` wrapper); ``_parts`` holds
the part-level rules every direction shares. Tool schemas go through ``formats.schema``.
"""

from __future__ import annotations

from cliproxy_cli.formats.gemini.envelope import (
    unwrap_request,
    unwrap_response,
    wrap_count_tokens,
    wrap_request,
    wrap_response,
)
from cliproxy_cli.formats.gemini.request import (
    parse_count_tokens_request,
    parse_request,
    render_count_tokens_request,
    render_request,
)
from cliproxy_cli.formats.gemini.response import (
    parse_count_tokens,
    parse_error,
    parse_response,
    render_count_tokens,
    render_error,
    render_response,
)
from cliproxy_cli.formats.gemini.stream import parse_stream, render_stream

__all__ = [
    "parse_count_tokens",
    "parse_count_tokens_request",
    "parse_error",
    "parse_request",
    "parse_response",
    "parse_stream",
    "render_count_tokens",
    "render_count_tokens_request",
    "render_error",
    "render_request",
    "render_response",
    "render_stream",
    "unwrap_request",
    "unwrap_response",
    "wrap_count_tokens",
    "wrap_request",
    "wrap_response",
]
