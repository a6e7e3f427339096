"""Fake upstream model APIs speaking the real wire formats, written by hand from the vendors'
documented shapes (never with cliproxy's own renderers, so a bug cannot cancel itself out).

``FakeUpstream`` is one ASGI app serving every family at its real path:
- Anthropic Messages ``POST /v1/messages`` (+ ``/count_tokens``), JSON and SSE;
- OpenAI Chat ``POST /v1/chat/completions`` (also under ``/qwen`` and ``/iflow`` prefixes);
- OpenAI Responses ``POST /v1/responses`` and the Codex backend ``/backend-api/codex/responses``;
- Gemini ``POST /v1beta/models/{m}:generateContent|streamGenerateContent|countTokens`` and the
  Code Assist ``/v1internal:*`` envelope.

Answers are deterministic: text ``"<family> says: <last user text>"``; when the request offers
tools and the last user text contains ``TOOLTEST``, the reply is a call of the first tool with
``{"command": "echo hi"}``; a follow-up carrying a tool result answers ``"<family> got tool
result: <result text>"``. Faults come from the model name (``fault-429``, ``fault-500``,
``fault-401``) or from ``fault_plan`` (a list consumed one per request). Every request is
recorded (method, path, headers, JSON body) for assertions.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeUpstream:
    requests: list[Recorded] = field(default_factory=list)
    fault_plan: list[str] = field(default_factory=list)
    api_key: str | None = None  # when set, requests must carry it
    chunk_delay: float = 0.0
    first_delay: float = 0.0  # before the first stream chunk
    disconnects: int = 0  # streams whose client went away before the end
    completed_streams: int = 0
    cut_after: int | None = None  # end the stream abruptly after this many chunks
    faults_by_key: dict[str, str] = field(default_factory=dict)  # api key → fault, every time

    # -- ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        raw = b""
        while True:
            msg = await receive()
            raw += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = scope["path"]
        if path.startswith(("http://", "https://")):  # absolute-form target: we are a proxy
            path = "/" + path.split("://", 1)[1].split("/", 1)[-1]
        query = scope.get("query_string", b"").decode()
        self.requests.append(Recorded(scope["method"], path, query, headers, body))
        status, payload, stream = await self.route(path, query, headers, body)
        await self._respond(send, receive, status, payload, stream)

    async def _stream(self, send: Send, receive: Receive, chunks: list[bytes]) -> None:
        gone = asyncio.Event()

        async def watch() -> None:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                gone.set()

        watcher = asyncio.ensure_future(watch())
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/event-stream")]})
            if self.first_delay:
                await asyncio.sleep(self.first_delay)
            for i, chunk in enumerate(chunks):
                if self.cut_after is not None and i >= self.cut_after:
                    raise ConnectionAbortedError("fake cut")
                if self.chunk_delay and i:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(gone.wait(), self.chunk_delay)
                if gone.is_set():
                    self.disconnects += 1
                    return
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            self.completed_streams += 1
        finally:
            watcher.cancel()

    async def _respond(self, send: Send, receive: Receive, status: int, payload: Any,
                       stream: list[bytes] | None) -> None:
        if stream is not None:
            await self._stream(send, receive, stream)
            return
        data = json.dumps(payload).encode()
        hdrs = [(b"content-type", b"application/json")]
        if isinstance(payload, dict) and "_retry_after" in payload:
            hdrs.append((b"retry-after", str(payload.pop("_retry_after")).encode()))
            data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": data})

    # -- routing ------------------------------------------------------------------------------

    async def route(self, path: str, query: str, headers: dict[str, str],
                    body: Any) -> tuple[int, Any, list[bytes] | None]:
        family = _family(path)
        if family is None:
            return 404, {"error": {"message": f"no fake for {path}"}}, None
        if not isinstance(body, dict):
            return 400, _error(family, 400, "body must be a JSON object"), None
        model = _model_of(family, path, body)
        fault = self.fault_plan.pop(0) if self.fault_plan else ""
        for name in ("fault-429", "fault-500", "fault-401"):
            if name in model:
                fault = name
        if self.api_key is not None and self.api_key not in _presented(headers, query):
            fault = "fault-401"
        presented = _presented(headers, query)
        for key, key_fault in self.faults_by_key.items():
            if key in presented:
                fault = key_fault
        if fault:
            return _fault(family, fault)
        if path.endswith(("count_tokens", ":countTokens")):
            n = len(json.dumps(body)) // 4
            payload: Any = {"input_tokens": n} if family == "anthropic" else {"totalTokens": n}
            if family == "gemini_cli":
                payload = {"totalTokens": n}
            return 200, payload, None
        reply = _decide(family, body)
        stream = _wants_stream(family, path, body)
        return 200, *_render(family, model, reply, stream)


def _presented(headers: dict[str, str], query: str) -> str:
    return " ".join([headers.get("authorization", ""), headers.get("x-api-key", ""),
                     headers.get("x-goog-api-key", ""), query])


def _family(path: str) -> str | None:
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/responses"):
        return "responses"
    if path.startswith("/v1beta/models/"):
        return "gemini"
    if path.startswith("/v1internal:"):
        return "gemini_cli"
    return None


def _model_of(family: str, path: str, body: dict[str, Any]) -> str:
    if family == "gemini":
        return path.split("/v1beta/models/", 1)[1].split(":", 1)[0]
    return str(body.get("model", ""))


def _wants_stream(family: str, path: str, body: dict[str, Any]) -> bool:
    if family in ("gemini", "gemini_cli"):
        return ":streamGenerateContent" in path
    return body.get("stream") is True


# --- what to answer --------------------------------------------------------------------------


@dataclass
class Reply:
    text: str = ""
    tool: tuple[str, dict[str, Any]] | None = None
    usage: tuple[int, int] = (11, 7)


def _decide(family: str, body: dict[str, Any]) -> Reply:
    tools, last_user, tool_result = _read_request(family, body)
    label = {"anthropic": "anthropic", "chat": "chat", "responses": "responses",
             "gemini": "gemini", "gemini_cli": "gemini"}[family]
    if tool_result is not None:
        return Reply(text=f"{label} got tool result: {tool_result}")
    if tools and "TOOLTEST" in last_user:
        for name, args in _SHELL_TOOLS.items():  # the real agents' shell tools
            if name in tools:
                return Reply(tool=(name, args))
        return Reply(tool=(tools[0], {"command": "echo hi"}))
    return Reply(text=f"{label} says: {last_user}")


_SHELL_TOOLS: dict[str, dict[str, Any]] = {
    "Bash": {"command": "echo hi", "description": "print hi"},  # Claude Code
    "exec_command": {"cmd": "echo hi"},  # Codex CLI
    "run_shell_command": {"command": "echo hi", "description": "print hi"},  # Gemini CLI
}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(_text_of(c) for c in content)
    if isinstance(content, dict):
        for key in ("text", "output", "result", "content"):
            if isinstance(content.get(key), str | list):
                return _text_of(content[key])
        if content.get("type") in ("image", "image_url", "input_image") or "inlineData" in content:
            return "[image]"
    return ""


def _read_request(family: str, body: dict[str, Any]) -> tuple[list[str], str, str | None]:
    if family == "gemini_cli":
        body = body.get("request", {})
        family = "gemini"
    if family == "anthropic":
        tools = [t["name"] for t in body.get("tools", []) if "name" in t]
        msgs = body.get("messages", [])
        last = msgs[-1] if msgs else {}
        content = last.get("content")
        if isinstance(content, list):
            results = [c for c in content if isinstance(c, dict) and c.get("type") == "tool_result"]
            if results:
                return tools, "", _text_of(results[-1].get("content"))
            images = [c for c in content if isinstance(c, dict) and c.get("type") == "image"]
            text = _text_of([c for c in content if isinstance(c, dict) and c.get("type") == "text"])
            return tools, text + (" [image]" if images else ""), None
        return tools, _text_of(content), None
    if family == "chat":
        tools = [t["function"]["name"] for t in body.get("tools", []) if "function" in t]
        msgs = [m for m in body.get("messages", []) if m.get("role") not in ("system", "developer")]
        last = msgs[-1] if msgs else {}
        if last.get("role") == "tool":
            return tools, "", _text_of(last.get("content"))
        content = last.get("content")
        if isinstance(content, list):
            images = [c for c in content if c.get("type") == "image_url"]
            text = _text_of([c for c in content if c.get("type") == "text"])
            return tools, text + (" [image]" if images else ""), None
        return tools, _text_of(content), None
    if family == "responses":
        tools = [t["name"] for t in body.get("tools", []) if t.get("type") == "function"]
        items = body.get("input", [])
        if isinstance(items, str):
            return tools, items, None
        items = [i for i in items if i.get("role") not in ("system", "developer")]
        last = items[-1] if items else {}
        if last.get("type") == "function_call_output":
            return tools, "", _text_of(last.get("output"))
        content = last.get("content")
        if isinstance(content, list):
            images = [c for c in content if c.get("type") == "input_image"]
            text = _text_of([c for c in content if c.get("type") in ("input_text", "output_text")])
            return tools, text + (" [image]" if images else ""), None
        return tools, _text_of(content), None
    tools = [d["name"] for t in body.get("tools", []) for d in t.get("functionDeclarations", [])]
    contents = body.get("contents", [])
    last = contents[-1] if contents else {}
    parts = last.get("parts", [])
    for p in parts:
        if "functionResponse" in p:
            return tools, "", _text_of(p["functionResponse"].get("response"))
    text = " ".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))
    if any("inlineData" in p or "inline_data" in p for p in parts):
        for p in parts:
            data = (p.get("inlineData") or p.get("inline_data") or {}).get("data")
            if data:
                base64.b64decode(data + "=" * (-len(data) % 4), altchars=b"-_")
        text += " [image]"
    return tools, text, None


# --- rendering per family --------------------------------------------------------------------


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def _render(family: str, model: str, r: Reply, stream: bool) -> tuple[Any, list[bytes] | None]:
    fn = {"anthropic": _anthropic, "chat": _chat, "responses": _responses,
          "gemini": _gemini, "gemini_cli": _gemini_cli}[family]
    return fn(model, r, stream)


def _anthropic(model: str, r: Reply, stream: bool) -> tuple[Any, list[bytes] | None]:
    inp, out = r.usage
    if r.tool:
        block: dict[str, Any] = {"type": "tool_use", "id": "toolu_01FakeCall", "name": r.tool[0],
                                 "input": r.tool[1]}
        stop = "tool_use"
    else:
        block = {"type": "text", "text": r.text}
        stop = "end_turn"
    msg = {"id": "msg_01Fake", "type": "message", "role": "assistant", "model": model,
           "content": [block], "stop_reason": stop, "stop_sequence": None,
           "usage": {"input_tokens": inp, "output_tokens": out,
                     "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}
    if not stream:
        return msg, None
    start = dict(msg, content=[], stop_reason=None,
                 usage={"input_tokens": inp, "output_tokens": 1})
    chunks = [_sse({"type": "message_start", "message": start}, "message_start"),
              _sse({"type": "ping"}, "ping")]
    if r.tool:
        chunks.append(_sse({"type": "content_block_start", "index": 0,
                            "content_block": {**block, "input": {}}}, "content_block_start"))
        args = json.dumps(r.tool[1])
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            chunks.append(_sse({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "input_json_delta", "partial_json": piece}},
                               "content_block_delta"))
    else:
        chunks.append(_sse({"type": "content_block_start", "index": 0,
                            "content_block": {"type": "text", "text": ""}}, "content_block_start"))
        for word in _pieces(r.text):
            chunks.append(_sse({"type": "content_block_delta", "index": 0,
                                "delta": {"type": "text_delta", "text": word}},
                               "content_block_delta"))
    chunks += [
        _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
        _sse({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
              "usage": {"output_tokens": out}}, "message_delta"),
        _sse({"type": "message_stop"}, "message_stop"),
    ]
    return None, chunks


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


def _chat(model: str, r: Reply, stream: bool) -> tuple[Any, list[bytes] | None]:
    inp, out = r.usage
    created = int(time.time())
    usage = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
    if r.tool:
        call = {"id": "call_fake1", "type": "function",
                "function": {"name": r.tool[0], "arguments": json.dumps(r.tool[1])}}
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish = "tool_calls"
    else:
        message = {"role": "assistant", "content": r.text}
        finish = "stop"
    if not stream:
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": created,
                "model": model, "choices": [{"index": 0, "message": message,
                                             "finish_reason": finish, "logprobs": None}],
                "usage": usage}, None
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": created,
            "model": model}

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return _sse({**base, "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": finish_reason}]})

    chunks = [chunk({"role": "assistant", "content": ""})]
    if r.tool:
        args = json.dumps(r.tool[1])
        chunks.append(chunk({"tool_calls": [{"index": 0, "id": "call_fake1", "type": "function",
                                             "function": {"name": r.tool[0], "arguments": ""}}]}))
        for piece in (args[: len(args) // 2], args[len(args) // 2 :]):
            chunks.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
    else:
        chunks += [chunk({"content": w}) for w in _pieces(r.text)]
    chunks.append(chunk({}, finish))
    chunks.append(_sse({**base, "choices": [], "usage": usage}))
    chunks.append(b"data: [DONE]\n\n")
    return None, chunks


def _responses(model: str, r: Reply, stream: bool) -> tuple[Any, list[bytes] | None]:
    inp, out = r.usage
    if r.tool:
        item: dict[str, Any] = {"type": "function_call", "id": "fc_fake1", "call_id": "call_fake1",
                                "name": r.tool[0], "arguments": json.dumps(r.tool[1]),
                                "status": "completed"}
    else:
        item = {"type": "message", "id": "msg_fake1", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": r.text, "annotations": []}]}
    resp = {"id": "resp_fake1", "object": "response", "created_at": int(time.time()),
            "status": "completed", "model": model, "output": [item], "error": None,
            "incomplete_details": None, "instructions": None, "metadata": {},
            "parallel_tool_calls": True, "temperature": 1.0, "tool_choice": "auto", "tools": [],
            "top_p": 1.0,
            "usage": {"input_tokens": inp, "output_tokens": out, "total_tokens": inp + out,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}}}
    if not stream:
        return resp, None
    seq = itertools.count()

    def ev(kind: str, **data: Any) -> bytes:
        return _sse({"type": kind, "sequence_number": next(seq), **data}, kind)

    progress = dict(resp, status="in_progress", output=[], usage=None)
    chunks = [ev("response.created", response=progress),
              ev("response.in_progress", response=progress)]
    if r.tool:
        chunks.append(ev("response.output_item.added", output_index=0,
                         item={**item, "arguments": "", "status": "in_progress"}))
        chunks.append(ev("response.function_call_arguments.delta", item_id="fc_fake1",
                         output_index=0, delta=item["arguments"]))
        chunks.append(ev("response.function_call_arguments.done", item_id="fc_fake1",
                         output_index=0, arguments=item["arguments"]))
    else:
        chunks.append(ev("response.output_item.added", output_index=0,
                         item={**item, "content": [], "status": "in_progress"}))
        part = {"type": "output_text", "text": "", "annotations": []}
        chunks.append(ev("response.content_part.added", item_id="msg_fake1", output_index=0,
                         content_index=0, part=part))
        for w in _pieces(r.text):
            chunks.append(ev("response.output_text.delta", item_id="msg_fake1", output_index=0,
                             content_index=0, delta=w, logprobs=[]))
        chunks.append(ev("response.output_text.done", item_id="msg_fake1", output_index=0,
                         content_index=0, text=r.text, logprobs=[]))
        chunks.append(ev("response.content_part.done", item_id="msg_fake1", output_index=0,
                         content_index=0, part={**part, "text": r.text}))
    chunks.append(ev("response.output_item.done", output_index=0, item=item))
    chunks.append(ev("response.completed", response=resp))
    return None, chunks


def _gemini_body(model: str, r: Reply) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    inp, out = r.usage
    if r.tool:
        parts = [{"functionCall": {"name": r.tool[0], "args": r.tool[1]}}]
    else:
        parts = [{"text": r.text}]
    usage = {"promptTokenCount": inp, "candidatesTokenCount": out, "totalTokenCount": inp + out}
    return parts, usage


def _gemini(model: str, r: Reply, stream: bool) -> tuple[Any, list[bytes] | None]:
    parts, usage = _gemini_body(model, r)
    final = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP",
                             "index": 0}],
             "usageMetadata": usage, "modelVersion": model, "responseId": "fake-resp-1"}
    if not stream:
        return final, None
    if r.tool:
        return None, [_sse(final)]
    words = _pieces(r.text)
    chunks = [_sse({"candidates": [{"content": {"role": "model", "parts": [{"text": w}]},
                                    "index": 0}], "modelVersion": model,
                    "responseId": "fake-resp-1"}) for w in words[:-1]]
    last = {"candidates": [{"content": {"role": "model", "parts": [{"text": words[-1]}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model, "responseId": "fake-resp-1"}
    return None, [*chunks, _sse(last)]


def _gemini_cli(model: str, r: Reply, stream: bool) -> tuple[Any, list[bytes] | None]:
    payload, chunks = _gemini(model, r, stream)
    if not stream:
        return {"response": payload, "traceId": "fake-trace"}, None
    wrapped = []
    for c in chunks or []:
        data = json.loads(c.decode().split("data: ", 1)[1])
        wrapped.append(_sse({"response": data, "traceId": "fake-trace"}))
    return None, wrapped


# --- faults ----------------------------------------------------------------------------------


def _error(family: str, status: int, message: str) -> dict[str, Any]:
    if family == "anthropic":
        etype = {400: "invalid_request_error", 401: "authentication_error",
                 429: "rate_limit_error", 500: "api_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    if family in ("gemini", "gemini_cli"):
        gstatus = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED",
                   500: "INTERNAL"}.get(status, "INTERNAL")
        return {"error": {"code": status, "message": message, "status": gstatus}}
    etype = {400: "invalid_request_error", 401: "invalid_request_error",
             429: "rate_limit_error", 500: "server_error"}.get(status, "server_error")
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def _fault(family: str, fault: str) -> tuple[int, Any, None]:
    status = int(fault.removeprefix("fault-"))
    body = _error(family, status, f"fake {status}")
    if status == 429:
        body["_retry_after"] = 2
    return status, body, None
