"""Wire formats ↔ the IR: pure functions on dicts, no I/O, no config, no globals.

``FORMATS`` is the registry: one module per wire format, each with the ``WireFormat`` face.
"""

from __future__ import annotations

from typing import Final

from cliproxy_cli.formats import anthropic, gemini, openai_chat, openai_responses
from cliproxy_cli.formats.base import StreamParser, StreamRenderer, WireFormat
from cliproxy_cli.formats.ir import Format

FORMATS: Final[dict[Format, WireFormat]] = {
    Format.OPENAI_CHAT: openai_chat,
    Format.OPENAI_RESPONSES: openai_responses,
    Format.ANTHROPIC: anthropic,
    Format.GEMINI: gemini,
}

__all__ = ["FORMATS", "Format", "StreamParser", "StreamRenderer", "WireFormat"]
