"""The loopback callback server: where the browser lands after the vendor's consent page.

A tiny HTTP/1.1 listener on 127.0.0.1 (and ::1 when available, since the redirect URI names
``localhost``), built on anyio streams: no web framework for one GET. It answers the callback
path with a success or failure page, checks ``state`` against CSRF and hands the outcome to the
waiting login flow. Every other path is a 404; later callbacks get a "login already finished" page.
"""

from __future__ import annotations

import contextlib
import errno
import html
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from cliproxy_cli.errors import LoginError, OAuthError
from cliproxy_cli.redact import mask

logger = logging.getLogger(__name__)

MAX_REQUEST_HEAD: Final = 16 * 1024
READ_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class AuthorizationResponse:
    """What the vendor sent back: the authorization code and the state it echoed."""

    code: str
    state: str

    def __repr__(self) -> str:
        return f"AuthorizationResponse(code={mask(self.code)!r}, state={self.state!r})"


def vendor_error(vendor: str, error: str, description: str = "") -> OAuthError:
    """The error for a callback carrying ``error=`` (the user said no, or the vendor refused)."""
    detail = f"{error}: {description}" if description else error
    if error == "access_denied":
        return OAuthError(
            f"{vendor} authorization was denied ({detail})",
            hint="run the login again and approve the access on the consent page",
        )
    return OAuthError(
        f"{vendor} refused the authorization ({detail})",
        hint="run the login again; if it keeps failing, the vendor's message says why",
    )


def check_callback(
    params: Mapping[str, str], *, vendor: str, expected_state: str, require_state: bool = True
) -> AuthorizationResponse:
    """Validate callback parameters (from the loopback server or a pasted redirect URL)."""
    if params.get("error"):
        raise vendor_error(vendor, params["error"], params.get("error_description", ""))
    state = params.get("state", "")
    if (state or require_state) and state != expected_state:
        raise OAuthError(
            "the callback's state does not match this login (a forged request, or a callback "
            "from an older login attempt)",
            hint="start the login again and use the newest URL it prints",
        )
    code = params.get("code", "")
    if not code:
        raise OAuthError(f"the {vendor} callback carried no authorization code",
                         hint="start the login again")
    return AuthorizationResponse(code, state or expected_state)


_PAGE: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cliproxy: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;
color:#222}}h1{{font-size:1.4rem}}.ok{{color:#1a7f37}}.fail{{color:#b42318}}</style></head>
<body><h1 class="{css}">{title}</h1><p>{body}</p></body></html>
"""


def _page(title: str, body: str, *, ok: bool) -> str:
    return _PAGE.format(title=html.escape(title), body=html.escape(body),
                        css="ok" if ok else "fail")


class CallbackServer:
    """Receives one authorization callback; ``wait()`` returns it or raises its error."""

    def __init__(self, *, vendor: str, path: str, expected_state: str) -> None:
        self.vendor = vendor
        self.path = path
        self.expected_state = expected_state
        self.port = 0
        self._outcome: AuthorizationResponse | LoginError | None = None
        self._done = anyio.Event()

    async def wait(self) -> AuthorizationResponse:
        await self._done.wait()
        outcome = self._outcome
        if isinstance(outcome, AuthorizationResponse):
            return outcome
        raise outcome or LoginError(f"the {self.vendor} callback ended without an answer")

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    # -- HTTP -----------------------------------------------------------------------------------

    async def handle(self, stream: anyio.abc.ByteStream) -> None:
        async with stream:
            reader = BufferedByteReceiveStream(stream)
            head = b""
            with anyio.move_on_after(READ_TIMEOUT):
                try:
                    head = await reader.receive_until(b"\r\n\r\n", MAX_REQUEST_HEAD)
                except (anyio.IncompleteRead, anyio.DelimiterNotFound, anyio.EndOfStream,
                        anyio.BrokenResourceError, OSError):
                    return
            if not head:
                return
            status, page = self.respond(head.split(b"\r\n", 1)[0].decode("latin-1"))
            reason = {200: "OK", 400: "Bad Request", 404: "Not Found",
                      405: "Method Not Allowed"}[status]
            body = page.encode()
            response = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\n"
                "Referrer-Policy: no-referrer\r\nConnection: close\r\n\r\n"
            ).encode() + body
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError,
                                     OSError):
                await stream.send(response)

    def respond(self, request_line: str) -> tuple[int, str]:
        """The status and page for one request line; records the outcome of a callback."""
        parts = request_line.split(" ")
        if len(parts) != 3 or parts[0] not in {"GET", "HEAD"}:
            return 405, _page("Not allowed", "This address only accepts the login callback.",
                              ok=False)
        target = urlsplit(parts[1])
        if target.path != self.path:
            return 404, _page("Not found", "This is cliproxy's login callback listener.", ok=False)
        if self.finished:
            return 200, _page("Login already finished",
                              "This login has already finished; return to the terminal.",
                              ok=isinstance(self._outcome, AuthorizationResponse))
        params = dict(parse_qsl(target.query, keep_blank_values=True))
        try:
            outcome = check_callback(params, vendor=self.vendor,
                                     expected_state=self.expected_state)
        except LoginError as exc:
            logger.info("callback rejected vendor=%s reason=%s", self.vendor, exc.message)
            self.finish(exc)
            return 400, _page("Login failed", f"{exc.message}. Return to the terminal for details.",
                              ok=False)
        logger.debug("callback received vendor=%s", self.vendor)
        self.finish(outcome)
        return 200, _page(f"{self.vendor} login received",
                          "cliproxy got the authorization. You can close this tab and return to "
                          "the terminal.", ok=True)

    def finish(self, outcome: AuthorizationResponse | LoginError) -> None:
        if not self.finished:
            self._outcome = outcome
            self._done.set()


def port_in_use_error(host: str, port: int, exc: OSError) -> LoginError:
    what = "is already in use" if exc.errno == errno.EADDRINUSE else "cannot be opened"
    return LoginError(
        f"the login callback port {host}:{port} {what} ({exc.strerror or exc})",
        hint="stop the program holding it (often an earlier login), or pass `--callback-port N` "
             "to listen on another port (`--callback-port 0` picks a free one)",
    )


async def _listen(host: str, port: int) -> anyio.abc.Listener[anyio.abc.SocketStream]:
    return await anyio.create_tcp_listener(local_host=host, local_port=port)


@contextlib.asynccontextmanager
async def open_callback_server(
    *, vendor: str, path: str, expected_state: str, port: int, host: str = "127.0.0.1"
) -> AsyncIterator[CallbackServer]:
    """Listen on ``host:port`` (0 = a free port; ``server.port`` tells which) until the block ends.

    A port that is taken raises ``LoginError`` naming ``--callback-port`` as the fix.
    """
    server = CallbackServer(vendor=vendor, path=path, expected_state=expected_state)
    try:
        primary = await _listen(host, port)
    except OSError as exc:
        raise port_in_use_error(host, port, exc) from exc
    listeners = [primary]
    server.port = int(primary.extra(anyio.abc.SocketAttribute.local_port))  # noqa: S610
    if host == "127.0.0.1":
        # Browsers may resolve `localhost` to ::1 first; serve it too when the host has IPv6.
        try:
            listeners.append(await _listen("::1", server.port))
        except OSError as exc:
            logger.debug("callback listener ::1 skipped errno=%s", exc.errno)
    logger.debug("callback listening host=%s port=%s path=%s", host, server.port, path)
    # The body's own exception is re-raised outside the task group, so callers see it as is
    # (anyio would wrap it in an ExceptionGroup).
    raised: BaseException | None = None
    try:
        async with anyio.create_task_group() as tg:
            for listener in listeners:
                tg.start_soon(listener.serve, server.handle)
            try:
                yield server
            except BaseException as exc:
                raised = exc
            tg.cancel_scope.cancel()
        if raised is not None:
            raise raised
    finally:
        for listener in listeners:
            with contextlib.suppress(OSError):
                await listener.aclose()
