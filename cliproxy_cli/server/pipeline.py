"""One request from the inbound API to an upstream and back.

``serve_request`` → ``_route`` (candidates, cooldowns, retries) → ``_attempt`` (one route: body in
the upstream's format, auth, one refresh-and-replay on 401) → ``_reply`` (pass-through or
translated, stream or not). Same format in and out skips the IR entirely.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import TokenBundle
from cliproxy_cli.errors import (
    ClientRequestError,
    CliproxyError,
    ErrorKind,
    NoAccountAvailableError,
    TokenRevokedError,
    UnknownModelError,
    UpstreamError,
)
from cliproxy_cli.formats import gemini, ir, sse
from cliproxy_cli.formats.aggregate import Aggregator
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.formats.registry import FORMATS
from cliproxy_cli.providers import PROVIDERS
from cliproxy_cli.providers.base import Action, UpstreamCall, UpstreamRequest
from cliproxy_cli.providers.http import UpstreamResponse
from cliproxy_cli.routing.cooldown import WHOLE_ACCOUNT, next_cooldown
from cliproxy_cli.routing.registry import Route
from cliproxy_cli.routing.selector import plan_routes
from cliproxy_cli.server.errors import stream_error_bytes
from cliproxy_cli.server.runtime import Runtime

logger = logging.getLogger(__name__)

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


@dataclass(slots=True)
class Inbound:
    """The client's request, already checked to be a JSON object with a model."""

    format: Format
    body: dict[str, Any]
    model: str
    stream: bool
    headers: Mapping[str, str]
    action: Action = "generate"
    _ir: ir.Request | None = field(default=None, repr=False)

    def ir_request(self) -> ir.Request:
        if self._ir is None:
            try:
                parsed = FORMATS[self.format].parse_request(self.body)
            except ir.FormatError as exc:
                raise ClientRequestError(f"invalid request body: {exc}") from exc
            if parsed.model != self.model or parsed.stream != self.stream:
                # dataclasses.replace costs ~15 µs: only when something differs
                parsed = dataclasses.replace(parsed, model=self.model, stream=self.stream)
            self._ir = parsed
        return self._ir


async def serve_request(rt: Runtime, inbound: Inbound) -> Response:
    routes = rt.registry.resolve(inbound.model)
    if not routes:
        raise unknown_model(rt, inbound.model)
    return await _route(rt, inbound, routes)


def unknown_model(rt: Runtime, model: str) -> UnknownModelError:
    if not rt.registry.credentials:
        return UnknownModelError(
            f"model {model!r} is not served: this proxy has no accounts or API keys yet",
            hint="run `cliproxy login <provider>` (gemini, claude, codex, qwen, iflow) or add "
                 "API keys to the config",
        )
    return UnknownModelError(
        f"model {model!r} is not served by this proxy",
        hint="GET /v1/models (or `cliproxy models list`) lists the available models",
    )


async def _route(rt: Runtime, inbound: Inbound, routes: tuple[Route, ...]) -> Response:
    config = rt.config
    tried: set[str] = set()
    retries = config.request_retry
    bootstrap = config.streaming.bootstrap_retries if inbound.stream else 0
    waits = 0
    last: UpstreamError | None = None
    while True:
        now = rt.clock()
        plan = plan_routes(routes, inbound.model, strategy=config.routing_strategy,
                           state=rt.state, now=now)
        candidates = [r for r in plan.routes if r.credential.id not in tried]
        if not candidates and last is None:
            # Everything rests before we tried anything: a transient or auth rest is probed
            # (the upstream may be back); only quota rests make the client wait or get a 429.
            candidates = [r for r, cd in plan.cooling
                          if cd.reason != ErrorKind.QUOTA and r.credential.id not in tried][:1]
        if not candidates:
            if last is not None and last.kind is not ErrorKind.QUOTA:
                raise last
            recovery = min((cd.until for _, cd in plan.cooling
                            if cd.reason == ErrorKind.QUOTA), default=None)
            if recovery is None:
                if last is not None:
                    raise last
                raise NoAccountAvailableError(f"no usable account serves {inbound.model!r}")
            delay = max(0.0, recovery - now)
            if delay <= config.max_retry_interval and waits <= config.request_retry:
                waits += 1
                await rt.sleep(delay)
                tried.clear()
                continue
            raise NoAccountAvailableError(
                f"all accounts serving {inbound.model!r} are cooling down", retry_after=delay
            )
        route = candidates[0]
        tried.add(route.credential.id)
        try:
            response = await _attempt(rt, inbound, route)
        except UpstreamError as exc:
            last = exc
            if exc.bootstrap and bootstrap > 0 and exc.kind is ErrorKind.TRANSIENT:
                bootstrap -= 1  # streaming.bootstrap-retries: extra tries, same account allowed
                tried.discard(route.credential.id)
                continue
            _record_failure(rt, route, inbound.model, exc)
            if exc.kind is ErrorKind.BAD_REQUEST:
                raise
            if exc.kind is ErrorKind.TRANSIENT:
                retries -= 1
                if retries < 0:
                    raise
            continue
        _record_success(rt, route, inbound.model)
        return response


def _record_failure(rt: Runtime, route: Route, model: str, exc: UpstreamError) -> None:
    cred = route.credential
    per_model = exc.kind is ErrorKind.QUOTA and exc.scope != "account"
    scope = model if per_model else WHOLE_ACCOUNT
    previous = rt.state.cooldown(cred.id, scope)
    cd = next_cooldown(exc.kind, now=rt.clock(), retry_after=exc.retry_after, previous=previous,
                       message=exc.message)
    logger.warning("upstream failed credential=%s model=%s kind=%s status=%s cooldown=%s",
                   cred.id, model, exc.kind, exc.status,
                   f"{cd.until - rt.clock():.0f}s" if cd else "none")
    if cd is not None:
        rt.state.set_cooldown(cred.id, scope, cd)


def _record_success(rt: Runtime, route: Route, model: str) -> None:
    if route.credential.kind == "oauth":
        rt.mark_used(route.credential.id)
    if rt.state.cooldown(route.credential.id, model) is not None:
        rt.state.clear_cooldowns(route.credential.id, model)


async def _attempt(rt: Runtime, inbound: Inbound, route: Route) -> Response:
    cred = route.credential
    provider = PROVIDERS[cred.provider]
    upstream_format = provider.wire_format(cred)
    secret = await _secret(rt, cred)
    body = _upstream_body(inbound, route, upstream_format)
    call = UpstreamCall(cred, body, route.upstream_model, inbound.stream, inbound.headers,
                        secret, inbound.action)
    request = provider.build(call, rt.endpoints)
    resp = await _send(rt, cred, request)
    if resp.status >= 400:
        data = await resp.read()
        error = provider.classify(resp.status, resp.headers, data)
        if error.kind is ErrorKind.AUTH and cred.kind == "oauth" and secret is not None:
            secret = await _refresh(rt, cred, secret)
            call = dataclasses.replace(call, body=_upstream_body(inbound, route, upstream_format),
                                       secret=secret)
            request = provider.build(call, rt.endpoints)
            resp = await _send(rt, cred, request)
            if resp.status >= 400:
                data = await resp.read()
                raise provider.classify(resp.status, resp.headers, data)
        else:
            raise error
    return await _reply(inbound, upstream_format, request, resp,
                        rt.config.streaming.keepalive_seconds, provider.classify)


async def _send(rt: Runtime, cred: Credential, request: UpstreamRequest) -> UpstreamResponse:
    return await rt.client.send(request.method, request.url, request.headers, request.body,
                                proxy_url=cred.proxy_url, provider=cred.provider)


async def _secret(rt: Runtime, cred: Credential) -> TokenBundle | None:
    if cred.kind != "oauth" or cred.account is None:
        return None
    try:
        _, bundle = await rt.tokens.credentials(cred.account)
    except TokenRevokedError as exc:
        raise UpstreamError(str(exc), kind=ErrorKind.AUTH, status=401, provider=cred.provider,
                            hint=exc.hint) from exc
    except CliproxyError as exc:
        raise UpstreamError(str(exc), kind=ErrorKind.AUTH, status=401,
                            provider=cred.provider) from exc
    return bundle


async def _refresh(rt: Runtime, cred: Credential, secret: TokenBundle) -> TokenBundle:
    assert cred.account is not None
    try:
        _, bundle = await rt.tokens.refresh(cred.account, failed_token=secret.access_token)
    except CliproxyError as exc:
        raise UpstreamError(str(exc), kind=ErrorKind.AUTH, status=401, provider=cred.provider,
                            hint=exc.hint) from exc
    return bundle


def _upstream_body(inbound: Inbound, route: Route, upstream_format: Format) -> dict[str, Any]:
    if upstream_format is inbound.format:
        return dict(inbound.body)
    request = inbound.ir_request()
    if request.model != route.upstream_model:
        request = dataclasses.replace(request, model=route.upstream_model)
    return FORMATS[upstream_format].render_request(request)


# --- replies ------------------------------------------------------------------------------------


async def _reply(
    inbound: Inbound, upstream: Format, request: UpstreamRequest, resp: UpstreamResponse,
    keepalive: float = 0.0,
    classify: Callable[[int, Mapping[str, str], bytes], UpstreamError] | None = None,
) -> Response:
    same = upstream is inbound.format
    if inbound.stream and request.stream:
        chunks = resp.iter_bytes()
        first = await _first_chunk(chunks, resp)
        if same and not request.envelope:
            body: AsyncIterator[bytes] = _relay(inbound.format, first, chunks, resp)
        else:
            body = _translate_stream(inbound, upstream, request.envelope, first, chunks, resp)
        if keepalive > 0:
            body = _with_keepalive(body, keepalive, inbound.format)
        return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)
    if request.stream:
        result = await _collect(upstream, request.envelope, resp)
        return _json(_render_response(inbound, result))
    data = await resp.read()
    if classify is not None and _is_error_body(data):
        # some OpenAI-compatible upstreams answer 200 with an error object; never relay it as
        # a success (or hold the account healthy)
        raise classify(_error_status(data), resp.headers, data)
    if request.envelope:
        data = _unwrap(data)
    if same:
        return Response(data, media_type="application/json")
    try:
        parsed = FORMATS[upstream].parse_response(orjson.loads(data))
    except (orjson.JSONDecodeError, ir.FormatError) as exc:
        raise UpstreamError(f"{upstream} answered a body cliproxy cannot read: {exc}",
                            kind=ErrorKind.TRANSIENT, status=502, provider=str(upstream)) from exc
    return _json(_render_response(inbound, parsed))


def _is_error_body(data: bytes) -> bool:
    head = data[:24].lstrip()
    return head.startswith((b'{"error"', b'{ "error"')) and b'"choices"' not in data[:4096]


def _error_status(data: bytes) -> int:
    try:
        error = orjson.loads(data).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return 502
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and 400 <= code < 600:
        return code
    if isinstance(code, str) and code.isdigit() and 400 <= int(code) < 600:
        return int(code)
    return 502


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _render_response(inbound: Inbound, response: ir.Response) -> dict[str, Any]:
    return FORMATS[inbound.format].render_response(response, inbound.ir_request())


def _unwrap(data: bytes) -> bytes:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    if isinstance(obj, dict) and isinstance(obj.get("response"), dict):
        return orjson.dumps(obj["response"])
    return data


async def _first_chunk(chunks: AsyncIterator[bytes], resp: UpstreamResponse) -> bytes:
    """Read until the first non-empty chunk, so failures before any byte can be retried;
    a stream whose first event is an error is such a failure too (bootstrap retry)."""
    try:
        async for chunk in chunks:
            if chunk:
                error = _leading_error(chunk)
                if error is not None:
                    await resp.close()
                    raise error
                return chunk
    except BaseException:
        await resp.close()
        raise
    await resp.close()
    raise UpstreamError("upstream closed the stream before sending anything",
                        kind=ErrorKind.TRANSIENT, status=502, provider="upstream")


_ERROR_PREFIXES = (b"event: error", b'data: {"error"', b'data: {"type":"error"',
                   b'data: {"type": "error"', b"event: response.failed")


def _leading_error(chunk: bytes) -> UpstreamError | None:
    head = chunk.lstrip()[:64]
    if not head.startswith(_ERROR_PREFIXES):
        return None
    text = chunk.decode("utf-8", "replace")
    quota = any(m in text for m in ("rate_limit", "RESOURCE_EXHAUSTED", "usage_limit", "quota"))
    return UpstreamError(
        "upstream stream began with an error" + (" (rate limited)" if quota else ""),
        kind=ErrorKind.QUOTA if quota else ErrorKind.TRANSIENT,
        status=429 if quota else 503, provider="upstream", bootstrap=True,
    )


_KEEPALIVE = {Format.ANTHROPIC: b'event: ping\ndata: {"type": "ping"}\n\n'}


async def _with_keepalive(
    body: AsyncIterator[bytes], seconds: float, fmt: Format
) -> AsyncIterator[bytes]:
    """Interleave a keep-alive in the caller's idiom whenever the upstream is quiet for
    ``seconds`` (an Anthropic ``ping`` event; an SSE comment for the others)."""
    ping = _KEEPALIVE.get(fmt, sse.KEEPALIVE_COMMENT)
    pending: asyncio.Task[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(body.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=seconds)
            if not done:
                yield ping
                continue
            try:
                chunk = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield chunk
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
        await body.aclose()  # type: ignore[attr-defined]


async def _relay(
    fmt: Format, first: bytes, chunks: AsyncIterator[bytes], resp: UpstreamResponse
) -> AsyncIterator[bytes]:
    """Same format: upstream bytes go out as they arrive, untouched."""
    try:
        yield first
        async for chunk in chunks:
            yield chunk
    except UpstreamError as exc:
        yield stream_error_bytes(fmt, exc.status, exc.message)
    finally:
        await resp.close()


async def _translate_stream(
    inbound: Inbound, upstream: Format, envelope: bool, first: bytes,
    chunks: AsyncIterator[bytes], resp: UpstreamResponse,
) -> AsyncIterator[bytes]:
    """Upstream SSE → IR events → the caller's SSE, event by event (bounded state)."""
    decoder = sse.SSEDecoder()
    parser = _stream_parser(upstream, envelope)
    renderer = FORMATS[inbound.format].render_stream(inbound.ir_request())
    try:
        pending: bytes | None = first
        while True:
            if pending is not None:
                chunk, pending = pending, None
            else:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
            out = _feed(decoder.feed(chunk), parser, renderer)
            if out:
                yield out
        out = _feed(decoder.close(), parser, renderer)
        for event in parser.close():
            out += renderer.feed(event)
        yield out + renderer.close()
    except UpstreamError as exc:
        error = ir.StreamError(ir.ErrorInfo(exc.status, exc.message, "server_error"))
        yield renderer.feed(error) + renderer.close()
    finally:
        await resp.close()


def _stream_parser(upstream: Format, envelope: bool) -> Any:
    if envelope:
        return gemini.parse_stream(envelope=True)
    return FORMATS[upstream].parse_stream()


def _feed(events: list[sse.SSEEvent], parser: Any, renderer: Any) -> bytes:
    if not events:
        return b""
    out = b""
    for event in events:
        for ir_event in parser.feed(event):
            out += renderer.feed(ir_event)
    return out


async def _collect(upstream: Format, envelope: bool, resp: UpstreamResponse) -> ir.Response:
    """A stream-only upstream serving a non-stream client: read the whole stream into one reply."""
    decoder = sse.SSEDecoder()
    parser = _stream_parser(upstream, envelope)
    agg = Aggregator()
    try:
        async for chunk in resp.iter_bytes():
            for event in decoder.feed(chunk):
                for ir_event in parser.feed(event):
                    agg.feed(ir_event)
    finally:
        await resp.close()
    for event in decoder.close():
        for ir_event in parser.feed(event):
            agg.feed(ir_event)
    for ir_event in parser.close():
        agg.feed(ir_event)
    if agg.error is not None:
        kind = ErrorKind.QUOTA if agg.error.status == 429 else ErrorKind.TRANSIENT
        raise UpstreamError(agg.error.message, kind=kind, status=agg.error.status or 502,
                            provider=str(upstream))
    try:
        return agg.result()
    except ir.FormatError as exc:
        raise UpstreamError(str(exc), kind=ErrorKind.TRANSIENT, status=502,
                            provider=str(upstream)) from exc

