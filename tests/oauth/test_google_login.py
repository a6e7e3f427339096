from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from cliproxy_cli.errors import LoginError, OAuthError
from cliproxy_cli.oauth import google
from cliproxy_cli.oauth.clients import GOOGLE
from cliproxy_cli.oauth.flow import LoginOptions, LoginResult
from tests.fakes.login_ui import ScriptedUI, endpoints_for, loopback_browser, mock_client
from tests.fakes.oauth_servers import INELIGIBLE_REASON, CodeAssistScript, FakeGoogle, s256

pytestmark = pytest.mark.anyio


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def run(fake: FakeGoogle, *, project_id: str = "",
              sleeps: list[float] | None = None) -> tuple[LoginResult, ScriptedUI]:
    record: list[float] = [] if sleeps is None else sleeps

    async def sleep(seconds: float) -> None:
        record.append(seconds)

    ui = ScriptedUI(browser=loopback_browser(fake))
    options = LoginOptions(open_browser=False, callback_port=0, timeout=10, project_id=project_id)
    async with mock_client(fake) as client:
        result = await google.login(options, ui, endpoints=endpoints_for(fake), client=client,
                                    clock=lambda: 10.0, sleep=sleep)
    await ui.settle()
    return result, ui


async def test_login_with_an_onboarded_account_keeps_its_project() -> None:
    fake = FakeGoogle(email="lovelace@example.com",
                      code_assist=CodeAssistScript(mode="existing", project="proj-1"))
    result, ui = await run(fake)
    account = result.account
    assert account.id == "gemini-lovelace@example.com-proj-1"
    assert (account.email, account.project_id) == ("lovelace@example.com", "proj-1")
    assert account.expires_at == 10.0 + 3599
    assert result.bundle.refresh_token in fake.refresh_tokens

    sent = query(ui.urls[0])
    assert (sent["access_type"], sent["prompt"]) == ("offline", "consent")
    assert sent["state"] != "state-token"
    assert sent["code_challenge_method"] == "S256"
    form = fake.calls("/token")[0].form()
    assert form["client_secret"] == GOOGLE.client_secret
    assert s256(form["code_verifier"]) == sent["code_challenge"]
    load = fake.calls("/v1internal:loadCodeAssist")[0]
    assert load.headers["user-agent"] == "google-api-nodejs-client/9.15.1"
    assert load.json()["metadata"]["pluginType"] == "GEMINI"
    assert fake.calls("/v1internal:onboardUser") == []


async def test_a_new_account_is_onboarded_and_the_operation_polled_until_done() -> None:
    script = CodeAssistScript(mode="onboard", project="managed-77", pending_polls=2)
    sleeps: list[float] = []
    result, ui = await run(FakeGoogle(code_assist=script), sleeps=sleeps)
    assert result.account.project_id == "managed-77"
    assert script.onboards == [{"tierId": "free-tier", "metadata": google.METADATA}]
    assert sleeps == [google.ONBOARD_INTERVAL] * 2
    assert any("Setting up Gemini Code Assist" in line for line in ui.infos)


async def test_an_unnamed_operation_is_polled_by_repeating_onboard_user() -> None:
    script = CodeAssistScript(mode="onboard", pending_polls=1, named_operation=False)
    fake = FakeGoogle(code_assist=script)
    await run(fake)
    assert len(script.onboards) == 2
    assert fake.calls("/v1internal/operations/onboard-1") == []


async def test_project_id_is_sent_to_code_assist_and_kept() -> None:
    script = CodeAssistScript(mode="needs_project")
    result, _ = await run(FakeGoogle(code_assist=script), project_id="my-gcp-project")
    assert result.account.project_id == "my-gcp-project"
    assert script.loads[0]["cloudaicompanionProject"] == "my-gcp-project"
    assert script.loads[0]["metadata"]["duetProject"] == "my-gcp-project"


async def test_a_tier_without_a_project_asks_for_project_id() -> None:
    with pytest.raises(LoginError, match="no Cloud project") as info:
        await run(FakeGoogle(code_assist=CodeAssistScript(mode="needs_project")))
    assert "--project-id" in (info.value.hint or "")


async def test_an_ineligible_account_reads_googles_own_reason() -> None:
    with pytest.raises(LoginError) as info:
        await run(FakeGoogle(code_assist=CodeAssistScript(mode="ineligible")))
    message = info.value.message
    assert INELIGIBLE_REASON in message
    assert "INELIGIBLE_ACCOUNT" in message
    assert "cannot use Gemini Code Assist" in message
    assert "gemini-api-key" in (info.value.hint or "")


async def test_a_refusal_quotes_googles_structured_error() -> None:
    with pytest.raises(OAuthError) as info:
        await run(FakeGoogle(code_assist=CodeAssistScript(mode="refused")))
    message = info.value.message
    assert "HTTP 403" in message
    assert "The caller does not have permission" in message
    assert "PERMISSION_DENIED" in message and "ACCESS_TOKEN_SCOPE_INSUFFICIENT" in message


async def test_validation_required_points_at_googles_page() -> None:
    load = {"ineligibleTiers": [{"reasonCode": "VALIDATION_REQUIRED",
                                 "reasonMessage": "Verify your account to continue.",
                                 "validationUrl": "https://accounts.google.com/verify"}]}
    with pytest.raises(LoginError, match="Verify your account") as info:
        google._check_validation(load)
    assert "https://accounts.google.com/verify" in (info.value.hint or "")


def test_project_of_reads_both_shapes() -> None:
    assert google.project_of("p") == "p"
    assert google.project_of({"id": "q", "name": "q"}) == "q"
    assert google.project_of(None) == ""
