"""`cliproxy login qwen`: Qwen's device-code flow with PKCE (no callback port).

Facts (anchor §4.5): a form device request with the S256 challenge; the person confirms
``user_code`` at ``verification_uri_complete``; the poll sends the verifier. The token answer's
``resource_url`` (e.g. ``portal.qwen.ai``) is the account's API host. Qwen does not say who logged
in, so ``--label`` (or an answer at the prompt) names the account. Qwen ended its free OAuth tier;
a refusal is quoted exactly as Qwen wrote it.
"""

from __future__ import annotations

import time
import uuid

import anyio
import httpx

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle, make_account_id
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import LoginError
from cliproxy_cli.oauth.clients import QWEN
from cliproxy_cli.oauth.device import DEVICE_GRANT, DeviceCode, poll_for_token
from cliproxy_cli.oauth.flow import (
    VENDORS,
    Clock,
    LoginOptions,
    LoginResult,
    LoginUI,
    Sleep,
    expires_at,
    request_json,
    require_token,
    timeout_error,
)
from cliproxy_cli.oauth.pkce import make_pkce

VENDOR = VENDORS[ProviderName.QWEN]
_ACCEPT = {"Accept": "application/json"}
_REFUSED_HINT = ("the message above is Qwen's own (Qwen ended its free OAuth tier, so the account "
                 "may need a paid plan)")


def resolve_label(options: LoginOptions, ui: LoginUI) -> str:
    label = options.label.strip() or (ui.ask("Email address or alias for this Qwen account") or "")
    if not label.strip():
        raise LoginError(
            "Qwen does not tell cliproxy which account logged in, so the account needs a name",
            hint="pass `--label NAME` (your Qwen email or any alias)",
        )
    return label.strip()


async def login(
    options: LoginOptions,
    ui: LoginUI,
    *,
    endpoints: EndpointTable,
    client: httpx.AsyncClient,
    clock: Clock = time.time,
    sleep: Sleep = anyio.sleep,
    monotonic: Clock = time.monotonic,
) -> LoginResult:
    label = resolve_label(options, ui)
    pkce = make_pkce(32)
    with ui.status("Asking Qwen for a device code…"):
        started = await request_json(
            client, "POST", endpoints.url("qwen.device-code"), vendor=VENDOR,
            step="device login request", hint=_REFUSED_HINT,
            data={"client_id": QWEN.client_id, "scope": " ".join(QWEN.scopes),
                  "code_challenge": pkce.challenge, "code_challenge_method": pkce.method},
            headers={**_ACCEPT, "x-request-id": str(uuid.uuid4())},
        )
    device = DeviceCode.from_json(started, vendor=VENDOR)
    opened = ui.open_browser(device.browser_url) if options.open_browser else False
    ui.show_device_code(device.browser_url, device.user_code, opened=opened)
    try:
        with ui.status("Waiting for you to approve the code in the browser…"), \
                anyio.fail_after(options.timeout):
            token = await poll_for_token(
                client, endpoints.url("qwen.token"),
                {"grant_type": DEVICE_GRANT, "client_id": QWEN.client_id,
                 "device_code": device.device_code, "code_verifier": pkce.verifier},
                vendor=VENDOR, interval=device.interval, expires_in=device.expires_in,
                headers=_ACCEPT, sleep=sleep, clock=monotonic,
            )
    except TimeoutError:
        raise timeout_error(VENDOR, options) from None
    access = require_token(token, vendor=VENDOR)
    account = Account(
        id=make_account_id(ProviderName.QWEN, label),
        provider=ProviderName.QWEN,
        label=label,
        email=label if "@" in label else "",
        resource_url=str(token.get("resource_url") or ""),
        expires_at=expires_at(token, clock),
        source="login",
    )
    bundle = TokenBundle(access_token=access, refresh_token=str(token.get("refresh_token") or ""),
                         token_type=str(token.get("token_type") or "Bearer"))
    return LoginResult(account, bundle)
