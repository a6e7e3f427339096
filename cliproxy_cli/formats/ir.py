"""The canonical intermediate representation every wire format parses into and renders from.

Block-oriented like Anthropic Messages: a message is an ordered tuple of parts, and a stream is
start/delta/stop of indexed blocks. Values are frozen dataclasses; anything the IR cannot express
rides in ``extras``, which a renderer applies only when the value came from its own format
(``Request.source`` / ``Response.source``), so it survives a round trip within one family and is
dropped across families.

Conventions (one place decides each):
- ``Usage.input_tokens`` counts *all* prompt tokens, cached ones included (OpenAI semantics);
  ``Usage.output_tokens`` counts all generated tokens, reasoning included.
- ``ToolCall.arguments`` is always a JSON object (a dict); parsers coerce anything else.
- ``ToolResult.name`` is filled by the parser from the earlier call with the same id when the
  wire format does not carry it (Gemini's ``functionResponse.name`` needs it).
- A ``Signature`` is opaque and only ever rendered back to the family that issued it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

import orjson

EMPTY: Mapping[str, Any] = MappingProxyType({})


class Format(StrEnum):
    OPENAI_CHAT = "openai_chat"
    OPENAI_RESPONSES = "openai_responses"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"


class FormatError(ValueError):
    """A body that does not follow its wire format (the caller's fault: rendered as a 400)."""


# --- content parts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Signature:
    """An opaque continuity token: Claude ``signature``, Gemini ``thoughtSignature``,
    Responses ``encrypted_content``. ``format`` is the family that issued it."""

    format: Format
    value: str


@dataclass(frozen=True, slots=True)
class Text:
    text: str
    signature: Signature | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Image:
    """An image by value (``data`` = standard base64, with ``media_type``) or by ``url``."""

    media_type: str = ""
    data: str = ""
    url: str = ""
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Model thinking: visible text (full or summary), or redacted when ``redacted`` is set
    (then the opaque payload is in ``signature``)."""

    text: str = ""
    signature: Signature | None = None
    redacted: bool = False
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]
    signature: Signature | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    content: tuple[Text | Image, ...]
    name: str = ""
    is_error: bool = False
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


Part: TypeAlias = Text | Image | Reasoning | ToolCall | ToolResult


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"  # a system/developer message in the middle of the conversation


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    parts: tuple[Part, ...]
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


# --- request -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


ToolChoiceMode: TypeAlias = Literal["auto", "none", "required", "tool"]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: ToolChoiceMode
    name: str = ""


Effort: TypeAlias = Literal["none", "minimal", "low", "medium", "high", "xhigh", "auto"]


@dataclass(frozen=True, slots=True)
class ReasoningConfig:
    """What the client asked of reasoning: an effort level, a token budget, or both.

    ``formats/reasoning.py`` converts between the two; renderers use whichever their format takes.
    ``include_thoughts``: whether reasoning text should be returned (Gemini ``includeThoughts``,
    Responses ``summary``)."""

    effort: Effort | None = None
    budget: int | None = None
    include_thoughts: bool | None = None
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    kind: Literal["text", "json_object", "json_schema"]
    schema: Mapping[str, Any] | None = None
    name: str = ""
    strict: bool | None = None


@dataclass(frozen=True, slots=True)
class Request:
    model: str
    messages: tuple[Message, ...]
    system: tuple[Text | Image, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: tuple[str, ...] = ()
    reasoning: ReasoningConfig | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    include_usage: bool = False  # OpenAI Chat stream_options.include_usage
    user: str = ""
    source: Format | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


# --- response ----------------------------------------------------------------------------------


class StopReason(StrEnum):
    END_TURN = "end_turn"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    TOOL_USE = "tool_use"
    CONTENT_FILTER = "content_filter"
    PAUSE = "pause"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens read from cache (part of input_tokens)
    cache_creation_tokens: int = 0  # prompt tokens written to cache (part of input_tokens)
    reasoning_tokens: int = 0  # part of output_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Response:
    id: str
    model: str
    parts: tuple[Part, ...]
    stop_reason: StopReason = StopReason.END_TURN
    stop_sequence: str = ""
    usage: Usage = Usage()
    created: int = 0
    source: Format | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error in format-neutral terms; ``type`` uses the OpenAI vocabulary
    (invalid_request_error, authentication_error, permission_error, not_found_error,
    rate_limit_error, server_error, overloaded_error, request_too_large)."""

    status: int
    message: str
    type: str = ""
    code: str = ""
    retry_after: float | None = None


# --- stream events -----------------------------------------------------------------------------

BlockKind: TypeAlias = Literal["text", "reasoning", "tool_call"]


@dataclass(frozen=True, slots=True)
class MessageStart:
    id: str
    model: str
    usage: Usage | None = None
    created: int = 0


@dataclass(frozen=True, slots=True)
class BlockStart:
    """Opens block ``index`` (dense, in emission order). Tool calls carry their id and name."""

    index: int
    kind: BlockKind
    tool_id: str = ""
    tool_name: str = ""


@dataclass(frozen=True, slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ToolArgsDelta:
    """A fragment of the tool call's JSON arguments text; fragments concatenate to an object."""

    index: int
    fragment: str


@dataclass(frozen=True, slots=True)
class SignatureDelta:
    index: int
    signature: Signature


@dataclass(frozen=True, slots=True)
class BlockStop:
    index: int


@dataclass(frozen=True, slots=True)
class UsageUpdate:
    """Cumulative usage so far; the last one wins."""

    usage: Usage


@dataclass(frozen=True, slots=True)
class MessageStop:
    stop_reason: StopReason
    usage: Usage | None = None
    stop_sequence: str = ""


@dataclass(frozen=True, slots=True)
class StreamError:
    error: ErrorInfo


StreamEvent: TypeAlias = (
    MessageStart | BlockStart | TextDelta | ReasoningDelta | ToolArgsDelta | SignatureDelta
    | BlockStop | UsageUpdate | MessageStop | StreamError
)


# --- helpers shared by the format modules -------------------------------------------------------


def coerce_arguments(raw: Any) -> dict[str, Any]:
    """Tool-call arguments as a JSON object, whatever arrived.

    A dict is kept; a JSON text holding an object is parsed; empty or ``null`` gives ``{}``; any
    other value (a list, a number, invalid JSON text) is wrapped as ``{"value": ...}`` so no
    upstream ever sees a non-object and nothing the client sent is silently lost."""
    if isinstance(raw, dict):
        return raw
    if raw is None:
        return {}
    if isinstance(raw, str | bytes):
        text = raw.strip()
        if not text:
            return {}
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            return {"value": raw if isinstance(raw, str) else raw.decode("utf-8", "replace")}
        if isinstance(parsed, dict):
            return parsed
        return {} if parsed is None else {"value": parsed}
    return {"value": raw}


def new_id(prefix: str) -> str:
    """A fresh id in a format's own style: ``new_id("chatcmpl-")``, ``new_id("toolu_")``."""
    return prefix + uuid.uuid4().hex[:24]
