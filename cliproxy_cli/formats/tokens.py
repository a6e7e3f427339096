"""A local token estimate for count-tokens calls when the upstream has no count endpoint.

Documented heuristic, not a tokenizer: about 4 characters of text per token (the usual figure
for English and code with BPE vocabularies), counted over the system prompt, every tool's name,
description and JSON schema, and every message part (text, reasoning, tool-call names and
arguments, tool results); an image counts a flat ``IMAGE_TOKENS``; each message adds
``MESSAGE_OVERHEAD`` for role and framing.
"""

from __future__ import annotations

from typing import Final

import orjson

from cliproxy_cli.formats import ir

CHARS_PER_TOKEN: Final = 4
IMAGE_TOKENS: Final = 1000
MESSAGE_OVERHEAD: Final = 4


def _text_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _part_tokens(part: ir.Part) -> int:
    match part:
        case ir.Text(text=text) | ir.Reasoning(text=text):
            return _text_tokens(text)
        case ir.Image():
            return IMAGE_TOKENS
        case ir.ToolCall(name=name, arguments=args):
            return _text_tokens(name) + _text_tokens(orjson.dumps(dict(args)).decode())
        case ir.ToolResult(content=content, name=name):
            return _text_tokens(name) + sum(_part_tokens(p) for p in content)
    return 0


def estimate_tokens(request: ir.Request) -> int:
    total = sum(_part_tokens(p) for p in request.system)
    for tool in request.tools:
        total += _text_tokens(tool.name) + _text_tokens(tool.description)
        total += _text_tokens(orjson.dumps(dict(tool.parameters)).decode())
    for message in request.messages:
        total += MESSAGE_OVERHEAD + sum(_part_tokens(p) for p in message.parts)
    return max(1, total)
