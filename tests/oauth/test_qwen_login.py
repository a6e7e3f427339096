from __future__ import annotations

import pytest

from cliproxy_cli.errors import LoginError, OAuthError
from cliproxy_cli.oauth import qwen
from cliproxy_cli.oauth.flow import LoginOptions, LoginResult
from tests.fakes.login_ui import ScriptedUI, endpoints_for, mock_client
from tests.fakes.oauth_servers import FakeQwen, s256

pytestmark = pytest.mark.anyio


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def run(fake: FakeQwen, ui: ScriptedUI, options: LoginOptions,
              time: FakeTime) -> LoginResult:
    async with mock_client(fake) as client:
        return await qwen.login(options, ui, endpoints=endpoints_for(fake), client=client,
                                clock=lambda: 100.0, sleep=time.sleep, monotonic=time.clock)


async def test_device_login_polls_through_pending_and_slow_down() -> None:
    fake = FakeQwen(script=["authorization_pending", "slow_down"], require_approval=False)
    ui, time = ScriptedUI(), FakeTime()
    result = await run(fake, ui, LoginOptions(open_browser=False, label="me@example.com"), time)
    account = result.account
    assert account.id == "qwen-me@example.com"
    assert (account.label, account.email) == ("me@example.com", "me@example.com")
    assert account.resource_url == "portal.qwen.ai"
    assert account.expires_at == 100.0 + 21600
    assert result.bundle.access_token in fake.access_tokens
    assert time.sleeps == [5, 5, 10]  # the server's interval, then +5 s after slow_down
    url, code = ui.device_codes[0]
    assert code == "ABCD-1234" and "user_code=ABCD-1234" in url
    device = fake.calls("/api/v1/oauth2/device/code")[0]
    poll = fake.calls("/api/v1/oauth2/token")[0].form()
    assert s256(poll["code_verifier"]) == device.form()["code_challenge"]
    assert device.headers["x-request-id"]


async def test_the_browser_is_opened_at_the_complete_verification_url() -> None:
    fake = FakeQwen(require_approval=False)
    ui = ScriptedUI(browser_opens=True)
    await run(fake, ui, LoginOptions(label="alias"), FakeTime())
    assert ui.opened == [ui.device_codes[0][0]]


async def test_without_a_label_a_terminal_is_asked_for_one() -> None:
    ui = ScriptedUI(answer="  asked-alias ")
    result = await run(FakeQwen(require_approval=False), ui, LoginOptions(open_browser=False),
                       FakeTime())
    assert result.account.id == "qwen-asked-alias"
    assert result.account.email == ""
    assert ui.questions


async def test_without_a_label_and_no_terminal_the_login_says_to_pass_one() -> None:
    fake = FakeQwen()
    with pytest.raises(LoginError, match="needs a name") as info:
        await run(fake, ScriptedUI(answer=None), LoginOptions(open_browser=False), FakeTime())
    assert "--label" in (info.value.hint or "")
    assert fake.requests == []  # nothing was started


async def test_an_expired_device_code_is_reported() -> None:
    fake = FakeQwen(script=["authorization_pending", "expired_token"])
    with pytest.raises(LoginError, match="expired"):
        await run(fake, ScriptedUI(), LoginOptions(open_browser=False, label="x"), FakeTime())


async def test_denied_approval_is_reported() -> None:
    fake = FakeQwen(script=["access_denied"])
    with pytest.raises(OAuthError, match="denied"):
        await run(fake, ScriptedUI(), LoginOptions(open_browser=False, label="x"), FakeTime())


async def test_a_vendor_refusal_is_quoted_exactly() -> None:
    fake = FakeQwen()
    fake.refuse = (403, {"error": "unsupported_client",
                         "error_description": "Qwen OAuth free tier is no longer available"})
    with pytest.raises(OAuthError, match="Qwen OAuth free tier is no longer available") as info:
        await run(fake, ScriptedUI(), LoginOptions(open_browser=False, label="x"), FakeTime())
    assert "free OAuth tier" in (info.value.hint or "")
