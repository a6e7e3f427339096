"""`cliproxy login gemini`: Google OAuth (loopback callback), then Gemini Code Assist onboarding.

Facts (anchor §4.2; SPEC §5 URLs): ``access_type=offline`` and ``prompt=consent`` (so Google
returns a refresh token), a random ``state`` (CLIProxyAPI sends the fixed "state-token"), and
PKCE S256, which CLIProxyAPI omits but Google supports for installed apps. Then the account's
email from userinfo, and the Code Assist project the way Gemini CLI finds it: ``loadCodeAssist``
(an existing tier and ``cloudaicompanionProject``), else ``onboardUser`` on the default allowed
tier, a long-running operation polled until ``done``. When Google says the account is not
eligible (``ineligibleTiers``: e.g. personal accounts moved off Gemini CLI) its own reasons are
quoted in a LoginError. CLIProxyAPI's interactive project list and Service Usage activation are
not done (their URLs are not in the endpoint table): ``--project-id`` chooses a project.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import anyio
import httpx

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle, make_account_id
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import LoginError, OAuthError
from cliproxy_cli.oauth.clients import GOOGLE
from cliproxy_cli.oauth.flow import (
    VENDORS,
    Clock,
    LoginOptions,
    LoginResult,
    LoginUI,
    Sleep,
    browser_login,
    expires_at,
    request_json,
    require_token,
    with_query,
)
from cliproxy_cli.oauth.pkce import Pkce, make_pkce, make_state

logger = logging.getLogger(__name__)

VENDOR = VENDORS[ProviderName.GEMINI]
CODE_ASSIST: Final = "Google Code Assist"
METADATA: Final = {"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED",
                   "pluginType": "GEMINI"}
# The headers Gemini CLI sends (anchor §4.2).
_CODE_ASSIST_HEADERS: Final = {
    "User-Agent": "google-api-nodejs-client/9.15.1",
    "X-Goog-Api-Client": "gl-node/22.17.0",
    "Client-Metadata": "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI",
    "Accept": "application/json",
}
FREE_TIER: Final = "free-tier"
LEGACY_TIER: Final = "legacy-tier"
ONBOARD_INTERVAL: Final = 2.0
ONBOARD_MAX_POLLS: Final = 60
_ONBOARD_HINT: Final = ("the message above is Google's own; pass `--project-id` to use a Google "
                        "Cloud project with Gemini Code Assist, or use a Gemini API key "
                        "(`gemini-api-key` in the config)")


def authorize_url(base: str, *, redirect_uri: str, pkce: Pkce, state: str) -> str:
    return with_query(base, {
        "client_id": GOOGLE.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(GOOGLE.scopes),
        "access_type": "offline",
        "prompt": "consent",
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
    })


async def login(
    options: LoginOptions,
    ui: LoginUI,
    *,
    endpoints: EndpointTable,
    client: httpx.AsyncClient,
    clock: Clock = time.time,
    sleep: Sleep = anyio.sleep,
) -> LoginResult:
    pkce, state = make_pkce(), make_state()
    authorization, redirect = await browser_login(
        GOOGLE, options, ui, endpoints=endpoints, authorize="google.authorize", vendor=VENDOR,
        state=state,
        build_url=lambda uri: authorize_url(endpoints.url("google.authorize"), redirect_uri=uri,
                                            pkce=pkce, state=state),
    )
    with ui.status("Exchanging the code for tokens…"):
        token = await request_json(
            client, "POST", endpoints.url("google.token"), vendor=VENDOR, step="token exchange",
            data={"grant_type": "authorization_code", "code": authorization.code,
                  "redirect_uri": redirect, "client_id": GOOGLE.client_id,
                  "client_secret": GOOGLE.client_secret, "code_verifier": pkce.verifier},
            headers={"Accept": "application/json"},
        )
    access = require_token(token, vendor=VENDOR)
    if not token.get("refresh_token"):
        ui.info("Google returned no refresh token: the login works for about an hour. Remove "
                "cliproxy's access at https://myaccount.google.com/permissions and log in again.")
    with ui.status("Reading the account's email…"):
        info = await request_json(
            client, "GET", endpoints.url("google.userinfo"), vendor=VENDOR, step="userinfo",
            params={"alt": "json"},
            headers={"Authorization": f"Bearer {access}", "Accept": "application/json"},
        )
    email = info.get("email")
    if not isinstance(email, str) or not email:
        raise OAuthError("Google's userinfo names no email for this account",
                         hint="log in again and allow the email scope")
    with ui.status("Finding the Gemini Code Assist project…"):
        project = await find_project(client, endpoints, access, requested=options.project_id,
                                     ui=ui, sleep=sleep)
    account = Account(
        id=make_account_id(ProviderName.GEMINI, f"{email}-{project}"),
        provider=ProviderName.GEMINI,
        label=options.label or email,
        email=email,
        project_id=project,
        expires_at=expires_at(token, clock),
        source="login",
    )
    bundle = TokenBundle(access_token=access, refresh_token=str(token.get("refresh_token") or ""),
                         token_type=str(token.get("token_type") or "Bearer"))
    return LoginResult(account, bundle)


# -- Code Assist onboarding ------------------------------------------------------------------------


async def _call(
    client: httpx.AsyncClient, endpoints: EndpointTable, token: str, method: str, target: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    url = f"{endpoints.url('gemini.code-assist')}/v1internal{target}"
    return await request_json(
        client, method, url, vendor=CODE_ASSIST, step=target.lstrip(":/").split("/")[0],
        hint=_ONBOARD_HINT, json=body,
        headers={**_CODE_ASSIST_HEADERS, "Authorization": f"Bearer {token}"},
    )


def project_of(value: Any) -> str:
    """``cloudaicompanionProject`` is a string in loadCodeAssist and ``{id, name}`` in an
    onboarding answer."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) else ""


def _tiers(load: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [t for t in load.get(key) or [] if isinstance(t, dict)]


def ineligible_error(load: dict[str, Any]) -> LoginError:
    """Google's own reasons why the account cannot use Code Assist, or "needs a project"."""
    tiers = _tiers(load, "ineligibleTiers")
    if not tiers:
        return LoginError(
            "Google Code Assist found no Cloud project for this account",
            hint="pass `--project-id YOUR_PROJECT` (a Google Cloud project with the Gemini for "
                 "Google Cloud API enabled)",
        )
    reasons = "; ".join(
        f"{t.get('tierName') or t.get('tierId') or 'tier'}: "
        f"{t.get('reasonMessage') or 'not eligible'}"
        + (f" ({t['reasonCode']})" if t.get("reasonCode") else "")
        for t in tiers
    )
    return LoginError(f"Google says this account cannot use Gemini Code Assist: {reasons}",
                      hint=_ONBOARD_HINT)


def _check_validation(load: dict[str, Any]) -> None:
    if load.get("currentTier"):
        return
    for tier in _tiers(load, "ineligibleTiers"):
        if tier.get("reasonCode") == "VALIDATION_REQUIRED" and tier.get("validationUrl"):
            raise LoginError(
                f"Google asks you to verify this account first: "
                f"{tier.get('reasonMessage') or 'account validation required'}",
                hint=f"open {tier['validationUrl']} , finish the verification, then run "
                     "`cliproxy login gemini` again",
            )


def _onboard_tier(load: dict[str, Any]) -> dict[str, Any] | None:
    for tier in _tiers(load, "allowedTiers"):
        if tier.get("isDefault"):
            return tier
    if _tiers(load, "ineligibleTiers"):
        return None  # nothing allowed and reasons given: onboarding would only fail less clearly
    return {"id": LEGACY_TIER, "userDefinedCloudaicompanionProject": True}


async def find_project(
    client: httpx.AsyncClient,
    endpoints: EndpointTable,
    token: str,
    *,
    requested: str = "",
    ui: LoginUI,
    sleep: Sleep = anyio.sleep,
) -> str:
    """The Code Assist project for this account (``requested`` when given and accepted),
    onboarding the account on its default tier when it has none yet."""
    metadata = {**METADATA, **({"duetProject": requested} if requested else {})}
    load_body: dict[str, Any] = {"metadata": metadata}
    if requested:
        load_body["cloudaicompanionProject"] = requested
    load = await _call(client, endpoints, token, "POST", ":loadCodeAssist", load_body)
    _check_validation(load)
    known = project_of(load.get("cloudaicompanionProject"))
    if load.get("currentTier"):
        project = known or requested
        if not project:
            raise ineligible_error(load)
        if requested and known and known != requested:
            ui.info(f"Google Code Assist uses project {known} for this account "
                    f"(not {requested}).")
        return project
    tier = _onboard_tier(load)
    if tier is None:
        raise ineligible_error(load)
    tier_id = str(tier.get("id") or LEGACY_TIER)
    if tier_id == FREE_TIER:
        # The free tier runs in a Google-managed project; naming one fails the onboarding.
        body: dict[str, Any] = {"tierId": tier_id, "metadata": METADATA}
    else:
        body = {"tierId": tier_id, "metadata": metadata}
        if requested:
            body["cloudaicompanionProject"] = requested
    ui.info(f"Setting up Gemini Code Assist ({tier.get('name') or tier_id}) for this account…")
    operation = await _onboard(client, endpoints, token, body, sleep)
    project = project_of((operation.get("response") or {}).get("cloudaicompanionProject"))
    if project:
        return project
    if requested:
        return requested
    raise ineligible_error(load)


async def _onboard(
    client: httpx.AsyncClient, endpoints: EndpointTable, token: str, body: dict[str, Any],
    sleep: Sleep,
) -> dict[str, Any]:
    """``onboardUser`` is a long-running operation: poll it (by name when Google gives one,
    else by repeating the call, as CLIProxyAPI does) until ``done``."""
    operation = await _call(client, endpoints, token, "POST", ":onboardUser", body)
    for _ in range(ONBOARD_MAX_POLLS):
        if operation.get("done"):
            break
        await sleep(ONBOARD_INTERVAL)
        name = operation.get("name")
        if isinstance(name, str) and name:
            operation = await _call(client, endpoints, token, "GET", f"/{name}")
        else:
            operation = await _call(client, endpoints, token, "POST", ":onboardUser", body)
    else:
        raise LoginError("Google Code Assist did not finish setting up the account in time",
                         hint="run `cliproxy login gemini` again in a minute")
    error = operation.get("error")
    if isinstance(error, dict):
        raise LoginError(f"Google Code Assist could not set up the account: "
                         f"{error.get('message') or error.get('status') or error}",
                         hint=_ONBOARD_HINT)
    logger.debug("code assist onboarding done tier=%s", body.get("tierId"))
    return operation
