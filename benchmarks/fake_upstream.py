"""A fast fake upstream for the benchmarks: canned OpenAI Chat and Anthropic Messages replies,
JSON or SSE, served by aiohttp's web server (so the fake is never the bottleneck)."""

from __future__ import annotations

import argparse
import json

from aiohttp import web

CHAT = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
        "model": "bench-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from bench"},
                     "finish_reason": "stop", "logprobs": None}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
MSG = {"id": "msg_bench", "type": "message", "role": "assistant", "model": "bench-claude",
       "content": [{"type": "text", "text": "hello from bench"}], "stop_reason": "end_turn",
       "stop_sequence": None, "usage": {"input_tokens": 5, "output_tokens": 4}}


def chat_stream(events: int) -> bytes:
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "bench-chat"}
    out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                 "finish_reason": None}]}]
    out += [{**base, "choices": [{"index": 0, "delta": {"content": f"tok{i} "},
                                  "finish_reason": None}]} for i in range(events)]
    out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append({**base, "choices": [], "usage": CHAT["usage"]})
    return b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in out) + b"data: [DONE]\n\n"


def msg_stream(events: int) -> bytes:
    def ev(kind: str, data: dict) -> bytes:
        return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()

    start = dict(MSG, content=[], stop_reason=None)
    out = [ev("message_start", {"message": start}),
           ev("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
    out += [ev("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                              "text": f"tok{i} "}})
            for i in range(events)]
    out += [ev("content_block_stop", {"index": 0}),
            ev("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                 "usage": {"output_tokens": 4}}),
            ev("message_stop", {})]
    return b"".join(out)


def make_app(events: int) -> web.Application:
    chat_json, msg_json = json.dumps(CHAT).encode(), json.dumps(MSG).encode()
    chat_sse, msg_sse = chat_stream(events), msg_stream(events)

    async def reply(request: web.Request, as_json: bytes, as_sse: bytes) -> web.StreamResponse:
        body = await request.json()
        if body.get("stream"):
            resp = web.StreamResponse(headers={"content-type": "text/event-stream"})
            await resp.prepare(request)
            for piece in as_sse.split(b"\n\n")[:-1]:
                await resp.write(piece + b"\n\n")
            await resp.write_eof()
            return resp
        return web.Response(body=as_json, content_type="application/json")

    async def chat(request: web.Request) -> web.StreamResponse:
        return await reply(request, chat_json, chat_sse)

    async def messages(request: web.Request) -> web.StreamResponse:
        return await reply(request, msg_json, msg_sse)

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/v1/messages", messages)
    app.router.add_get("/healthz", health)
    return app


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--events", type=int, default=20)
    args = ap.parse_args()
    web.run_app(make_app(args.events), host="127.0.0.1", port=args.port, print=None,
                access_log=None)
