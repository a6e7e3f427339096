from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cliproxy_cli.errors import LoginError, OAuthError
from cliproxy_cli.oauth.device import DeviceCode, poll_for_token

pytestmark = pytest.mark.anyio

URL = "http://device.test/token"


class FakeTime:
    """A clock that moves only when the code sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(answers: list[tuple[int, Any]]) -> tuple[httpx.AsyncClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    replies: Iterator[tuple[int, Any]] = iter(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = next(replies)
        if isinstance(body, str):
            return httpx.Response(status, text=body)
        return httpx.Response(status, json=body)

    return httpx.AsyncClient(transport=httpx.MockTransport(handler)), seen


async def poll(client: httpx.AsyncClient, time: FakeTime, **kwargs: Any) -> dict[str, Any]:
    return await poll_for_token(client, URL, {"device_code": "dc"}, vendor="Qwen",
                                sleep=time.sleep, clock=time.clock, **kwargs)


async def test_pending_then_slow_down_then_success_honours_the_interval() -> None:
    client, seen = scripted([
        (400, {"error": "authorization_pending"}),
        (400, {"error": "slow_down"}),
        (400, {"error": "authorization_pending"}),
        (200, {"access_token": "at", "refresh_token": "rt"}),
    ])
    time = FakeTime()
    async with client:
        token = await poll(client, time, interval=3, expires_in=600)
    assert token["access_token"] == "at"
    assert time.sleeps == [3, 3, 8, 8]  # slow_down adds 5 s for this and every later poll
    assert len(seen) == 4
    assert seen[0].content == b"device_code=dc"


async def test_expired_token_stops_with_a_clear_message() -> None:
    client, _ = scripted([(400, {"error": "expired_token"})])
    async with client:
        with pytest.raises(LoginError, match="device code expired"):
            await poll(client, FakeTime())


async def test_access_denied_reads_as_denied() -> None:
    client, _ = scripted([(400, {"error": "access_denied"})])
    async with client:
        with pytest.raises(OAuthError, match="denied"):
            await poll(client, FakeTime())


async def test_the_device_code_lifetime_bounds_the_polling() -> None:
    client, seen = scripted([(400, {"error": "authorization_pending"})] * 10)
    time = FakeTime()
    async with client:
        with pytest.raises(LoginError, match="expired"):
            await poll(client, time, interval=5, expires_in=12)
    assert len(seen) == 2


async def test_an_unknown_error_quotes_the_vendor() -> None:
    client, _ = scripted([(403, {"error": "unauthorized_client",
                                 "error_description": "Qwen OAuth free tier has ended"})])
    async with client:
        with pytest.raises(OAuthError, match=r"HTTP 403.*Qwen OAuth free tier has ended"):
            await poll(client, FakeTime())


async def test_transport_errors_are_retried_a_few_times() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("boom", request=request)
        return httpx.Response(200, json={"access_token": "at"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        assert (await poll(client, FakeTime()))["access_token"] == "at"


async def test_persistent_transport_errors_give_up() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("boom", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(LoginError, match="could not reach Qwen"):
            await poll(client, FakeTime())


def test_device_code_from_json_takes_the_server_interval_and_masks_the_code() -> None:
    code = DeviceCode.from_json({
        "device_code": "device-secret-0123456789", "user_code": "ABCD", "interval": 7,
        "verification_uri": "https://v.test/", "verification_uri_complete": "https://v.test/?c=1",
        "expires_in": 300}, vendor="Qwen")
    assert (code.interval, code.expires_in, code.browser_url) == (7, 300, "https://v.test/?c=1")
    assert "device-secret-0123456789" not in repr(code)


def test_device_code_without_fields_quotes_the_vendor() -> None:
    with pytest.raises(OAuthError, match="free OAuth ended"):
        DeviceCode.from_json({"success": False, "message": "free OAuth ended"}, vendor="Qwen")
