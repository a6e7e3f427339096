"""OpenAI Responses (``POST /v1/responses``), including the ChatGPT Codex backend dialect.

``request`` (with ``options``) maps request bodies, ``response`` Response objects,
``stream_parser`` / ``stream_renderer`` SSE in each direction, ``errors`` the error envelope;
``_common`` holds what they share. This package re-exports the ``WireFormat`` face.
"""

from __future__ import annotations

from cliproxy_cli.formats.openai_responses.errors import parse_error, render_error
from cliproxy_cli.formats.openai_responses.request import parse_request, render_request
from cliproxy_cli.formats.openai_responses.response import parse_response, render_response
from cliproxy_cli.formats.openai_responses.stream_parser import parse_stream
from cliproxy_cli.formats.openai_responses.stream_renderer import render_stream

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
