"""Server-sent events: an incremental decoder (bytes in, events out) and the encoder helpers.

The decoder keeps only the bytes of the line in progress and the fields of the event in
progress, so its work is O(bytes fed) and its memory bounded by one event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    data: str
    event: str = ""
    id: str = ""


class SSEDecoder:
    """Feed raw bytes as they arrive; get back the events completed so far."""

    __slots__ = ("_buf", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._buf = b""
        self._data: list[bytes] = []
        self._event = ""
        self._id = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        if not chunk:
            return []
        if self._buf:
            chunk = self._buf + chunk
        lines = chunk.split(b"\n")
        self._buf = lines.pop()  # the line in progress (b"" when the chunk ended a line)
        out: list[SSEEvent] = []
        data = self._data
        for line in lines:  # the common lines inline: this loop runs for every line of a stream
            if line[-1:] == b"\r":
                line = line[:-1]
            if line.startswith(b"data:"):
                value = line[5:]
                data.append(value[1:] if value[:1] == b" " else value)
            elif line.startswith(b"event:"):
                value = line[6:]
                self._event = (value[1:] if value[:1] == b" " else value).decode("utf-8", "replace")
            elif line:
                self._line(line, out)
            elif data or self._event:
                joined = data[0] if len(data) == 1 else b"\n".join(data)
                out.append(SSEEvent(joined.decode("utf-8", "replace"), self._event, self._id))
                data.clear()
                self._event = ""
        return out

    def close(self) -> list[SSEEvent]:
        out: list[SSEEvent] = []
        if self._buf:
            self._line(self._buf.rstrip(b"\r"), out)
            self._buf = b""
        self._line(b"", out)
        return out

    def _line(self, line: bytes, out: list[SSEEvent]) -> None:
        if not line:
            if self._data or self._event:
                data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
                out.append(SSEEvent(data.decode("utf-8", "replace"), self._event, self._id))
                self._data.clear()
                self._event = ""
            return
        if line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value[:1] == b" " else value)
            return
        if line[0] == 58:  # ':' comment / keep-alive
            return
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            self._id = value.decode("utf-8", "replace")


def encode(data: bytes | str, event: str | None = None) -> bytes:
    """One SSE event: ``event: NAME\\ndata: DATA\\n\\n`` (``data`` must hold no newline)."""
    payload = data.encode() if isinstance(data, str) else data
    if event:
        return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"
    return b"data: " + payload + b"\n\n"


KEEPALIVE_COMMENT = b": keep-alive\n\n"
