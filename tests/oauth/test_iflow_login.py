from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from cliproxy_cli.errors import OAuthError
from cliproxy_cli.oauth import iflow
from cliproxy_cli.oauth.flow import LoginOptions
from tests.fakes.login_ui import ScriptedUI, endpoints_for, loopback_browser, mock_client
from tests.fakes.oauth_servers import FakeIflow

pytestmark = pytest.mark.anyio

OPTIONS = LoginOptions(open_browser=False, callback_port=0, timeout=10)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_login_fetches_the_api_key_and_names_the_account_by_phone() -> None:
    fake = FakeIflow(phone="13800000000", api_key="sk-iflow-key-123456")
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        result = await iflow.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client,
                                   clock=lambda: 0.0)
    await ui.settle()
    account, bundle = result.account, result.bundle
    assert account.id == "iflow-13800000000"
    assert (account.label, account.email) == ("13800000000", "")
    assert bundle.api_key == "sk-iflow-key-123456"
    assert account.expires_at == 172800
    sent = query(ui.urls[0])
    assert (sent["loginMethod"], sent["type"]) == ("phone", "phone")
    assert sent["redirect"].startswith("http://localhost:")
    exchange = fake.calls("/oauth/token")[0]
    assert exchange.headers["authorization"] == iflow.basic_auth()
    assert exchange.form()["redirect_uri"] == sent["redirect"]
    assert fake.calls("/api/oauth/getUserInfo")[0].query["accessToken"] == bundle.access_token


async def test_email_wins_over_phone_when_both_are_known() -> None:
    fake = FakeIflow(email="lin@example.com")
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        result = await iflow.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)
    assert (result.account.id, result.account.email) == ("iflow-lin@example.com",
                                                         "lin@example.com")


async def test_a_refusal_in_an_http_200_body_is_quoted() -> None:
    fake = FakeIflow()
    fake.userinfo_refusal = {"success": False, "code": "410",
                             "message": "iFlow CLI has been discontinued"}
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match="iFlow CLI has been discontinued") as info:
            await iflow.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)
    assert "April 2026" in (info.value.hint or "")


async def test_a_token_answer_without_a_token_is_a_refusal() -> None:
    fake = FakeIflow()
    fake.token_error = (200, {"success": False, "message": "server busy"})
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match="server busy"):
            await iflow.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)


async def test_user_info_without_an_api_key_fails_the_login() -> None:
    fake = FakeIflow(api_key="")
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match="no apiKey"):
            await iflow.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)
