"""The SSE decoder: any split of the byte stream gives the same events; CRLF, comments,
multi-line data, event and id fields, a last event without its blank line."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cliproxy_cli.formats.sse import KEEPALIVE_COMMENT, SSEDecoder, SSEEvent, encode

STREAM = (
    b"event: message_start\ndata: {\"a\": 1}\n\n"
    + KEEPALIVE_COMMENT
    + b"data: line one\r\ndata: line two\r\n\r\n"
    + b"id: 7\nevent: ping\ndata:\n\n"
    + b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent('{"a": 1}', "message_start"),
    SSEEvent("line one\nline two"),
    SSEEvent("", "ping", "7"),
    SSEEvent("[DONE]", "", "7"),
]


def _decode(chunks: list[bytes]) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [e for c in chunks for e in decoder.feed(c)]
    return events + decoder.close()


def test_whole_stream() -> None:
    assert _decode([STREAM]) == EXPECTED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=12))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert _decode(chunks) == EXPECTED


def test_last_event_without_blank_line_is_flushed_on_close() -> None:
    assert _decode([b"data: tail"]) == [SSEEvent("tail")]


def test_encode_round_trips() -> None:
    raw = encode(b'{"x": 2}', "delta") + encode("plain")
    assert _decode([raw]) == [SSEEvent('{"x": 2}', "delta"), SSEEvent("plain")]


def test_utf8_split_inside_a_character() -> None:
    raw = "data: héllo ✓\n\n".encode()
    cut = raw.index("✓".encode()) + 1
    assert _decode([raw[:cut], raw[cut:]]) == [SSEEvent("héllo ✓")]
