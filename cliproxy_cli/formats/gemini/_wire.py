"""Small helpers every Gemini submodule shares: dual-case field access, type checks, extras.

Gemini accepts camelCase and snake_case request keys (google-genai sends ``inlineData`` with
``mime_type``; Gemini CLI sends camelCase), so every read goes through ``field``. Rendered bodies
are always camelCase.

Extras conventions: unknown wire fields are kept under their wire names and deep-merged back into
the rendered value when the source is Gemini; keys starting with ``__`` are parser markers
(synthetic ids, original key names) that steer a same-family render and are never emitted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import orjson

from cliproxy_cli.formats import ir

SENTINEL: Final = "skip_thought_signature_validator"
"""Disables Gemini 3's signature check on history function calls (translation-spec §2.9)."""

MARK: Final = "__"
SYNTHETIC: Final = "__synthetic_id"  # a ToolCall/ToolResult id we minted: not sent back to Gemini
OPAQUE_PARTS: Final = "__parts"  # (raw index, raw part) pairs the IR cannot express


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


_NAMES: Final = (
    "contents", "role", "parts", "text", "thought", "thoughtSignature", "inlineData", "fileData",
    "mimeType", "data", "fileUri", "functionCall", "functionResponse", "id", "name", "args",
    "response", "systemInstruction", "tools", "functionDeclarations", "description",
    "parameters", "parametersJsonSchema", "toolConfig", "functionCallingConfig", "mode",
    "allowedFunctionNames", "generationConfig", "maxOutputTokens", "temperature", "topP", "topK",
    "stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
    "thinkingConfig", "thinkingBudget", "thinkingLevel", "includeThoughts", "candidates",
    "content", "finishReason", "usageMetadata", "promptTokenCount", "candidatesTokenCount",
    "thoughtsTokenCount", "cachedContentTokenCount", "toolUsePromptTokenCount",
    "totalTokenCount", "responseId", "modelVersion", "promptFeedback", "blockReason",
    "generateContentRequest", "totalTokens", "model", "index", "executableCode",
    "codeExecutionResult",
)
SNAKE: Final[dict[str, str]] = {name: _snake(name) for name in _NAMES}
_CAMEL: Final[dict[str, str]] = {snake: camel for camel, snake in SNAKE.items()}


def field(obj: Mapping[str, Any], camel: str) -> Any:
    """``obj[camel]``, else ``obj[snake_case(camel)]``, else None."""
    value = obj.get(camel)
    return obj.get(SNAKE[camel]) if value is None else value


def spellings(*camels: str) -> frozenset[str]:
    return frozenset(camels) | frozenset(SNAKE[c] for c in camels)


def rest(obj: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """The fields of ``obj`` not in ``known`` (which lists both spellings)."""
    return {k: v for k, v in obj.items() if k not in known}


def camel_rest(obj: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Like ``rest`` with snake_case names of known Gemini fields turned camelCase, so the
    result merges into a rendered (camelCase) body."""
    return {_CAMEL.get(k, k): v for k, v in obj.items() if k not in known}


def merge(out: dict[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``extras`` into ``out`` (dicts recursively, anything else replaced),
    skipping ``__`` markers. Returns ``out``."""
    for key, value in extras.items():
        if key.startswith(MARK):
            continue
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, dict):
            merge(current, value)
        else:
            out[key] = value
    return out


def compact(extras: Mapping[str, Any]) -> Mapping[str, Any]:
    """``extras`` without empty entries, or the shared empty mapping."""
    kept = {k: v for k, v in extras.items() if v not in (None, {}, (), [])}
    return kept or ir.EMPTY


# --- type checks raising FormatError ------------------------------------------------------------


def as_map(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ir.FormatError(f"{what}: expected an object, got {_kind(value)}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise ir.FormatError(f"{what}: expected an array, got {_kind(value)}")
    return list(value)


def opt_str(value: Any, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ir.FormatError(f"{what}: expected a string, got {_kind(value)}")


def opt_int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ir.FormatError(f"{what}: expected an integer, got {_kind(value)}")
    try:
        number = float(value)
    except ValueError:
        raise ir.FormatError(f"{what}: expected an integer, got {value!r}") from None
    if not number.is_integer():
        raise ir.FormatError(f"{what}: expected an integer, got {value!r}")
    return int(number)


def opt_float(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ir.FormatError(f"{what}: expected a number, got {_kind(value)}")
    return float(value)


def str_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    items = as_list(value, what)
    if not all(isinstance(item, str) for item in items):
        raise ir.FormatError(f"{what}: expected an array of strings")
    return tuple(items)


def count(obj: Mapping[str, Any], camel: str) -> int:
    """A token count from an upstream body: lenient (anything odd counts as 0)."""
    value = field(obj, camel)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    try:
        return max(int(float(value)), 0)
    except ValueError:
        return 0


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


# --- values -------------------------------------------------------------------------------------


def json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def std_base64(data: str) -> str:
    """URL-safe or unpadded base64 (google-genai sends URL-safe) as standard padded base64."""
    text = "".join(data.split()) if any(c.isspace() for c in data) else data
    text = text.translate(_URLSAFE)
    return text + "=" * (-len(text) % 4)


_URLSAFE: Final = str.maketrans("-_", "+/")


def signature_of(raw: Mapping[str, Any]) -> ir.Signature | None:
    value = opt_str(field(raw, "thoughtSignature"), "part.thoughtSignature")
    return ir.Signature(ir.Format.GEMINI, value) if value else None


def gemini_signature(signature: ir.Signature | None) -> str | None:
    if signature is not None and signature.format is ir.Format.GEMINI and signature.value:
        return signature.value
    return None


def safe_name(name: str) -> str:
    """A function name reduced to ``[A-Za-z0-9_-]`` so ids built from it pass every format."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", name) or "fn"


def texts(parts: Iterable[Any]) -> str:
    return "\n".join(p.text for p in parts if isinstance(p, ir.Text))
