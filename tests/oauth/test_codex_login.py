from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from cliproxy_cli.errors import OAuthError
from cliproxy_cli.oauth import codex
from cliproxy_cli.oauth.flow import LoginOptions
from tests.fakes.login_ui import ScriptedUI, endpoints_for, loopback_browser, mock_client
from tests.fakes.oauth_servers import FakeCodex, make_jwt, s256

pytestmark = pytest.mark.anyio

OPTIONS = LoginOptions(open_browser=False, callback_port=0, timeout=10)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_login_reads_email_account_id_and_plan_from_the_id_token() -> None:
    fake = FakeCodex(email="grace@example.com", plan="pro", account_id="acc-42")
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        result = await codex.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client,
                                   clock=lambda: 50.0)
    await ui.settle()
    account, bundle = result.account, result.bundle
    assert account.id == "codex-grace@example.com"
    assert (account.email, account.account_id, account.plan) == ("grace@example.com", "acc-42",
                                                                 "pro")
    assert account.expires_at == 50.0 + 864000
    assert bundle.id_token.count(".") == 2
    assert bundle.refresh_token.startswith("rt_")

    sent = query(ui.urls[0])
    assert sent["id_token_add_organizations"] == "true"
    assert sent["codex_cli_simplified_flow"] == "true"
    assert sent["prompt"] == "login"
    exchange = fake.calls("/oauth/token")[0]
    assert exchange.headers["content-type"].startswith("application/x-www-form-urlencoded")
    form = exchange.form()
    assert s256(form["code_verifier"]) == sent["code_challenge"]
    assert form["redirect_uri"] == sent["redirect_uri"] == (
        f"http://localhost:{urlsplit(sent['redirect_uri']).port}/auth/callback")


async def test_a_label_overrides_the_display_name_but_not_the_id() -> None:
    fake = FakeCodex()
    ui = ScriptedUI(browser=loopback_browser(fake))
    options = LoginOptions(open_browser=False, callback_port=0, timeout=10, label="work")
    async with mock_client(fake) as client:
        result = await codex.login(options, ui, endpoints=endpoints_for(fake), client=client)
    assert (result.account.label, result.account.id) == ("work", "codex-codex-user@example.com")


async def test_an_id_token_without_email_fails_the_login() -> None:
    fake = FakeCodex(email="")
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match="names no email"):
            await codex.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)


def test_jwt_claims_decode_without_verification_and_reject_garbage() -> None:
    assert codex.jwt_claims(make_jwt({"email": "a@b.c"}))["email"] == "a@b.c"
    with pytest.raises(OAuthError):
        codex.jwt_claims("not-a-jwt")
    with pytest.raises(OAuthError):
        codex.jwt_claims("a.!!!.c")


async def test_a_refused_exchange_quotes_openai() -> None:
    fake = FakeCodex()
    fake.token_error = (401, {"error": {"message": "Your authentication token has expired.",
                                        "type": "invalid_request_error",
                                        "code": "token_expired"}})
    ui = ScriptedUI(browser=loopback_browser(fake))
    async with mock_client(fake) as client:
        with pytest.raises(OAuthError, match="authentication token has expired"):
            await codex.login(OPTIONS, ui, endpoints=endpoints_for(fake), client=client)
