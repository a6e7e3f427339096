"""The floor to compare cliproxy against: a bare Starlette + uvicorn pass-through with aiohttp's
client (no routing, no auth, no translation). ``bench.py`` runs it beside cliproxy so the ratio
"cliproxy / bare" measures only cliproxy's own overhead, whatever the machine's speed."""

from __future__ import annotations

import argparse

import aiohttp
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def make_app(upstream: str) -> Starlette:
    session: dict[str, aiohttp.ClientSession] = {}

    def client() -> aiohttp.ClientSession:
        if "s" not in session:
            session["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return session["s"]

    async def forward(request: Request) -> Response:
        body = await request.body()
        resp = await client().post(upstream + request.url.path, data=body,
                                   headers={"content-type": "application/json"})
        if b'"stream": true' in body or b'"stream":true' in body:
            async def relay():  # type: ignore[no-untyped-def]
                try:
                    async for chunk in resp.content.iter_any():
                        yield chunk
                finally:
                    resp.release()

            return StreamingResponse(relay(), media_type="text/event-stream")
        data = await resp.read()
        return Response(data, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response("ok")

    return Starlette(routes=[Route("/healthz", health),
                             Route("/{path:path}", forward, methods=["POST"])])


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    args = ap.parse_args()
    uvicorn.run(make_app(args.upstream), host="127.0.0.1", port=args.port, log_level="warning",
                access_log=False)
