"""``ScriptedUI``: a LoginUI for flow tests, with a scripted "browser" and scripted stdin."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx

from cliproxy_cli.endpoints import EndpointTable, resolve_endpoints
from tests.fakes.oauth_servers import FakeAuthServer, callback_from_authorize

Browser = Callable[[str], Coroutine[Any, Any, None]]


class ScriptedUI:
    def __init__(self, *, browser: Browser | None = None, pastes: list[str] | None = None,
                 answer: str | None = None, browser_opens: bool = False) -> None:
        self.browser = browser
        self.pastes = list(pastes or [])
        self.answer = answer
        self.browser_opens = browser_opens
        self.opened: list[str] = []
        self.urls: list[str] = []
        self.device_codes: list[tuple[str, str]] = []
        self.statuses: list[str] = []
        self.infos: list[str] = []
        self.questions: list[str] = []
        self.paste_offered: list[bool] = []
        self._tasks: list[asyncio.Task[None]] = []

    def open_browser(self, url: str) -> bool:
        self.opened.append(url)
        return self.browser_opens

    def _visit(self, url: str) -> None:
        if self.browser is not None:
            self._tasks.append(asyncio.get_running_loop().create_task(self.browser(url)))

    def show_url(self, url: str, *, opened: bool, paste: bool) -> None:
        self.urls.append(url)
        self.paste_offered.append(paste)
        self._visit(url)

    def show_device_code(self, url: str, user_code: str, *, opened: bool) -> None:
        self.device_codes.append((url, user_code))
        self._visit(url)

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        self.statuses.append(message)
        yield

    def info(self, message: str) -> None:
        self.infos.append(message)

    async def read_line(self) -> str | None:
        await asyncio.sleep(0)
        return self.pastes.pop(0) if self.pastes else None

    def ask(self, question: str) -> str | None:
        self.questions.append(question)
        return self.answer

    async def settle(self) -> None:
        """Wait for the browser tasks and re-raise what failed in them."""
        for task in self._tasks:
            await task


def loopback_browser(fake: FakeAuthServer, *, tamper: Callable[[str], str] | None = None,
                     seen: list[httpx.Response] | None = None) -> Browser:
    """A browser that consents on ``fake`` and follows the redirect to the loopback listener."""

    async def browse(url: str) -> None:
        location = callback_from_authorize(fake, url)
        if tamper is not None:
            location = tamper(location)
        async with httpx.AsyncClient() as client:
            response = await client.get(location)
        if seen is not None:
            seen.append(response)

    return browse


def pasting_browser(fake: FakeAuthServer, ui_pastes: list[str],
                    transform: Callable[[str], str] = lambda loc: loc) -> Browser:
    """A browser on another machine: the person copies the final address and pastes it."""

    async def browse(url: str) -> None:
        ui_pastes.append(transform(callback_from_authorize(fake, url)))

    return browse


def endpoints_for(*fakes: FakeAuthServer, only: set[str] | None = None) -> EndpointTable:
    """An endpoint table overriding the fakes' endpoints (``only`` some of them, if given)."""
    configured = {name: url for fake in fakes for name, url in fake.endpoints().items()
                  if only is None or name in only}
    return resolve_endpoints(configured, environ={})


def mock_client(fake: FakeAuthServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(fake))
