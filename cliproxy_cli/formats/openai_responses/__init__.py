"""OpenAI Responses (``POST /v1/responses``), including the ChatGPT Codex backend dialect.

``request`` maps request bodies, ``response`` Response objects, ``stream`` SSE in both directions,
``errors`` the error envelope; this package re-exports the ``WireFormat`` face.
"""

from __future__ import annotations

from cliproxy_cli.formats.openai_responses.errors import parse_error, render_error
from cliproxy_cli.formats.openai_responses.request import parse_request, render_request
from cliproxy_cli.formats.openai_responses.response import parse_response, render_response
from cliproxy_cli.formats.openai_responses.stream import parse_stream, render_stream

__all__ = [
    "parse_error",
    "parse_request",
    "parse_response",
    "parse_stream",
    "render_error",
    "render_request",
    "render_response",
    "render_stream",
]
