"""The upstream HTTP client seam.

Production uses aiohttp directly (the fastest client measured here; see benchmarks/README.md);
tests and embedders inject an ``httpx.AsyncBaseTransport`` (e.g. ``httpx.MockTransport``) and get
the same interface over httpx. Nothing else in cliproxy sends model traffic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx

from cliproxy_cli.errors import ErrorKind, UpstreamError


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 30.0
    read: float = 600.0  # between two chunks of a response


class UpstreamResponse(Protocol):
    status: int
    headers: Mapping[str, str]  # case-insensitive

    async def read(self) -> bytes: ...

    def iter_bytes(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class UpstreamClient(Protocol):
    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, *,
        proxy_url: str = "", provider: str = "",
    ) -> UpstreamResponse: ...

    async def aclose(self) -> None: ...


def _connect_error(provider: str, url: str, exc: BaseException) -> UpstreamError:
    host = url.split("://", 1)[-1].split("/", 1)[0]
    return UpstreamError(
        f"cannot reach {provider or 'upstream'} at {host}: {type(exc).__name__}",
        kind=ErrorKind.TRANSIENT, status=502, provider=provider,
    )


def _timeout_error(provider: str) -> UpstreamError:
    return UpstreamError(f"{provider or 'upstream'} timed out", kind=ErrorKind.TRANSIENT,
                         status=504, provider=provider)


# --- aiohttp -------------------------------------------------------------------------------------


class _AiohttpResponse:
    __slots__ = ("_provider", "_resp", "headers", "status")

    def __init__(self, resp: aiohttp.ClientResponse, provider: str) -> None:
        self._resp = resp
        self._provider = provider
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except TimeoutError as exc:
            raise _timeout_error(self._provider) from exc
        except aiohttp.ClientError as exc:
            raise _connect_error(self._provider, str(self._resp.url), exc) from exc
        finally:
            self._resp.release()

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except TimeoutError as exc:
            raise _timeout_error(self._provider) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                f"{self._provider or 'upstream'} stream broke: {type(exc).__name__}",
                kind=ErrorKind.TRANSIENT, status=502, provider=self._provider,
            ) from exc

    async def close(self) -> None:
        self._resp.close()


class AiohttpClient:
    """One pooled aiohttp session for all upstreams; HTTP(S) proxies per request."""

    def __init__(self, timeouts: Timeouts = Timeouts()) -> None:
        self._timeouts = timeouts
        self._session: aiohttp.ClientSession | None = None
        self._socks: dict[str, aiohttp.ClientSession] = {}  # one pool per SOCKS proxy

    def _new_session(self, connector: aiohttp.BaseConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._timeouts.connect, sock_read=self._timeouts.read,
            ),
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
            trust_env=False,
        )

    def _get_session(self, proxy_url: str = "") -> aiohttp.ClientSession:
        if proxy_url.startswith("socks"):
            session = self._socks.get(proxy_url)
            if session is None or session.closed:
                from aiohttp_socks import ProxyConnector

                # socks5h: the proxy resolves names; aiohttp-socks spells it socks5 + rdns
                url = proxy_url.replace("socks5h://", "socks5://", 1)
                connector = ProxyConnector.from_url(url, rdns=proxy_url.startswith("socks5h"),
                                                    limit=0)
                session = self._socks[proxy_url] = self._new_session(connector)
            return session
        if self._session is None or self._session.closed:
            self._session = self._new_session(
                aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, enable_cleanup_closed=True))
        return self._session

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, *,
        proxy_url: str = "", provider: str = "",
    ) -> UpstreamResponse:
        session = self._get_session(proxy_url)
        http_proxy = proxy_url if proxy_url and not proxy_url.startswith("socks") else None
        try:
            resp = await session.request(
                method, url, headers=dict(headers), data=body, proxy=http_proxy,
                allow_redirects=False,
            )
        except TimeoutError as exc:
            raise _timeout_error(provider) from exc
        except aiohttp.ClientError as exc:
            raise _connect_error(provider, url, exc) from exc
        return _AiohttpResponse(resp, provider)

    async def aclose(self) -> None:
        for session in (self._session, *self._socks.values()):
            if session is not None:
                await session.close()


# --- httpx (tests, embedders) --------------------------------------------------------------------


class _HttpxResponse:
    __slots__ = ("_provider", "_resp", "headers", "status")

    def __init__(self, resp: httpx.Response, provider: str) -> None:
        self._resp = resp
        self._provider = provider
        self.status = resp.status_code
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        try:
            return await self._resp.aread()
        except httpx.TimeoutException as exc:
            raise _timeout_error(self._provider) from exc
        except httpx.TransportError as exc:
            raise _connect_error(self._provider, str(self._resp.url), exc) from exc
        finally:
            await self._resp.aclose()

    async def iter_bytes(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.aiter_bytes():
                yield chunk
        except httpx.TimeoutException as exc:
            raise _timeout_error(self._provider) from exc
        except httpx.TransportError as exc:
            raise UpstreamError(
                f"{self._provider or 'upstream'} stream broke: {type(exc).__name__}",
                kind=ErrorKind.TRANSIENT, status=502, provider=self._provider,
            ) from exc

    async def close(self) -> None:
        await self._resp.aclose()


class HttpxClient:
    """The same interface over httpx, with any transport (``httpx.MockTransport`` in tests)."""

    def __init__(
        self, transport: httpx.AsyncBaseTransport | None = None, timeouts: Timeouts = Timeouts()
    ) -> None:
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=60.0,
                                  pool=None),
            trust_env=False,
        )

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, *,
        proxy_url: str = "", provider: str = "",
    ) -> UpstreamResponse:
        request = self._client.build_request(method, url, headers=headers, content=body)
        try:
            resp = await self._client.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise _timeout_error(provider) from exc
        except httpx.TransportError as exc:
            raise _connect_error(provider, url, exc) from exc
        return _HttpxResponse(resp, provider)

    async def aclose(self) -> None:
        await self._client.aclose()
