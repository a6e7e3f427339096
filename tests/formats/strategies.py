"""Hypothesis strategies over the IR, shared by the cross-format and token tests.

- ``requests(source)``: conversations with a system prompt, multi-turn history, images (base64
  and URL), tools whose JSON schemas include what Gemini rejects, tool_choice, single and
  parallel tool calls answered by id, reasoning signed by any family (or not at all), sampling,
  max tokens, stop sequences and a reasoning config; ``source`` tags the request (and is the
  family its own signatures come from most often).
- ``responses(source)``: replies with reasoning, text, tool calls, a stop reason and consistent
  usage (cached + cache-write ≤ input, reasoning ≤ output).
- ``event_sequences()``: VALID IR stream event sequences: ``MessageStart`` first, dense block
  indices in start order, each block start → deltas of its kind → stop, deltas of open blocks
  optionally interleaved, cumulative (never decreasing) ``UsageUpdate`` anywhere after the start,
  then ``MessageStop`` with usage, or a ``StreamError`` (possibly with blocks still open), or nothing (an early end).
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import orjson
from hypothesis import strategies as st

from cliproxy_cli.formats import ir

FAMILIES: tuple[ir.Format, ...] = tuple(ir.Format)
REDACTED_PREFIX = "redacted_thinking:"  # formats/anthropic/_common.REDACTED (stream alphabet)

# --- leaves ------------------------------------------------------------------------------------

_CHARS = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"))
texts = st.text(st.one_of(_CHARS, st.sampled_from("\n\t ")), min_size=1, max_size=16).filter(
    lambda t: t.strip() != "")
"""Visible text (never blank: several APIs reject whitespace-only blocks)."""
_LOWER = "abcdefghijklmnopqrstuvwxyz"
_ALNUM = _LOWER + _LOWER.upper() + "0123456789"


def _word(first: str, rest: str, max_size: int, prefix: str = "") -> st.SearchStrategy[str]:
    return st.builds(lambda a, b: prefix + a + b, st.sampled_from(first),
                     st.text(rest, max_size=max_size))


words = _word(_ALNUM, _ALNUM + " ,.!?", 15)
names = _word(_LOWER, _LOWER + "0123456789_", 10)
models = st.sampled_from(["gpt-5", "claude-sonnet-4-5", "gemini-2.5-pro", "qwen3-coder", "m"])
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
signature_values = st.text(_B64, min_size=4, max_size=24)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), words)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)
arguments = st.dictionaries(_word(_LOWER, _LOWER, 7), json_values, max_size=4)


def signatures(*families: ir.Format) -> st.SearchStrategy[ir.Signature]:
    return st.builds(ir.Signature, st.sampled_from(families or FAMILIES), signature_values)


images = st.one_of(
    st.builds(lambda mt, raw: ir.Image(media_type=mt, data=base64.b64encode(raw).decode()),
              st.sampled_from(["image/png", "image/jpeg", "image/gif", "image/webp"]),
              st.binary(min_size=1, max_size=24)),
    st.builds(lambda name, ext, mt: ir.Image(media_type=mt, url=f"https://img.example/{name}.{ext}"),
              names, st.sampled_from(["png", "jpg"]),
              st.sampled_from(["", "image/png", "image/jpeg"])),
)
"""Base64 images (standard, padded, with a media type) and URL images (with or without one)."""



def call_ids(ordinal: int) -> st.SearchStrategy[str]:
    """A tool-call id in some family's style, unique by its ``ordinal``; the ``fc:``-style ones
    hold characters Anthropic has to clean."""
    prefix = st.sampled_from(["call_", "toolu_", "fc.", "fc:", "fc/", "fc|"])
    return st.builds(lambda p, tail: f"{p}{ordinal}x{tail}", prefix,
                     st.text(_ALNUM, min_size=2, max_size=10))


# --- JSON schemas (including what Gemini's Schema rejects) -------------------------------------

_SCALAR_SCHEMAS: list[dict[str, Any]] = [
    {"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "number"},
    {"type": "boolean"}, {"type": "string", "enum": ["a", "b"]},
    {"type": "array", "items": {"type": "string"}},
    {"type": "string", "description": "a described field"},
]
_GEMINI_REJECTS: list[dict[str, Any]] = [
    {"type": ["string", "null"]},
    {"type": ["integer", "string"]},
    {"const": "fixed"},
    {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": False},
    {"$ref": "#/$defs/Thing"},
    {"anyOf": [{"type": "string"}, {"type": "null"}]},
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "string", "default": "x", "examples": ["y"]},
    {"type": "integer", "exclusiveMinimum": 0},
    {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}},
                                "required": ["n"], "additionalProperties": False}},
]


@st.composite
def schemas(draw: st.DrawFn) -> dict[str, Any]:
    kinds = st.sampled_from(_SCALAR_SCHEMAS + _GEMINI_REJECTS)
    props = draw(st.dictionaries(_word(_LOWER, _LOWER, 5, "p_"), kinds, max_size=4))
    out: dict[str, Any] = {"type": "object", "properties": props}
    required = draw(st.booleans())
    if props and required:
        out["required"] = sorted(draw(st.sets(st.sampled_from(sorted(props)), min_size=1)))
    if draw(st.booleans()):
        out["$schema"] = "http://json-schema.org/draft-07/schema#"
    if draw(st.booleans()):
        out["additionalProperties"] = False
    if any("$ref" in p for p in props.values()):
        out["$defs"] = {"Thing": {"type": "object", "properties": {"v": {"type": "string"}}}}
    return out


tools = st.builds(ir.Tool, names, st.one_of(st.just(""), words), schemas())


# --- requests ----------------------------------------------------------------------------------


def _content(draw: st.DrawFn, with_images: bool = True) -> list[ir.Text | ir.Image]:
    item = st.one_of(st.builds(ir.Text, texts), images) if with_images else st.builds(
        ir.Text, texts)
    return draw(st.lists(item, min_size=1, max_size=3))


def _reasoning(draw: st.DrawFn, source: ir.Format | None) -> ir.Reasoning:
    family = draw(st.sampled_from([source, *FAMILIES] if source else FAMILIES))
    kind = draw(st.sampled_from(["unsigned", "signed", "signed", "redacted"]))
    if kind == "unsigned":
        return ir.Reasoning(draw(texts))
    value = draw(signature_values)
    if kind == "redacted":
        # Only Claude issues redacted thinking; its payload is the signature.
        return ir.Reasoning(signature=ir.Signature(ir.Format.ANTHROPIC, value), redacted=True)
    return ir.Reasoning(draw(st.just("") | texts), ir.Signature(family, value))


def _result_text() -> st.SearchStrategy[str]:
    """A tool result: prose, or a JSON object (what tools usually return)."""
    obj = st.dictionaries(_word(_LOWER, _LOWER, 4, "k_"), json_values,
                          min_size=1, max_size=3)
    return st.one_of(words, obj.map(lambda o: orjson.dumps(o).decode()))


@st.composite
def requests(draw: st.DrawFn, source: ir.Format | None = None) -> ir.Request:
    tool_list = draw(st.lists(tools, max_size=3, unique_by=lambda t: t.name))
    tool_names = [t.name for t in tool_list] or draw(st.lists(names, min_size=1, max_size=2))
    used_ids: set[str] = set()
    messages: list[ir.Message] = [ir.Message(ir.Role.USER, tuple(_content(draw)))]
    for kind in draw(st.lists(st.sampled_from(["user", "assistant", "tools", "system"]),
                              max_size=6)):
        if kind == "user":
            messages.append(ir.Message(ir.Role.USER, tuple(_content(draw))))
        elif kind == "system":
            messages.append(ir.Message(ir.Role.SYSTEM, tuple(_content(draw, False))))
        else:
            messages.extend(_tool_turn(draw, source, tool_names, used_ids, kind == "tools"))
    system = tuple(ir.Text(t) for t in draw(st.lists(texts, max_size=2)))
    choice = None
    if tool_list:
        choice = draw(st.none() | st.builds(ir.ToolChoice, st.sampled_from(
            ["auto", "none", "required"])) | st.builds(ir.ToolChoice, st.just("tool"),
                                                      st.sampled_from(tool_names)))
    effort = st.sampled_from(["none", "minimal", "low", "medium", "high", "xhigh", "auto"])
    budget = st.sampled_from([-1, 0, 512, 2048, 16000, 40000])
    asked = st.one_of(st.tuples(effort, st.none()), st.tuples(st.none(), budget),
                      st.tuples(effort, budget))  # an effort, a budget, or both
    reasoning = draw(st.none() | st.builds(
        lambda e_b, inc: ir.ReasoningConfig(effort=e_b[0], budget=e_b[1], include_thoughts=inc),
        asked, st.none() | st.booleans()))
    return ir.Request(
        model=draw(models), messages=tuple(messages), system=system, tools=tuple(tool_list),
        tool_choice=choice, parallel_tool_calls=draw(st.none() | st.booleans()),
        max_tokens=draw(st.none() | st.integers(1, 64000)),
        temperature=draw(st.none() | st.floats(0, 2, allow_nan=False).map(lambda f: round(f, 3))),
        top_p=draw(st.none() | st.floats(0, 1).map(lambda f: round(f, 3))),
        top_k=draw(st.none() | st.integers(1, 100)),
        stop=tuple(draw(st.lists(words, max_size=3, unique=True))),
        reasoning=reasoning, stream=draw(st.booleans()), user=draw(st.just("") | names),
        source=source,
    )


def _tool_turn(draw: st.DrawFn, source: ir.Format | None, tool_names: list[str],
               used_ids: set[str], with_calls: bool) -> list[ir.Message]:
    """An assistant turn (reasoning, text, calls), and when it calls tools the user turn that
    answers every call by id (in any order), optionally followed by more user content."""
    parts: list[ir.Part] = [_reasoning(draw, source)
                            for _ in range(draw(st.integers(0, 2)))]
    parts += [ir.Text(t) for t in draw(st.lists(texts, max_size=2))]
    calls: list[ir.ToolCall] = []
    for _ in range(draw(st.integers(1, 3)) if with_calls else 0):
        call_id = draw(call_ids(len(used_ids)))
        used_ids.add(call_id)
        signature = draw(st.none() | signatures(ir.Format.GEMINI))
        calls.append(ir.ToolCall(call_id, draw(st.sampled_from(tool_names)), draw(arguments),
                                 signature))
    if not calls and not any(isinstance(p, ir.Text) for p in parts):
        parts.append(ir.Text(draw(texts)))
    turn = [ir.Message(ir.Role.ASSISTANT, (*parts, *calls))]
    if calls:
        order = draw(st.permutations(calls))
        results: list[ir.Part] = []
        for call in order:
            content: list[ir.Text | ir.Image] = []
            if draw(st.booleans()):
                content.append(ir.Text(draw(_result_text())))
            content += draw(st.lists(images, max_size=1))
            results.append(ir.ToolResult(call.id, tuple(content), call.name,
                                         is_error=draw(st.booleans())))
        results += draw(st.lists(st.builds(ir.Text, texts) | images, max_size=2))
        turn.append(ir.Message(ir.Role.USER, tuple(results)))
    return turn


# --- responses ---------------------------------------------------------------------------------


@st.composite
def usages(draw: st.DrawFn) -> ir.Usage:
    input_tokens = draw(st.integers(0, 10**6))
    cached = draw(st.integers(0, input_tokens))
    writes = draw(st.integers(0, input_tokens - cached))
    output = draw(st.integers(0, 10**5))
    return ir.Usage(input_tokens, output, cached, writes, draw(st.integers(0, output)))


@st.composite
def responses(draw: st.DrawFn, source: ir.Format | None = None) -> ir.Response:
    parts: list[ir.Part] = [_reasoning(draw, source) for _ in range(draw(st.integers(0, 2)))]
    parts += [ir.Text(t) for t in draw(st.lists(texts, max_size=3))]
    for n in range(draw(st.integers(0, 3))):
        parts.append(ir.ToolCall(f"call_{n}x{draw(st.text(_ALNUM, min_size=4, max_size=8))}",
                                 draw(names), draw(arguments)))
    has_calls = any(isinstance(p, ir.ToolCall) for p in parts)
    stop = draw(st.sampled_from(list(ir.StopReason)))
    if has_calls and draw(st.booleans()):
        stop = ir.StopReason.TOOL_USE
    return ir.Response(
        id=draw(st.sampled_from(["", "resp_abc123", "msg_01abc", "chatcmpl-9x"])),
        model=draw(models), parts=tuple(parts), stop_reason=stop,
        stop_sequence=draw(words) if stop is ir.StopReason.STOP_SEQUENCE else "",
        usage=draw(usages()), created=draw(st.integers(0, 2**31)), source=source,
    )


# --- stream event sequences --------------------------------------------------------------------

_DELTA: dict[str, type[ir.TextDelta] | type[ir.ReasoningDelta]] = {
    "text": ir.TextDelta, "reasoning": ir.ReasoningDelta}


def split(text: str, cuts: list[int]) -> list[str]:
    """``text`` cut at the given offsets (each piece non-empty)."""
    points = sorted({c for c in cuts if 0 < c < len(text)})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if a < b]


@st.composite
def _grown(draw: st.DrawFn, last: ir.Usage | None) -> ir.Usage:
    """Usage at least ``last`` in every count (stream usage is cumulative), still consistent."""
    base = last or ir.Usage()
    more = draw(usages())
    return ir.Usage(base.input_tokens + more.input_tokens,
                    base.output_tokens + more.output_tokens,
                    base.cached_tokens + more.cached_tokens,
                    base.cache_creation_tokens + more.cache_creation_tokens,
                    base.reasoning_tokens + more.reasoning_tokens)


@st.composite
def _block_script(draw: st.DrawFn, index: int, kind: ir.BlockKind) -> list[ir.StreamEvent]:
    if kind == "tool_call":
        args = orjson.dumps(draw(arguments)).decode()
        cuts = draw(st.lists(st.integers(1, max(1, len(args) - 1)), max_size=4))
        tool_id = f"call_{index}x{draw(st.text(_ALNUM, min_size=4, max_size=8))}"
        start = ir.BlockStart(index, kind, tool_id, draw(names))  # ids unique per message
        return [start, *(ir.ToolArgsDelta(index, f) for f in split(args, cuts)),
                ir.BlockStop(index)]
    script: list[ir.StreamEvent] = [ir.BlockStart(index, kind)]
    script += [_DELTA[kind](index, t) for t in draw(st.lists(texts, max_size=3))]
    if kind == "reasoning" and draw(st.booleans()):
        script.append(ir.SignatureDelta(index, draw(signatures())))
    script.append(ir.BlockStop(index))
    return script


@st.composite
def event_sequences(draw: st.DrawFn, max_blocks: int = 5,
                    ends: tuple[str, ...] = ("stop", "stop", "error", "early"),
                    ) -> list[ir.StreamEvent]:
    kinds: list[ir.BlockKind] = draw(st.lists(st.sampled_from(["text", "reasoning",
                                                               "tool_call"]),
                                              max_size=max_blocks))
    scripts = [draw(_block_script(i, kind)) for i, kind in enumerate(kinds)]
    interleave = draw(st.booleans())
    usage: ir.Usage | None = draw(st.none() | usages())
    events: list[ir.StreamEvent] = [ir.MessageStart(
        draw(st.sampled_from(["", "msg_01abc", "resp_9", "chatcmpl-1"])), draw(models), usage,
        draw(st.integers(0, 2**31)))]
    cursor = [0] * len(scripts)
    started = 0
    while True:
        ready = [i for i, s in enumerate(scripts) if cursor[i] < len(s)
                 and (cursor[i] > 0 or i == started)]
        if not interleave:
            # Sequential blocks: the oldest unfinished one goes on.
            ready = ready[:1]
        if not ready:
            break
        i = draw(st.sampled_from(ready))
        started += cursor[i] == 0
        events.append(scripts[i][cursor[i]])
        cursor[i] += 1
        if draw(st.integers(0, 9)) == 0:
            usage = draw(_grown(usage))
            events.append(ir.UsageUpdate(usage))
    end = draw(st.sampled_from(ends))
    if end == "stop":
        calls = any(k == "tool_call" for k in kinds)
        reason = draw(st.sampled_from(list(ir.StopReason)))
        if calls and draw(st.booleans()):
            reason = ir.StopReason.TOOL_USE
        events.append(ir.MessageStop(reason, draw(st.none() | _grown(usage)),
                                     draw(words) if reason is ir.StopReason.STOP_SEQUENCE
                                     else ""))
    else:
        cut = draw(st.integers(1, len(events)))
        del events[cut:]
        if end == "error":
            events.append(ir.StreamError(ir.ErrorInfo(
                draw(st.sampled_from([429, 500, 502, 503, 529])), draw(words),
                draw(st.sampled_from(["server_error", "rate_limit_error", "overloaded_error"])))))
    return events
