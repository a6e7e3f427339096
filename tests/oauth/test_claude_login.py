from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cliproxy_cli.accounts.model import ProviderName
from cliproxy_cli.errors import OAuthError
from cliproxy_cli.oauth import claude
from cliproxy_cli.oauth.flow import LoginOptions
from tests.fakes.login_ui import (
    ScriptedUI,
    endpoints_for,
    loopback_browser,
    mock_client,
    pasting_browser,
)
from tests.fakes.oauth_servers import FakeClaude, s256

pytestmark = pytest.mark.anyio

OPTIONS = LoginOptions(open_browser=False, callback_port=0, timeout=10)
PASTE = LoginOptions(open_browser=False, callback_port=0, timeout=10, paste_delay=0)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_loopback_login_stores_email_tokens_and_expiry() -> None:
    fake = FakeClaude(email="ada@example.com")
    pages: list[httpx.Response] = []
    ui = ScriptedUI(browser=loopback_browser(fake, seen=pages))
    async with mock_client(fake) as client:
        result = await claude.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client,
                                    clock=lambda: 1000.0)
    await ui.settle()
    account, bundle = result.account, result.bundle
    assert account.id == "claude-ada@example.com"
    assert account.provider is ProviderName.CLAUDE
    assert (account.email, account.label, account.source) == ("ada@example.com",) * 2 + ("login",)
    assert account.expires_at == 1000.0 + 28800
    assert bundle.access_token in fake.access_tokens
    assert bundle.refresh_token in fake.refresh_tokens
    assert pages[0].status_code == 200

    sent = query(ui.urls[0])
    assert sent["code"] == "true"
    assert sent["code_challenge_method"] == "S256"
    exchange = fake.calls("/v1/oauth/token")[0]
    body = exchange.json()
    assert body["grant_type"] == "authorization_code"
    assert s256(body["code_verifier"]) == sent["code_challenge"]
    assert body["state"] == sent["state"]
    assert body["redirect_uri"] == sent["redirect_uri"]
    assert exchange.headers["content-type"] == "application/json"


async def test_redirect_follows_the_listener_when_the_authorize_endpoint_is_overridden() -> None:
    fake = FakeClaude()
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        await claude.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)
    await ui.settle()
    redirect = query(ui.urls[0])["redirect_uri"]
    assert redirect.startswith("http://localhost:") and redirect != "http://localhost:54545/callback"


async def test_vendor_redirect_stays_fixed_and_a_pasted_redirect_completes_the_login() -> None:
    fake = FakeClaude()
    ui = ScriptedUI()
    ui.browser = pasting_browser(fake, ui.pastes)
    endpoints = endpoints_for(fake, only={"claude.token"})  # the real claude.ai authorize URL
    async with mock_client(fake) as client:
        # Pasting was not asked for: a redirect the listener cannot receive enables it.
        result = await claude.login(OPTIONS, ui, endpoints=endpoints, client=client)
    await ui.settle()
    assert any("forward that port" in line for line in ui.infos)
    assert ui.paste_offered == [True]
    assert ui.urls[0].startswith("https://claude.ai/oauth/authorize?")
    assert query(ui.urls[0])["redirect_uri"] == "http://localhost:54545/callback"
    assert fake.calls("/v1/oauth/token")[0].json()["redirect_uri"] == (
        "http://localhost:54545/callback")
    assert result.account.email == "claude-user@example.com"


async def test_pasted_code_hash_state_is_split_before_the_exchange() -> None:
    fake = FakeClaude()
    ui = ScriptedUI()
    ui.browser = pasting_browser(
        fake, ui.pastes, lambda loc: "{code}#{state}".format(**query(loc)))
    async with mock_client(fake) as client:
        await claude.login(PASTE, ui, endpoints=endpoints_for(fake), client=client)
    await ui.settle()
    body = fake.calls("/v1/oauth/token")[0].json()
    assert "#" not in body["code"]
    assert body["state"] == query(ui.urls[0])["state"]


def test_a_code_carrying_another_logins_state_is_refused() -> None:
    with pytest.raises(OAuthError, match="another login"):
        claude.split_code("abc#other", "mine")


async def test_an_answer_without_an_email_fails_the_login() -> None:
    fake = FakeClaude(email="")
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match="email"):
            await claude.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)


async def test_a_refused_exchange_quotes_anthropic() -> None:
    fake = FakeClaude()
    fake.token_error = (400, {"type": "error", "error": {
        "type": "invalid_request_error", "message": "Invalid 'code' in request."}})
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match=r"HTTP 400\): Invalid 'code' in request"):
            await claude.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)
