"""Cross-format properties over every ordered pair (source family, target family).

1. Any IR request rendered by a target is accepted by the target's own parser and keeps the
   conversation (text, images, tool calls and the pairing of their results by id, reasoning the
   target may carry), compared as normalised views (``request_view``).
2. A source-rendered body parsed by the source, rendered into the target and parsed again keeps
   the same view.
3. Any valid IR event sequence rendered by a format passes that format's stream validator, and
   the text, reasoning, tool calls, stop reason and usage the wire carries equal the IR's.
4. The proxy's stream pipeline per pair (IR → source SSE → ``SSEDecoder`` → source parser →
   target renderer) yields a valid target stream with the source stream's content.
5. ``render_response``/``parse_response`` across pairs keep text, tool calls, stop reason and
   usage (per the IR's conventions).
6. Rendering (and translating) a 10× longer stream costs about 10× as much, never more.

The views encode each format's documented normalisations; every one is named where it is applied.
"""

from __future__ import annotations

import gc
import itertools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats import ir, schema, sse
from cliproxy_cli.formats.reasoning import budget_of, effort_of
from cliproxy_cli.formats.registry import FORMATS
from tests.formats import (
    validate_anthropic,
    validate_gemini,
    validate_openai_chat,
    validate_openai_responses,
)
from tests.formats.strategies import REDACTED_PREFIX, event_sequences, requests, responses

F = ir.Format
CHAT, RESPONSES, ANTHROPIC, GEMINI = (F.OPENAI_CHAT, F.OPENAI_RESPONSES, F.ANTHROPIC, F.GEMINI)
ALL = list(F)
PAIRS = [(s, t) for s in ALL for t in ALL]
SENTINEL = "skip_thought_signature_validator"  # gemini/_wire.SENTINEL

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

VALIDATORS: dict[ir.Format, Callable[[bytes], list[dict[str, Any]]]] = {
    CHAT: validate_openai_chat.validate_stream,
    RESPONSES: validate_openai_responses.validate_stream,
    ANTHROPIC: validate_anthropic.validate_stream,
    GEMINI: validate_gemini.validate_stream,
}


def wire(body: Any) -> Any:
    """What crosses the network: plain JSON (fails on anything orjson cannot encode)."""
    return orjson.loads(orjson.dumps(body))


# === request views =============================================================================

FOLDS_SYSTEM = {ANTHROPIC, GEMINI}  # Role.SYSTEM messages are folded into the system prompt
KEEPS_IS_ERROR = {ANTHROPIC, GEMINI}  # Chat and Responses have no error flag on tool results


def _texts(parts: Iterable[ir.Part]) -> list[str]:
    return [p.text for p in parts if isinstance(p, ir.Text) and p.text]


def _image(image: ir.Image) -> tuple[str, ...]:
    if image.data:
        return ("data", image.media_type or "image/png", image.data)
    return ("url", image.url)


def _result_text(content: Iterable[ir.Part]) -> tuple[Any, ...]:
    """A tool result's text. Normalised: the parts may be joined by newlines (Chat and Responses
    join with a blank line, Gemini with one newline), and a JSON object may be re-serialised
    (Gemini's ``response`` is an object, ``{}`` for an empty result, read back as its JSON text
    as ``gemini/_parts`` documents)."""
    joined = "\n".join(p.text for p in content if isinstance(p, ir.Text))
    try:
        value = orjson.loads(joined)
    except orjson.JSONDecodeError:
        value = None
    if value == {}:
        return ("text", ())
    if isinstance(value, dict):
        return ("json", orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
    return ("text", tuple(s for s in re.split(r"\n+", joined) if s))


def _reasoning_view(parts: list[ir.Reasoning], target: ir.Format, own: bool) -> list[Any]:
    """What survives of reasoning in a request history, per target (documented: a signature is
    only rendered back to its issuer, and history reasoning without one is dropped, except by
    Chat, which carries the visible text as ``reasoning_content`` and no signature)."""
    if target is CHAT:
        return [p.text for p in parts if p.text and not p.redacted]
    if target is ANTHROPIC:
        out: list[Any] = []
        for p in parts:
            if p.signature is None or p.signature.format is not ANTHROPIC:
                continue
            value = p.signature.value
            if value.startswith(REDACTED_PREFIX):
                out.append(("redacted", value[len(REDACTED_PREFIX):]))
            elif p.redacted:
                out.append(("redacted", value))
            else:
                out.append(("thinking", p.text, value))
        return out
    if target is GEMINI:
        return [(p.text, p.signature.value) for p in parts
                if p.signature is not None and p.signature.format is GEMINI]
    # Responses: one reasoning item per run of parts sharing an item id (own history only),
    # sent back only when this family signed it.
    groups: list[list[ir.Reasoning]] = []
    last: Any = None
    for p in parts:
        key = p.extras.get("id") if own else None
        if key is not None and groups and key == last:
            groups[-1].append(p)
        else:
            groups.append([p])
        last = key
    out = []
    for group in groups:
        signed = [p.signature.value for p in group
                  if p.signature is not None and p.signature.format is RESPONSES]
        if signed:
            out.append((tuple(p.text for p in group if p.text), signed[-1]))
    return out


def _message_view(message: ir.Message, target: ir.Format, canon: Callable[[str], int],
                  call_names: dict[str, str], own: bool) -> dict[str, Any]:
    parts = message.parts
    images = []
    for p in parts:
        if isinstance(p, ir.Image):
            images.append(_image(p))
        elif isinstance(p, ir.ToolResult):
            # Normalised: Chat and Gemini send a tool result's images beside it (a user image
            # after the tool message / functionResponse), so images are compared per turn.
            images += [_image(c) for c in p.content if isinstance(c, ir.Image)]
    calls = []
    for p in parts:
        if isinstance(p, ir.ToolCall):
            call: tuple[Any, ...] = (canon(p.id), p.name, dict(p.arguments))
            if target is GEMINI:
                # Gemini history calls carry their Gemini signature, else the sentinel.
                sig = p.signature
                call += (sig.value if sig and sig.format is GEMINI else SENTINEL,)
            calls.append(call)
    results = []
    for p in parts:
        if isinstance(p, ir.ToolResult):
            result: tuple[Any, ...] = (canon(p.call_id), call_names.get(p.call_id, p.name),
                                       _result_text(p.content))
            if target in KEEPS_IS_ERROR:
                result += (p.is_error,)
            results.append(result)
    reasoning = _reasoning_view([p for p in parts if isinstance(p, ir.Reasoning)], target, own)
    return {"texts": _texts(parts), "images": images, "calls": calls, "results": results,
            "reasoning": reasoning}


def _params_view(parameters: Any, target: ir.Format) -> Any:
    if target is not GEMINI:
        return dict(parameters)
    # Normalised: Gemini takes the sanitised OpenAPI subset (formats/schema.py), and omits an
    # empty object schema.
    cleaned = schema.to_json_schema(schema.clean_for_gemini(parameters))
    if not cleaned.get("properties") and cleaned.get("type") in (None, "object"):
        return {"type": "object", "properties": {}}
    return cleaned


def _choice_view(request: ir.Request, target: ir.Format) -> tuple[Any, Any]:
    if not request.tools:
        return None, None  # a choice without tools is not sent (Chat, Anthropic)
    choice, parallel = request.tool_choice, request.parallel_tool_calls
    if target is GEMINI:
        return choice, None  # no parallel-calls switch
    if target is ANTHROPIC:
        if choice is None and parallel is False:
            choice = ir.ToolChoice("auto")  # disable_parallel_tool_use needs a tool_choice
        if choice is None or choice.mode == "none":
            parallel = None
    return choice, parallel


def _reasoning_config_view(request: ir.Request, target: ir.Format) -> Any:
    cfg = request.reasoning
    if cfg is None:
        return None
    if target in (CHAT, RESPONSES):
        effort = effort_of(cfg)
        return "medium" if effort == "auto" else effort  # no "auto" level
    if target is GEMINI:
        # A budget as sent; an effort as a thinkingLevel, except none/auto (budget 0 / -1).
        if cfg.budget is not None or cfg.effort in ("none", "auto"):
            return ("budget", budget_of(cfg))
        return ("effort", cfg.effort)
    # Anthropic: a budget (clamped to the API's bounds) or disabled; compared as on/off.
    if effort_of(cfg) == "none" or budget_of(cfg) == 0:
        return "off"
    # The API rejects thinking under a forced tool choice, and after a last tool-using turn
    # that does not open with signed thinking (which foreign history cannot have).
    choice = request.tool_choice if request.tools else None
    if choice is not None and choice.mode in ("required", "tool"):
        return None
    if request.source is not ANTHROPIC and _last_tool_turn_unsigned(request):
        return None
    return "on"


def _last_tool_turn_unsigned(request: ir.Request) -> bool:
    """Whether the last assistant turn (consecutive assistant messages merge) calls a tool
    without opening with thinking Anthropic signed."""
    turns: list[tuple[ir.Role, list[ir.Part]]] = []
    for message in request.messages:
        rendered = [p for p in message.parts if _renders_on_anthropic(p)]
        if message.role is ir.Role.SYSTEM or not rendered:
            continue  # folded into the system prompt / an empty turn is not sent
        if turns and turns[-1][0] is message.role:
            turns[-1][1].extend(rendered)
        else:
            turns.append((message.role, rendered))
    last = next((parts for role, parts in reversed(turns) if role is ir.Role.ASSISTANT), None)
    if last is None:
        return False
    return any(isinstance(p, ir.ToolCall) for p in last) and not isinstance(last[0], ir.Reasoning)


def _renders_on_anthropic(part: ir.Part) -> bool:
    if isinstance(part, ir.Reasoning):
        return part.signature is not None and part.signature.format is ANTHROPIC
    return not isinstance(part, ir.Text) or bool(part.text)


def request_view(request: ir.Request, target: ir.Format) -> dict[str, Any]:
    system = _texts(request.system)
    messages = list(request.messages)
    while messages and messages[0].role is ir.Role.SYSTEM:  # a leading one is the system prompt
        system += _texts(messages.pop(0).parts)
    if target in FOLDS_SYSTEM:
        system += [t for m in messages if m.role is ir.Role.SYSTEM for t in _texts(m.parts)]
        messages = [m for m in messages if m.role is not ir.Role.SYSTEM]
    ids: dict[str, int] = {}

    def canon(call_id: str) -> int:
        # Normalised: ids are compared by pairing (Anthropic cleans invalid characters).
        return ids.setdefault(call_id, len(ids))

    call_names = {p.id: p.name for m in request.messages for p in m.parts
                  if isinstance(p, ir.ToolCall)}
    own = request.source is target
    runs: list[dict[str, Any]] = []
    for message in messages:
        view = _message_view(message, target, canon, call_names, own)
        if not any(view.values()):
            continue  # nothing the target can carry: the message is dropped
        if runs and runs[-1]["role"] == message.role:
            # Normalised: consecutive same-role turns merge (Anthropic, Gemini) or split (Chat
            # tool messages, Responses items); each kind of part keeps its order within a run.
            for key, items in view.items():
                runs[-1][key] = runs[-1][key] + items
        else:
            runs.append({"role": message.role, **view})
    if target is CHAT:
        for run in runs:
            if run["role"] is ir.Role.ASSISTANT:
                # Chat: an assistant's texts are one string, its reasoning one reasoning_content.
                run["texts"] = ["".join(run["texts"])] if run["texts"] else []
                run["reasoning"] = ["\n\n".join(run["reasoning"])] if run["reasoning"] else []
    choice, parallel = _choice_view(request, target)
    return {
        "system": "\n\n".join(system),
        "messages": runs,
        "tools": [(t.name, t.description, _params_view(t.parameters, target))
                  for t in request.tools],
        "tool_choice": choice,
        "parallel": parallel,
        "reasoning": _reasoning_config_view(request, target),
    }


def _assert_sampling(before: ir.Request, after: ir.Request, target: ir.Format) -> None:
    """Sampling and limits, per target (documented exceptions inline)."""
    if target is ANTHROPIC:
        # Anthropic always sends max_tokens (a default when unset, raised when the thinking
        # budget needs room) and drops knobs the API rejects alongside thinking or each other.
        if before.max_tokens is not None:
            assert after.max_tokens is not None and after.max_tokens >= before.max_tokens
        for key in ("temperature", "top_p", "top_k"):
            assert getattr(after, key) in (None, getattr(before, key))
        assert after.stop == before.stop
        assert after.user == before.user
        assert after.stream == before.stream
        return
    assert after.max_tokens == before.max_tokens
    assert after.temperature == before.temperature
    assert after.top_p == before.top_p
    # Responses has no top_k and no stop; Gemini no user and no stream flag (both in the URL).
    assert after.top_k == (None if target is RESPONSES else before.top_k)
    assert after.stop == (() if target is RESPONSES else before.stop)
    assert after.user == ("" if target is GEMINI else before.user)
    assert after.stream == (False if target is GEMINI else before.stream)



def _gemini_schema_keys(node: Any, out: set[str]) -> None:
    """Every keyword used in a Gemini schema (property names skipped)."""
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            if key == "properties" and isinstance(value, dict):
                for sub in value.values():
                    _gemini_schema_keys(sub, out)
            else:
                _gemini_schema_keys(value, out)
    elif isinstance(node, list):
        for item in node:
            _gemini_schema_keys(item, out)


def _check_target_body(body: dict[str, Any], target: ir.Format) -> None:
    """Wire rules of the rendered body itself that a parser would not notice."""
    if target is GEMINI:
        keys: set[str] = set()
        for tool in body.get("tools", []):
            for decl in tool.get("functionDeclarations", []):
                _gemini_schema_keys(decl.get("parameters", {}), keys)
        assert not keys & schema.FORBIDDEN, keys & schema.FORBIDDEN
    if target is ANTHROPIC:
        roles = [m["role"] for m in body["messages"]]
        assert all(a != b for a, b in itertools.pairwise(roles)), roles
        # Non-empty content, except for an optional final assistant message (the API's rule).
        trailing = body["messages"][-1:] if roles[-1:] == ["assistant"] else []
        assert all(m["content"] for m in body["messages"] if m not in trailing)
        ids = re.compile(r"[A-Za-z0-9_-]+")
        for m in body["messages"]:
            for block in m["content"] if isinstance(m["content"], list) else ():
                if block.get("type") == "tool_use":
                    assert ids.fullmatch(block["id"]), block
                if block.get("type") == "tool_result":
                    assert ids.fullmatch(block["tool_use_id"]), block
    if target is CHAT:
        # Every tool message answers a call made earlier, right after the calling turn.
        pending: set[str] = set()
        for m in body["messages"]:
            if m["role"] == "assistant":
                pending = {c["id"] for c in m.get("tool_calls") or ()}
            elif m["role"] == "tool":
                assert m["tool_call_id"] in pending, m
            else:
                pending = set()


def _round_trip(request: ir.Request, target: ir.Format) -> tuple[dict[str, Any], ir.Request]:
    module = FORMATS[target]
    body = wire(module.render_request(request))
    _check_target_body(body, target)
    return body, module.parse_request(body)


@pytest.mark.parametrize("source", ALL, ids=str)
@SETTINGS
@given(data=st.data())
def test_any_ir_request_renders_a_body_the_target_accepts(source: ir.Format,
                                                          data: st.DataObject) -> None:
    request = data.draw(requests(source))
    for target in ALL:
        _, back = _round_trip(request, target)
        assert back.source is target
        assert request_view(back, target) == request_view(request, target), target
        _assert_sampling(request, back, target)


@pytest.mark.parametrize("source", ALL, ids=str)
@SETTINGS
@given(data=st.data())
def test_parsed_requests_translate_into_every_target(source: ir.Format,
                                                     data: st.DataObject) -> None:
    _, parsed = _round_trip(data.draw(requests()), source)
    for target in ALL:
        _, back = _round_trip(parsed, target)
        assert request_view(back, target) == request_view(parsed, target), target
        _assert_sampling(parsed, back, target)


# === stream content ============================================================================

BLOCK_ORDER = {ANTHROPIC, RESPONSES}  # the wire keeps blocks apart (items, content blocks)


@dataclass
class StreamContent:
    """What a client reads out of a stream. ``*_emitted`` is text in arrival order, ``*_blocks``
    the same text block by block in start order (they differ only when blocks interleave)."""

    text_emitted: str = ""
    text_blocks: str = ""
    reasoning_emitted: str = ""
    reasoning_blocks: list[str] = field(default_factory=list)
    calls: list[tuple[str, str, Any]] = field(default_factory=list)
    ended: str = ""  # "stop" | "error"
    stop: Any = None
    usage: ir.Usage | None = None

    def view(self, natural: ir.Format, coarse: bool = False) -> dict[str, Any]:
        """``coarse``: compared with a stream that had no block boundaries (Chat, Gemini)."""
        block = natural in BLOCK_ORDER
        reasoning: Any = self.reasoning_emitted
        if block:
            # Normalised: reasoning blocks as a multiset (the Responses parser opens a reasoning
            # block on its first summary part, so interleaved reasoning items may swap places).
            reasoning = ("".join(self.reasoning_blocks) if coarse
                         else sorted(filter(None, self.reasoning_blocks)))
        return {
            "text": self.text_blocks if block else self.text_emitted,
            "reasoning": reasoning,
            # Normalised: parallel calls compared as a set (Gemini emits a call when its block
            # stops, so interleaved calls may swap places; ids keep results paired).
            "calls": sorted(self.calls, key=lambda c: (c[0], c[1])),
        }


def _args(text: str) -> Any:
    """Streamed arguments: the JSON object, or the raw text of a cut stream."""
    try:
        return orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return text


def _chat_content(chunks: list[dict[str, Any]]) -> StreamContent:
    out = StreamContent()
    calls: dict[int, list[Any]] = {}
    for chunk in chunks:
        if "error" in chunk:
            out.ended = "error"
            continue
        if not chunk["choices"]:
            u = chunk["usage"]
            out.usage = ir.Usage(u["prompt_tokens"], u["completion_tokens"],
                                 u["prompt_tokens_details"]["cached_tokens"], 0,
                                 u["completion_tokens_details"]["reasoning_tokens"])
            continue
        choice = chunk["choices"][0]
        delta = choice["delta"]
        out.text_emitted += delta.get("content") or ""
        out.reasoning_emitted += delta.get("reasoning_content") or ""
        for fragment in delta.get("tool_calls") or ():
            call = calls.setdefault(fragment["index"], [None, None, ""])
            call[0] = fragment.get("id", call[0])
            call[1] = fragment["function"].get("name", call[1])
            call[2] += fragment["function"].get("arguments", "")
        if choice.get("finish_reason"):
            out.ended = "stop"
            out.stop = {"stop": ir.StopReason.END_TURN, "length": ir.StopReason.MAX_TOKENS,
                        "tool_calls": ir.StopReason.TOOL_USE,
                        "content_filter": ir.StopReason.CONTENT_FILTER}[choice["finish_reason"]]
    out.text_blocks, out.reasoning_blocks = out.text_emitted, [out.reasoning_emitted]
    out.calls = [(i, n, _args(a)) for i, n, a in calls.values()]
    return out


_ANTHROPIC_STOP = {"end_turn": ir.StopReason.END_TURN, "max_tokens": ir.StopReason.MAX_TOKENS,
                   "stop_sequence": ir.StopReason.STOP_SEQUENCE,
                   "tool_use": ir.StopReason.TOOL_USE, "pause_turn": ir.StopReason.PAUSE,
                   "refusal": ir.StopReason.CONTENT_FILTER}


def _anthropic_usage(u: dict[str, Any]) -> ir.Usage:
    read, write = u.get("cache_read_input_tokens", 0), u.get("cache_creation_input_tokens", 0)
    return ir.Usage(u["input_tokens"] + read + write, u["output_tokens"], read, write,
                    u.get("output_tokens_details", {}).get("thinking_tokens", 0))


def _anthropic_content(events: list[dict[str, Any]]) -> StreamContent:
    out = StreamContent()
    blocks: dict[int, list[Any]] = {}
    usage: dict[str, Any] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            usage.update(event["message"]["usage"])
        elif kind == "content_block_start":
            block = event["content_block"]
            blocks[event["index"]] = [block["type"], block.get("id"), block.get("name"), ""]
        elif kind == "content_block_delta":
            delta, block = event["delta"], blocks[event["index"]]
            piece = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            block[3] += piece
            if delta["type"] == "text_delta":
                out.text_emitted += piece
            elif delta["type"] == "thinking_delta":
                out.reasoning_emitted += piece
        elif kind == "message_delta":
            usage.update(event["usage"])
            out.stop = _ANTHROPIC_STOP[event["delta"]["stop_reason"]]
        elif kind == "message_stop":
            out.ended = "stop"
        elif kind == "error":
            out.ended = "error"
    out.text_blocks = "".join(b[3] for b in blocks.values() if b[0] == "text")
    out.reasoning_blocks = [b[3] for b in blocks.values() if b[0] == "thinking"]
    out.calls = [(b[1], b[2], _args(b[3])) for b in blocks.values()
                 if b[0] == "tool_use"]
    out.usage = _anthropic_usage(usage) if out.ended == "stop" else None
    return out


def _responses_content(events: list[dict[str, Any]]) -> StreamContent:
    out = StreamContent()
    items: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event["type"]
        if kind == "response.output_text.delta":
            out.text_emitted += event["delta"]
        elif kind == "response.reasoning_summary_text.delta":
            out.reasoning_emitted += event["delta"]
        elif kind == "response.output_item.done":
            items[event["output_index"]] = event["item"]
        elif kind in ("response.completed", "response.incomplete"):
            out.ended = "stop"
            response = event["response"]
            u = response["usage"]
            out.usage = ir.Usage(u["input_tokens"], u["output_tokens"],
                                 u["input_tokens_details"]["cached_tokens"],
                                 u["input_tokens_details"].get("cache_write_tokens", 0),
                                 u["output_tokens_details"]["reasoning_tokens"])
            reason = (response.get("incomplete_details") or {}).get("reason")
            out.stop = {None: ir.StopReason.END_TURN, "max_output_tokens":
                        ir.StopReason.MAX_TOKENS, "content_filter":
                        ir.StopReason.CONTENT_FILTER}[reason]
        elif kind == "response.failed":
            out.ended = "error"
    ordered = [items[i] for i in sorted(items)]
    out.text_blocks = "".join(c["text"] for i in ordered if i["type"] == "message"
                              for c in i["content"])
    out.reasoning_blocks = ["".join(s["text"] for s in i["summary"]) for i in ordered
                            if i["type"] == "reasoning"]
    out.calls = [(i["call_id"], i["name"], _args(i["arguments"])) for i in ordered
                 if i["type"] == "function_call"]
    return out


_GEMINI_STOP = {"STOP": ir.StopReason.END_TURN, "MAX_TOKENS": ir.StopReason.MAX_TOKENS,
                "SAFETY": ir.StopReason.CONTENT_FILTER, "OTHER": ir.StopReason.ERROR}


def _gemini_content(events: list[dict[str, Any]]) -> StreamContent:
    out = StreamContent()
    for event in events:
        if "error" in event:
            out.ended = "error"
            continue
        candidate = event["candidates"][0]
        for part in candidate["content"]["parts"]:
            if "functionCall" in part:
                call = part["functionCall"]
                out.calls.append((call.get("id"), call["name"], call.get("args", {})))
            elif part.get("thought"):
                out.reasoning_emitted += part.get("text", "")
            else:
                out.text_emitted += part.get("text", "")
        if candidate.get("finishReason"):
            out.ended = "stop"
            out.stop = _GEMINI_STOP[candidate["finishReason"]]
            u = event["usageMetadata"]
            thoughts = u.get("thoughtsTokenCount", 0)
            out.usage = ir.Usage(u["promptTokenCount"], u.get("candidatesTokenCount", 0) + thoughts,
                                 u.get("cachedContentTokenCount", 0), 0, thoughts)
    out.text_blocks, out.reasoning_blocks = out.text_emitted, [out.reasoning_emitted]
    return out


EXTRACT: dict[ir.Format, Callable[[list[dict[str, Any]]], StreamContent]] = {
    CHAT: _chat_content, RESPONSES: _responses_content, ANTHROPIC: _anthropic_content,
    GEMINI: _gemini_content,
}


def read_stream(raw: bytes, fmt: ir.Format) -> StreamContent:
    return EXTRACT[fmt](VALIDATORS[fmt](raw))


def expected_content(events: list[ir.StreamEvent]) -> StreamContent:
    """What the IR sequence itself carries."""
    out = StreamContent()
    kinds: dict[int, ir.BlockStart] = {}
    chunks: dict[int, list[str]] = {}
    usage: ir.Usage | None = None
    for event in events:
        match event:
            case ir.MessageStart(usage=u) | ir.UsageUpdate(usage=u) if u is not None:
                usage = u
            case ir.BlockStart(index=i):
                kinds[i], chunks[i] = event, []
            case ir.TextDelta(index=i, text=t):
                out.text_emitted += t
                chunks[i].append(t)
            case ir.ReasoningDelta(index=i, text=t):
                out.reasoning_emitted += t
                chunks[i].append(t)
            case ir.ToolArgsDelta(index=i, fragment=f):
                chunks[i].append(f)
            case ir.MessageStop(stop_reason=reason, usage=u):
                out.ended, out.stop = "stop", reason
                usage = u or usage
            case ir.StreamError():
                out.ended = "error"
    if not out.ended:
        out.ended = "error"  # the renderer's close() reports the early end
    ordered = sorted(kinds)
    out.text_blocks = "".join("".join(chunks[i]) for i in ordered if kinds[i].kind == "text")
    out.reasoning_blocks = ["".join(chunks[i]) for i in ordered if kinds[i].kind == "reasoning"]
    if out.ended == "stop":  # a cut stream's arguments may not be JSON yet
        out.calls = [(kinds[i].tool_id, kinds[i].tool_name, orjson.loads("".join(chunks[i])))
                     for i in ordered if kinds[i].kind == "tool_call"]
    out.usage = usage or ir.Usage()
    return out


def _stop_class(reason: Any, has_calls: bool, target: ir.Format) -> Any:
    """Stop reasons compared as a target can say them: max tokens and content filter exactly;
    an error only where the family has one (Responses ``failed``, Gemini ``OTHER``); anything
    else is "the turn ended", with tool use read from the calls (Gemini says STOP for both)."""
    if reason in (ir.StopReason.MAX_TOKENS, ir.StopReason.CONTENT_FILTER):
        return reason
    if reason is ir.StopReason.ERROR and target in (RESPONSES, GEMINI):
        return reason
    return "tool" if has_calls else "end"


def _usage_view(usage: ir.Usage | None, target: ir.Format) -> ir.Usage | None:
    if usage is None or target in (RESPONSES, ANTHROPIC):
        return usage
    return ir.Usage(usage.input_tokens, usage.output_tokens, usage.cached_tokens, 0,
                    usage.reasoning_tokens)  # Chat and Gemini have no cache-write count


STREAM_REQUEST = ir.Request(model="", messages=(), include_usage=True, stream=True)


def render_events(events: Iterable[ir.StreamEvent], fmt: ir.Format,
                  request: ir.Request = STREAM_REQUEST) -> bytes:
    renderer = FORMATS[fmt].render_stream(request)
    return b"".join(renderer.feed(e) for e in events) + renderer.close()


def _assert_same_end(got: StreamContent, want: StreamContent, target: ir.Format) -> None:
    ended = want.ended
    if want.ended == "stop" and want.stop is ir.StopReason.ERROR and target is RESPONSES:
        ended = "error"  # a Responses stream that failed ends in response.failed
    assert got.ended == ended
    if ended == "stop":
        has_calls = bool(want.calls)
        assert _stop_class(got.stop, has_calls, target) == _stop_class(want.stop, has_calls,
                                                                       target)
        assert got.usage == _usage_view(want.usage, target)


@pytest.mark.parametrize("fmt", ALL, ids=str)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sequences())
def test_any_event_sequence_renders_a_valid_stream(fmt: ir.Format,
                                                   events: list[ir.StreamEvent]) -> None:
    got = read_stream(render_events(events, fmt), fmt)
    want = expected_content(events)
    _assert_same_end(got, want, fmt)
    if want.ended == "stop":
        assert got.view(fmt) == want.view(fmt)


def translate(raw: bytes, source: ir.Format, target: ir.Format,
              request: ir.Request = STREAM_REQUEST, chunk: int = 7) -> bytes:
    """The proxy's stream path: upstream bytes (in small chunks) → decoder → parser → renderer."""
    decoder, parser = sse.SSEDecoder(), FORMATS[source].parse_stream()
    renderer = FORMATS[target].render_stream(request)
    out: list[bytes] = []
    for start in range(0, len(raw), chunk):
        for event in decoder.feed(raw[start:start + chunk]):
            out.extend(renderer.feed(e) for e in parser.feed(event))
    for event in decoder.close():
        out.extend(renderer.feed(e) for e in parser.feed(event))
    out.extend(renderer.feed(e) for e in parser.close())
    return b"".join(out) + renderer.close()


@pytest.mark.parametrize("source", ALL, ids=str)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_sequences(), chunk=st.integers(1, 64))
def test_stream_translation_pipeline_per_pair(source: ir.Format, events: list[ir.StreamEvent],
                                              chunk: int) -> None:
    upstream = render_events(events, source)
    heard = read_stream(upstream, source)
    for target in ALL:
        got = read_stream(translate(upstream, source, target, chunk=chunk), target)
        if heard.ended == "stop":
            _assert_same_end(got, heard, target)
            coarse = source not in BLOCK_ORDER
            assert got.view(target, coarse) == heard.view(target, coarse), target
        else:
            assert got.ended == "error", target


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=str)
def test_translation_forwards_text_before_the_upstream_ends(source: ir.Format,
                                                            target: ir.Format) -> None:
    """Event by event, never buffered to the end: what arrived is already sent on."""
    events: list[ir.StreamEvent] = [
        ir.MessageStart("m1", "m"), ir.BlockStart(0, "text"),
        *(ir.TextDelta(0, f"<{n}>") for n in range(5)), ir.BlockStop(0),
        ir.MessageStop(ir.StopReason.END_TURN, ir.Usage(1, 1))]
    upstream = render_events(events, source)
    decoder, parser = sse.SSEDecoder(), FORMATS[source].parse_stream()
    renderer = FORMATS[target].render_stream(STREAM_REQUEST)
    sent = b""
    for event in decoder.feed(upstream[:upstream.index(b"<4>")]):  # cut inside the last delta
        for ir_event in parser.feed(event):
            sent += renderer.feed(ir_event)
    assert b"<3>" in sent


# === responses =================================================================================


def response_view(response: ir.Response, target: ir.Format) -> dict[str, Any]:
    texts = _texts(response.parts)
    reasoning: list[Any] = []
    own = response.source is target
    for part in response.parts:
        if not isinstance(part, ir.Reasoning):
            continue
        sig = part.signature.value if part.signature and part.signature.format is target else None
        if target is ANTHROPIC and sig and sig.startswith(REDACTED_PREFIX):
            reasoning.append(("redacted", sig[len(REDACTED_PREFIX):]))
        elif target is ANTHROPIC and sig and part.redacted:
            reasoning.append(("redacted", sig))
        elif (part.text and not part.redacted) or (sig and target is not CHAT):
            # Shown reasoning survives everywhere; a signature only with its issuer.
            reasoning.append((part.text, sig if target is not CHAT else None))
    if target is RESPONSES and own:
        # Own summary parts of one item come back as one part per summary (item id kept).
        reasoning = [r for r in reasoning if r[0] or r[1]]
    calls = [(p.id, p.name, dict(p.arguments)) for p in response.parts
             if isinstance(p, ir.ToolCall)]
    if target is CHAT:
        texts = ["".join(texts)] if texts else []  # one content string
        shown = [r[0] for r in reasoning if r[0]]
        reasoning = [("\n\n".join(shown), None)] if shown else []  # one reasoning_content
    return {
        "texts": texts, "reasoning": reasoning, "calls": calls,
        "stop": _stop_class(response.stop_reason, bool(calls), target),
        "usage": _usage_view(response.usage, target),
    }


BARE = ir.Request(model="", messages=())


@pytest.mark.parametrize("source", ALL, ids=str)
@SETTINGS
@given(data=st.data())
def test_responses_translate_across_every_pair(source: ir.Format, data: st.DataObject) -> None:
    response = data.draw(responses(source))
    parsed = FORMATS[source].parse_response(wire(FORMATS[source].render_response(response, BARE)))
    assert response_view(parsed, source) == response_view(response, source)
    for target in ALL:
        module = FORMATS[target]
        back = module.parse_response(wire(module.render_response(parsed, BARE)))
        assert response_view(back, target) == response_view(parsed, target), target
        if parsed.id:
            assert back.id == parsed.id


# === per-event cost ============================================================================


def _long_stream(blocks: int) -> list[ir.StreamEvent]:
    """``blocks`` × (a text block of 8 deltas, a reasoning block of 4, a tool call of 4)."""
    events: list[ir.StreamEvent] = [ir.MessageStart("msg_1", "m")]
    index = 0
    for n in range(blocks):
        events += [ir.BlockStart(index, "text"), *(ir.TextDelta(index, f"word{n} ")
                                                   for _ in range(8)), ir.BlockStop(index)]
        index += 1
        events += [ir.BlockStart(index, "reasoning"),
                   *(ir.ReasoningDelta(index, "hmm ") for _ in range(4)), ir.BlockStop(index)]
        index += 1
        events += [ir.BlockStart(index, "tool_call", f"call_{n}", "tool"),
                   ir.ToolArgsDelta(index, '{"a"'), ir.ToolArgsDelta(index, ': "x'),
                   ir.ToolArgsDelta(index, 'yz"'), ir.ToolArgsDelta(index, "}"),
                   ir.BlockStop(index)]
        index += 1
        events.append(ir.UsageUpdate(ir.Usage(10, n)))
    events.append(ir.MessageStop(ir.StopReason.TOOL_USE, ir.Usage(10, blocks)))
    return events


def _cost(run: Callable[[], bytes], runs: int = 3) -> tuple[float, int]:
    """The best of ``runs`` timed runs after a warm-up, the collector paused (a loaded machine
    only ever adds time), and the bytes produced."""
    size = len(run()) if runs > 2 else 0
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            size = len(run())
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best, size


SMALL, LARGE = 10, 100  # blocks; the large stream has 10× the events
SLACK = 3  # a linear cost measures ~10× here, a quadratic one ~100×


@pytest.mark.parametrize("fmt", ALL, ids=str)
def test_render_cost_grows_linearly_with_stream_length(fmt: ir.Format) -> None:
    small, large = _long_stream(SMALL), _long_stream(LARGE)
    assert len(large) > 9 * len(small)
    t_small, b_small = _cost(lambda: render_events(small, fmt))
    t_large, b_large = _cost(lambda: render_events(large, fmt), runs=2)
    # Bytes: every event renders a bounded amount (the terminal Responses event repeats the
    # output once, which is still linear).
    assert b_large <= 12 * b_small
    assert t_large <= 10 * SLACK * t_small, (t_small, t_large)


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=str)
def test_translation_cost_grows_linearly_with_stream_length(source: ir.Format,
                                                            target: ir.Format) -> None:
    small = render_events(_long_stream(SMALL), source)
    large = render_events(_long_stream(LARGE), source)
    t_small, b_small = _cost(lambda: translate(small, source, target, chunk=256))
    t_large, b_large = _cost(lambda: translate(large, source, target, chunk=256), runs=2)
    assert b_large <= 12 * b_small
    assert t_large <= 10 * SLACK * t_small, (t_small, t_large)
