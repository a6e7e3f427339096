"""The face every wire-format module shows (``WireFormat``) and its stream halves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from cliproxy_cli.formats.ir import ErrorInfo, Request, Response, StreamEvent
from cliproxy_cli.formats.sse import SSEEvent


class StreamParser(Protocol):
    """Upstream SSE events in, IR stream events out, with bounded per-stream state.

    ``close()`` is called at EOF: it closes open blocks and, when the upstream never sent its
    terminal event, emits a ``StreamError`` (a stream must never just stop)."""

    def feed(self, event: SSEEvent) -> list[StreamEvent]: ...

    def close(self) -> list[StreamEvent]: ...


class StreamRenderer(Protocol):
    """IR stream events in, the client's SSE bytes out (complete events, ready to write)."""

    def feed(self, event: StreamEvent) -> bytes: ...

    def close(self) -> bytes: ...


class WireFormat(Protocol):
    def parse_request(self, body: Mapping[str, Any]) -> Request: ...

    def render_request(self, request: Request) -> dict[str, Any]: ...

    def parse_response(self, body: Mapping[str, Any]) -> Response: ...

    def render_response(self, response: Response, request: Request) -> dict[str, Any]: ...

    def parse_stream(self) -> StreamParser: ...

    def render_stream(self, request: Request) -> StreamRenderer: ...

    def parse_error(self, status: int, body: Any) -> ErrorInfo: ...

    def render_error(self, error: ErrorInfo) -> dict[str, Any]: ...
