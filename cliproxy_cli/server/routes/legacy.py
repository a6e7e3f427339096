"""``POST /v1/completions`` (legacy prompt → text), served through the chat path *(compat)*."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from cliproxy_cli.formats import openai_chat, sse
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.server.pipeline import SSE_HEADERS, Inbound, serve_request
from cliproxy_cli.server.routes.common import (
    json_body,
    lower_headers,
    require_model,
    runtime,
    stream_flag,
)


async def serve_completions(request: Request) -> Response:
    rt = runtime(request)
    body = await json_body(request, rt.config.max_body_bytes)
    model = require_model(body)
    chat = openai_chat.completions_request_to_chat(body)
    inbound = Inbound(Format.OPENAI_CHAT, chat, model, stream_flag(body), lower_headers(request))
    response = await serve_request(rt, inbound)
    if isinstance(response, StreamingResponse):
        return StreamingResponse(_convert_stream(response.body_iterator),
                                 media_type="text/event-stream", headers=SSE_HEADERS)
    converted = openai_chat.chat_response_to_completions(orjson.loads(bytes(response.body)))
    return Response(orjson.dumps(converted), media_type="application/json")


async def _convert_stream(
    chunks: AsyncIterable[bytes | str | memoryview],
) -> AsyncIterator[bytes]:
    decoder = sse.SSEDecoder()
    async for chunk in chunks:
        raw = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
        out = b""
        for event in decoder.feed(raw):
            if event.data == "[DONE]":
                out += b"data: [DONE]\n\n"
                continue
            try:
                data = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                continue
            converted = data if "error" in data else openai_chat.chat_chunk_to_completions(data)
            if converted is not None:
                out += sse.encode(orjson.dumps(converted))
        if out:
            yield out
