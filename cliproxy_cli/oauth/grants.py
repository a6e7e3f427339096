"""The refresh_token grant of each provider, as a registry of small async functions.

Each grant takes the stored account and its bundle and returns updated copies: new access token,
the new refresh token when the vendor rotates it (else the old one, so a refresh never loses it),
``expires_at`` and ``last_refresh_at``. Failures are classified from the status code and the
structured ``error`` field, never from free text first: a refused refresh token raises
``TokenRevokedError`` (log in again), anything else ``OAuthError``. No message ever quotes a token
or an error description (vendors echo credentials in those).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from typing import Any, Final, Protocol

import httpx

from cliproxy_cli import jsonio
from cliproxy_cli.accounts.identity import codex_identity
from cliproxy_cli.accounts.model import Account, TokenBundle
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import OAuthError, TokenRevokedError
from cliproxy_cli.oauth.clients import CLAUDE, CODEX, GOOGLE, IFLOW, QWEN

logger = logging.getLogger(__name__)


class RefreshGrant(Protocol):
    async def __call__(
        self,
        client: httpx.AsyncClient,
        endpoints: EndpointTable,
        account: Account,
        bundle: TokenBundle,
        *,
        now: float,
    ) -> tuple[Account, TokenBundle]: ...


# OAuth error codes that mean "this refresh token is dead" (RFC 6749 §5.2 `invalid_grant`, and
# OpenAI's rotation codes, which it sends as `error.code`).
_REVOKED_CODES: Final = frozenset(
    {"invalid_grant", "refresh_token_expired", "refresh_token_reused",
     "refresh_token_invalidated", "invalid_refresh_token"}
)
# Codes safe to quote in a message (a closed list: an unknown code could carry anything).
_QUOTABLE_CODES: Final = _REVOKED_CODES | frozenset(
    {"invalid_request", "invalid_client", "unauthorized_client", "unsupported_grant_type",
     "invalid_scope", "temporarily_unavailable", "server_error", "access_denied"}
)
_JSON_HEADERS: Final = {"Accept": "application/json"}


def _error_fields(body: Any) -> tuple[str, str]:
    """(code, description) from the shapes vendors use: RFC 6749 ``{"error": "invalid_grant"}``,
    nested ``{"error": {"code"|"type": …, "message": …}}`` (OpenAI, Anthropic), top-level
    ``code``."""
    if not isinstance(body, dict):
        return "", ""
    error = body.get("error")
    code = ""
    description = str(body.get("error_description") or "")
    if isinstance(error, str):
        code = error
    elif isinstance(error, dict):
        code = str(error.get("code") or error.get("type") or "")
        description = description or str(error.get("message") or "")
    if not code and isinstance(body.get("code"), str):
        code = body["code"]
    return code.strip().lower(), description


def _is_revoked(status: int, code: str, description: str) -> bool:
    if status not in (400, 401):
        return False
    if code in _REVOKED_CODES:
        return True
    # Qwen answers a dead refresh token with `invalid_request` ("Invalid refresh token or
    # client_id"); only then is the description consulted, and only to tell the two apart.
    text = description.lower()
    return code == "invalid_request" and ("refresh token" in text or "refresh_token" in text)


def _parse_json(response: httpx.Response) -> Any:
    try:
        return jsonio.loads(response.content)
    except jsonio.JSONDecodeError:
        return None


def check_token_response(provider: str, response: httpx.Response) -> dict[str, Any]:
    """The token answer as a dict with an ``access_token``, or the classified error."""
    body = _parse_json(response)
    if response.is_success:
        if isinstance(body, dict) and isinstance(body.get("access_token"), str) \
                and body["access_token"]:
            return body
        # iFlow sometimes answers HTTP 200 with an error body ("server busy"): not a token.
        raise OAuthError(
            f"the {provider} token endpoint answered HTTP {response.status_code} without an "
            "access token", hint="try again in a minute",
        )
    code, description = _error_fields(body)
    shown = f" ({code})" if code in _QUOTABLE_CODES else ""
    if _is_revoked(response.status_code, code, description):
        raise TokenRevokedError(
            f"the {provider} refresh token was rejected{shown}",
            hint=f"run `cliproxy login {provider}`",
        )
    hint = "try again later" if response.status_code >= 500 or response.status_code == 429 \
        else None
    raise OAuthError(
        f"{provider} token refresh failed: HTTP {response.status_code}{shown}", hint=hint
    )


def _expires_at(body: Mapping[str, Any], now: float) -> float | None:
    value = body.get("expires_in")
    try:
        seconds = float(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        seconds = None
    return now + seconds if seconds is not None and seconds > 0 else None


def _merged(
    account: Account, bundle: TokenBundle, body: Mapping[str, Any], now: float
) -> tuple[Account, TokenBundle]:
    """The common part: new access token, rotated refresh token if any, expiry, refresh time."""
    new_bundle = bundle.replace(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or bundle.refresh_token),
        token_type=str(body.get("token_type") or bundle.token_type or "Bearer"),
    )
    new_account = account.replace(expires_at=_expires_at(body, now), last_refresh_at=now)
    return new_account, new_bundle


def _require_refresh_token(account: Account, bundle: TokenBundle) -> str:
    if not bundle.refresh_token:
        raise OAuthError(
            f"account {account.id} has no refresh token",
            hint=f"run `cliproxy login {account.provider}`",
        )
    return bundle.refresh_token


async def refresh_google(
    client: httpx.AsyncClient, endpoints: EndpointTable, account: Account, bundle: TokenBundle,
    *, now: float,
) -> tuple[Account, TokenBundle]:
    # An imported gemini file may carry the OAuth client it was issued to (compat).
    client_id = str(bundle.extra.get("client_id") or GOOGLE.client_id)
    client_secret = str(bundle.extra.get("client_secret") or GOOGLE.client_secret)
    response = await client.post(
        endpoints.url("google.token"),
        data={"grant_type": "refresh_token",
              "refresh_token": _require_refresh_token(account, bundle),
              "client_id": client_id, "client_secret": client_secret},
        headers=_JSON_HEADERS,
    )
    body = check_token_response("gemini", response)
    new_account, new_bundle = _merged(account, bundle, body, now)
    if body.get("id_token"):
        new_bundle = new_bundle.replace(id_token=str(body["id_token"]))
    return new_account, new_bundle


async def refresh_claude(
    client: httpx.AsyncClient, endpoints: EndpointTable, account: Account, bundle: TokenBundle,
    *, now: float,
) -> tuple[Account, TokenBundle]:
    response = await client.post(
        endpoints.url("claude.token"),
        json={"client_id": CLAUDE.client_id, "grant_type": "refresh_token",
              "refresh_token": _require_refresh_token(account, bundle)},
        headers=_JSON_HEADERS,
    )
    body = check_token_response("claude", response)
    new_account, new_bundle = _merged(account, bundle, body, now)
    owner = body.get("account")
    if isinstance(owner, dict) and owner.get("email_address"):
        new_account = new_account.replace(email=str(owner["email_address"]))
    return new_account, new_bundle


async def refresh_codex(
    client: httpx.AsyncClient, endpoints: EndpointTable, account: Account, bundle: TokenBundle,
    *, now: float,
) -> tuple[Account, TokenBundle]:
    response = await client.post(
        endpoints.url("codex.token"),
        data={"client_id": CODEX.client_id, "grant_type": "refresh_token",
              "refresh_token": _require_refresh_token(account, bundle),
              "scope": "openid profile email"},
        headers=_JSON_HEADERS,
    )
    body = check_token_response("codex", response)
    new_account, new_bundle = _merged(account, bundle, body, now)
    if body.get("id_token"):
        id_token = str(body["id_token"])
        new_bundle = new_bundle.replace(id_token=id_token)
        found = {k: v for k, v in codex_identity(id_token).items() if v}
        new_account = new_account.replace(**found)
    return new_account, new_bundle


async def refresh_qwen(
    client: httpx.AsyncClient, endpoints: EndpointTable, account: Account, bundle: TokenBundle,
    *, now: float,
) -> tuple[Account, TokenBundle]:
    response = await client.post(
        endpoints.url("qwen.token"),
        data={"grant_type": "refresh_token",
              "refresh_token": _require_refresh_token(account, bundle),
              "client_id": QWEN.client_id},
        headers=_JSON_HEADERS,
    )
    body = check_token_response("qwen", response)
    new_account, new_bundle = _merged(account, bundle, body, now)
    if body.get("resource_url"):
        new_account = new_account.replace(resource_url=str(body["resource_url"]))
    return new_account, new_bundle


def _basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


async def refresh_iflow(
    client: httpx.AsyncClient, endpoints: EndpointTable, account: Account, bundle: TokenBundle,
    *, now: float,
) -> tuple[Account, TokenBundle]:
    response = await client.post(
        endpoints.url("iflow.token"),
        data={"grant_type": "refresh_token",
              "refresh_token": _require_refresh_token(account, bundle),
              "client_id": IFLOW.client_id, "client_secret": IFLOW.client_secret},
        headers={**_JSON_HEADERS,
                 "Authorization": _basic_auth(IFLOW.client_id, IFLOW.client_secret)},
    )
    body = check_token_response("iflow", response)
    new_account, new_bundle = _merged(account, bundle, body, now)
    # The inference key may change with the token. A failed lookup keeps the old key rather than
    # failing the refresh: the new (possibly rotated) refresh token must be stored either way.
    try:
        info = await fetch_iflow_userinfo(client, endpoints, new_bundle.access_token)
    except (OAuthError, httpx.TransportError) as exc:
        logger.warning("refresh userinfo failed account=%s error=%s", account.id,
                       type(exc).__name__)
        return new_account, new_bundle
    if info.get("apiKey"):
        new_bundle = new_bundle.replace(api_key=str(info["apiKey"]))
    if info.get("email"):
        new_account = new_account.replace(email=str(info["email"]))
    return new_account, new_bundle


async def fetch_iflow_userinfo(
    client: httpx.AsyncClient, endpoints: EndpointTable, access_token: str
) -> dict[str, Any]:
    """``data`` of iFlow's user info: ``apiKey``, ``email``, ``phone``. The API wants the token
    in the query (``accessToken=``); the redacting log filter masks it."""
    response = await client.get(
        endpoints.url("iflow.userinfo"), params={"accessToken": access_token},
        headers=_JSON_HEADERS,
    )
    body = _parse_json(response)
    if not response.is_success or not isinstance(body, dict) or not body.get("success"):
        raise OAuthError(f"iflow user info failed: HTTP {response.status_code}")
    data = body.get("data")
    return data if isinstance(data, dict) else {}


REFRESH_GRANTS: Final[dict[str, RefreshGrant]] = {
    "gemini": refresh_google,
    "claude": refresh_claude,
    "codex": refresh_codex,
    "qwen": refresh_qwen,
    "iflow": refresh_iflow,
}
