"""The format registry: ``Format`` → the module that speaks it."""

from __future__ import annotations

from typing import Final

from cliproxy_cli.formats import anthropic, gemini, openai_chat, openai_responses
from cliproxy_cli.formats.base import WireFormat
from cliproxy_cli.formats.ir import Format

FORMATS: Final[dict[Format, WireFormat]] = {
    Format.OPENAI_CHAT: openai_chat,
    Format.OPENAI_RESPONSES: openai_responses,
    Format.ANTHROPIC: anthropic,
    Format.GEMINI: gemini,
}

__all__ = ["FORMATS"]
