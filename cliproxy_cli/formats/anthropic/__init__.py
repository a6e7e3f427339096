"""Anthropic Messages (``POST /v1/messages``) ↔ the IR: requests, responses, SSE streams, errors
and the ``count_tokens`` body. ``request``, ``response`` and ``stream`` hold the halves."""

from __future__ import annotations

from cliproxy_cli.formats.anthropic._common import parse_error, render_error
from cliproxy_cli.formats.anthropic.request import (
    parse_count_tokens,
    parse_request,
    render_count_tokens,
    render_count_tokens_request,
    render_request,
)
from cliproxy_cli.formats.anthropic.response import parse_response, render_response
from cliproxy_cli.formats.anthropic.stream import parse_stream, render_stream

__all__ = [
    "parse_count_tokens",
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
]
