"""Legacy ``POST /v1/completions``, served through the chat path (SPEC §6, *compat*).

The prompt becomes one user message; the chat answer (body or stream chunk) is turned back into
a ``text_completion``. Fields without a chat meaning (``echo``, ``suffix``, ``best_of``) are
dropped; legacy integer ``logprobs`` becomes ``logprobs: true`` + ``top_logprobs``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.openai_chat._common import fail

_DEFAULT_PROMPT: Final = "Complete this:"  # the reference's choice for an empty prompt
_COPIED: Final = ("model", "max_tokens", "temperature", "top_p", "n", "stop", "stream",
                  "stream_options", "presence_penalty", "frequency_penalty", "logit_bias",
                  "seed", "user", "metadata", "service_tier")
_FINISH: Final = {"length": "length", "content_filter": "content_filter"}


def _prompt(raw: Any) -> str:
    if raw is None:
        return _DEFAULT_PROMPT
    if isinstance(raw, str):
        return raw or _DEFAULT_PROMPT
    if isinstance(raw, list) and all(isinstance(p, str) for p in raw):
        return "\n".join(raw) or _DEFAULT_PROMPT
    fail("prompt", "a string or an array of strings (token arrays are not supported)", raw)


def completions_request_to_chat(body: Mapping[str, Any]) -> dict[str, Any]:
    """A legacy completions body as a Chat Completions body."""
    if not isinstance(body, Mapping):
        fail("request body", "an object", body)
    chat: dict[str, Any] = {"model": body.get("model", ""),
                            "messages": [{"role": "user", "content": _prompt(body.get("prompt"))}]}
    chat.update((key, body[key]) for key in _COPIED if body.get(key) is not None)
    logprobs = body.get("logprobs")
    if isinstance(logprobs, bool):
        chat["logprobs"] = logprobs
    elif isinstance(logprobs, int) and logprobs > 0:
        chat["logprobs"] = True
        chat["top_logprobs"] = logprobs
    return chat


def _finish(raw: Any) -> str | None:
    """Completions knows only stop, length and content_filter."""
    if raw is None:
        return None
    return _FINISH.get(raw, "stop")


def _choice(choice: Any, text_of: str) -> dict[str, Any]:
    source = choice.get(text_of) if isinstance(choice, Mapping) else None
    text = source.get("content") if isinstance(source, Mapping) else None
    return {
        "text": text if isinstance(text, str) else "",
        "index": choice.get("index", 0) if isinstance(choice, Mapping) else 0,
        "logprobs": None,
        "finish_reason": _finish(choice.get("finish_reason")) if isinstance(choice, Mapping)
        else None,
    }


def _envelope(body: Mapping[str, Any], choices: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": body.get("id") or ir.new_id("cmpl-"),
        "object": "text_completion",
        "created": body.get("created", 0),
        "model": body.get("model", ""),
        "choices": choices,
    }
    if body.get("usage") is not None:
        out["usage"] = body["usage"]
    return out


def chat_response_to_completions(body: Mapping[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` body as a ``text_completion`` (reasoning and tool calls dropped)."""
    choices = body.get("choices")
    converted = [_choice(c, "message") for c in choices] if isinstance(choices, list) else []
    for choice in converted:
        choice["finish_reason"] = choice["finish_reason"] or "stop"
    return _envelope(body, converted)


def chat_chunk_to_completions(chunk: Mapping[str, Any]) -> dict[str, Any] | None:
    """One ``chat.completion.chunk`` as a ``text_completion`` chunk, or ``None`` for chunks with
    nothing a completions client can see (the role chunk, reasoning, tool calls). An error
    chunk passes through unchanged so the client's SDK still raises."""
    if chunk.get("error"):
        return dict(chunk)
    choices = chunk.get("choices")
    converted = [_choice(c, "delta") for c in choices] if isinstance(choices, list) else []
    visible = [c for c in converted if c["text"] or c["finish_reason"]]
    if not visible and chunk.get("usage") is None:
        return None
    return _envelope(chunk, visible)
