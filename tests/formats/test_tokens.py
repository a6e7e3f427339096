"""The local token estimate (``formats/tokens.py``): it counts the system prompt, every tool and
every message part, and adding content never lowers it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats import ir
from cliproxy_cli.formats.tokens import (
    CHARS_PER_TOKEN,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD,
    estimate_tokens,
)
from tests.formats.strategies import arguments, images, requests, texts, tools

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BASE = ir.Request("m", (ir.Message(ir.Role.USER, (ir.Text("hello"),)),))
WORDS = "x" * 400  # 100 tokens at CHARS_PER_TOKEN = 4


def grows_by(changed: ir.Request, at_least: int, base: ir.Request = BASE) -> None:
    assert estimate_tokens(changed) - estimate_tokens(base) >= at_least


def test_the_estimate_counts_the_system_prompt() -> None:
    grows_by(replace(BASE, system=(ir.Text(WORDS),)), 100)
    grows_by(replace(BASE, system=(ir.Image(url="https://e.x/a.png"),)), IMAGE_TOKENS)


def test_the_estimate_counts_tools_names_descriptions_and_schemas() -> None:
    grows_by(replace(BASE, tools=(ir.Tool("t" * 40),)), 10)
    grows_by(replace(BASE, tools=(ir.Tool("t", WORDS),)), 100)
    schema = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(20)}}
    grows_by(replace(BASE, tools=(ir.Tool("t", "", schema),)), 100)


@pytest.mark.parametrize("part", [
    ir.Text(WORDS), ir.Reasoning(WORDS), ir.ToolCall("c", "f", {"q": WORDS}),
    ir.ToolCall("c", "f" * 400, {}), ir.ToolResult("c", (ir.Text(WORDS),)),
    ir.ToolResult("c", (), name="n" * 400),
], ids=lambda p: type(p).__name__)
def test_the_estimate_counts_every_kind_of_part(part: ir.Part) -> None:
    grows_by(replace(BASE, messages=(*BASE.messages, ir.Message(ir.Role.ASSISTANT, (part,)))),
             100 + MESSAGE_OVERHEAD)


def test_images_count_flat_wherever_they_are() -> None:
    image = ir.Image(media_type="image/png", data="AAAA" * 10_000)
    grows_by(replace(BASE, messages=(ir.Message(ir.Role.USER, (ir.Text("hello"), image)),)),
             IMAGE_TOKENS)
    result = ir.ToolResult("c", (image,))
    grows_by(replace(BASE, messages=(*BASE.messages, ir.Message(ir.Role.USER, (result,)))),
             IMAGE_TOKENS)


def test_every_message_counts_not_only_the_last() -> None:
    first = ir.Message(ir.Role.USER, (ir.Text(WORDS),))
    later = tuple(ir.Message(ir.Role.ASSISTANT if i % 2 else ir.Role.USER, (ir.Text("ok"),))
                  for i in range(6))
    short = replace(BASE, messages=(ir.Message(ir.Role.USER, (ir.Text("hi"),)), *later))
    grows_by(replace(BASE, messages=(first, *later)), 99, base=short)
    grows_by(replace(BASE, messages=(*BASE.messages, *later)), 6 * MESSAGE_OVERHEAD)


def test_the_estimate_is_about_four_characters_per_token() -> None:
    request = ir.Request("m", (ir.Message(ir.Role.USER, (ir.Text("y" * 4000),)),))
    assert estimate_tokens(request) == 4000 // CHARS_PER_TOKEN + MESSAGE_OVERHEAD
    assert estimate_tokens(ir.Request("m", ())) == 1  # never zero


_ADDED_PARTS = st.one_of(st.builds(ir.Text, texts), st.builds(ir.Reasoning, texts), images,
                         st.builds(ir.ToolCall, texts, texts, arguments),
                         st.builds(ir.ToolResult, texts, st.tuples(st.builds(ir.Text, texts))))


@st.composite
def grown(draw: st.DrawFn) -> tuple[ir.Request, ir.Request]:
    """A request and the same request with something added somewhere."""
    request = draw(requests())
    where = draw(st.sampled_from(["system", "tool", "message", "part", "longer text"]))
    if where == "system":
        return request, replace(request, system=(*request.system, ir.Text(draw(texts))))
    if where == "tool":
        return request, replace(request, tools=(*request.tools, draw(tools)))
    if where == "message":
        added = ir.Message(draw(st.sampled_from(list(ir.Role))), tuple(draw(st.lists(
            _ADDED_PARTS, max_size=2))))
        at = draw(st.integers(0, len(request.messages)))
        return request, replace(request, messages=(*request.messages[:at], added,
                                                   *request.messages[at:]))
    i = draw(st.integers(0, len(request.messages) - 1))
    message = request.messages[i]
    if where == "part":
        changed = replace(message, parts=(*message.parts, draw(_ADDED_PARTS)))
    else:
        j = draw(st.integers(0, len(message.parts) - 1))
        part = message.parts[j]
        if not isinstance(part, ir.Text | ir.Reasoning):
            return request, request
        longer = replace(part, text=part.text + draw(texts))
        changed = replace(message, parts=(*message.parts[:j], longer, *message.parts[j + 1:]))
    messages = (*request.messages[:i], changed, *request.messages[i + 1:])
    return request, replace(request, messages=messages)


@SETTINGS
@given(grown())
def test_adding_content_never_lowers_the_estimate(pair: tuple[ir.Request, ir.Request]) -> None:
    before, after = pair
    assert estimate_tokens(after) >= estimate_tokens(before) >= 1
