"""What is left of each subscription: the vendors' own usage endpoints, read on demand.

- claude: ``GET <claude.api>/api/oauth/usage`` (Bearer, ``anthropic-beta: oauth-2025-04-20``)
  → ``{five_hour: {utilization, resets_at}, seven_day: …, seven_day_opus: …}`` (percent used,
  RFC 3339 times).
- codex: ``GET <backend-api>/wham/usage`` (Bearer, ``chatgpt-account-id``) → ``{plan_type,
  rate_limit: {limit_reached, primary_window: {used_percent, limit_window_seconds,
  reset_after_seconds, reset_at}, secondary_window: …}, credits}``.
- gemini: ``POST <gemini.code-assist>/v1internal:retrieveUserQuota`` ``{"project"}`` →
  ``{buckets: [{modelId, tokenType, remainingAmount, remainingFraction, resetTime}]}``.
- qwen, iflow: no known endpoint; an "unknown" report.

URLs come from the endpoint table: the Claude usage endpoint sits on the Messages API host
(``claude.api``); the ChatGPT one sits beside the Codex API under the same ``backend-api`` root,
so it is ``codex.api`` with its last ``/codex`` segment replaced by ``/wham/usage``; Code Assist's
is another ``v1internal`` method of ``gemini.code-assist``. These endpoints are undocumented and
change; a failure raises the provider's classified ``UpstreamError`` (``auth`` on a stale token,
so a caller can refresh and ask again).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import httpx

from cliproxy_cli import jsonio
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.providers import PROVIDERS
from cliproxy_cli.providers.claude import CLAUDE_CLI_USER_AGENT, OAUTH_BETA
from cliproxy_cli.providers.codex import CODEX_ORIGINATOR, CODEX_USER_AGENT
from cliproxy_cli.providers.gemini import CODE_ASSIST_HEADERS

_JSON: Final = {"accept": "application/json"}
_WINDOW_NAMES: Final = {18000: "5h", 604800: "7d"}
_CLAUDE_NAMES: Final = {"five_hour": "5h", "seven_day": "7d"}


@dataclass(frozen=True, slots=True)
class QuotaWindow:
    """One limit window. ``used_percent`` is 0–100; ``remaining`` an amount left in the
    vendor's own unit (requests) where it says; ``resets_at`` unix seconds."""

    name: str
    used_percent: float | None = None
    remaining: float | None = None
    resets_at: float | None = None


@dataclass(frozen=True, slots=True)
class QuotaReport:
    """The windows a provider reported; none, with a ``note``, when it exposes nothing."""

    provider: str
    windows: tuple[QuotaWindow, ...] = ()
    note: str = ""
    plan: str = ""

    @property
    def known(self) -> bool:
        return bool(self.windows)


async def fetch_quota(
    client: httpx.AsyncClient,
    endpoints: EndpointTable,
    account: Account,
    bundle: TokenBundle,
    *,
    now: float | None = None,
) -> QuotaReport:
    """The account's current quota, from its vendor (one HTTP call, or none)."""
    at = time.time() if now is None else now
    match account.provider:
        case ProviderName.CLAUDE:
            return await _claude(client, endpoints, bundle)
        case ProviderName.CODEX:
            return await _codex(client, endpoints, account, bundle, at)
        case ProviderName.GEMINI:
            return await _gemini(client, endpoints, account, bundle)
        case ProviderName.QWEN:
            return QuotaReport("qwen", note="unknown: Qwen exposes no quota endpoint "
                                            "(its free tier resets daily at 00:00 Beijing time)")
        case ProviderName.IFLOW:
            return QuotaReport("iflow", note="unknown: iFlow exposes no quota endpoint")


def codex_usage_url(endpoints: EndpointTable) -> str:
    base = endpoints.url("codex.api")
    return base.removesuffix("/codex") + "/wham/usage"


# -- one per vendor ------------------------------------------------------------------------


async def _claude(client: httpx.AsyncClient, endpoints: EndpointTable,
                  bundle: TokenBundle) -> QuotaReport:
    data = await _call(client, "claude", "GET", endpoints.url("claude.api") + "/api/oauth/usage",
                       {**_JSON, "authorization": f"Bearer {bundle.access_token}",
                        "anthropic-beta": OAUTH_BETA, "content-type": "application/json",
                        "user-agent": CLAUDE_CLI_USER_AGENT})
    windows = []
    for key, value in data.items():
        if not isinstance(value, dict) or not _is_number(value.get("utilization")):
            continue
        windows.append(QuotaWindow(_claude_name(key), used_percent=float(value["utilization"]),
                                   resets_at=_instant(value.get("resets_at"))))
    note = "" if windows else "Anthropic reported no usage windows"
    return QuotaReport("claude", tuple(windows), note)


def _claude_name(key: str) -> str:
    for prefix, short in _CLAUDE_NAMES.items():
        if key == prefix:
            return short
        if key.startswith(prefix + "_"):
            return f"{short} {key[len(prefix) + 1:].replace('_', ' ')}"
    return key.replace("_", " ")


async def _codex(client: httpx.AsyncClient, endpoints: EndpointTable, account: Account,
                 bundle: TokenBundle, now: float) -> QuotaReport:
    headers = {**_JSON, "authorization": f"Bearer {bundle.access_token}",
               "originator": CODEX_ORIGINATOR, "user-agent": CODEX_USER_AGENT}
    if account.account_id:
        headers["chatgpt-account-id"] = account.account_id
    data = await _call(client, "codex", "GET", codex_usage_url(endpoints), headers)
    limits = data.get("rate_limit")
    limits = limits if isinstance(limits, dict) else {}
    windows = []
    for slot in ("primary_window", "secondary_window"):
        window = limits.get(slot)
        if not isinstance(window, dict):
            continue
        seconds = window.get("limit_window_seconds")
        name = _WINDOW_NAMES.get(seconds, slot.removesuffix("_window")) \
            if isinstance(seconds, int) else slot.removesuffix("_window")
        resets_at = _instant(window.get("reset_at"))
        if resets_at is None and _is_number(window.get("reset_after_seconds")):
            resets_at = now + float(window["reset_after_seconds"])
        windows.append(QuotaWindow(name, used_percent=_float(window.get("used_percent")),
                                   resets_at=resets_at))
    notes = []
    if limits.get("limit_reached") is True:
        notes.append("limit reached")
    credits = data.get("credits")
    if isinstance(credits, dict) and credits.get("has_credits"):
        notes.append(f"credits: {credits.get('balance') or 'yes'}")
    if not windows:
        notes.append("ChatGPT reported no usage windows")
    plan = data.get("plan_type")
    return QuotaReport("codex", tuple(windows), "; ".join(notes),
                       plan=plan if isinstance(plan, str) else "")


async def _gemini(client: httpx.AsyncClient, endpoints: EndpointTable, account: Account,
                  bundle: TokenBundle) -> QuotaReport:
    if not account.project_id:
        return QuotaReport("gemini", note="unknown: the account has no Cloud project")
    url = endpoints.url("gemini.code-assist") + "/v1internal:retrieveUserQuota"
    data = await _call(
        client, "gemini", "POST", url,
        {**_JSON, **CODE_ASSIST_HEADERS, "content-type": "application/json",
         "authorization": f"Bearer {bundle.access_token}"},
        json={"project": account.project_id},
    )
    buckets = data.get("buckets")
    windows = []
    for bucket in buckets if isinstance(buckets, list) else []:
        if not isinstance(bucket, dict):
            continue
        name = str(bucket.get("modelId") or "all models")
        unit = str(bucket.get("tokenType") or "")
        if unit and unit != "REQUESTS":
            name += f" ({unit.lower()})"
        fraction = _float(bucket.get("remainingFraction"))
        amount = bucket.get("remainingAmount")
        try:
            remaining = float(amount) if amount is not None else None
        except (TypeError, ValueError):
            remaining = None
        windows.append(QuotaWindow(
            name,
            used_percent=round((1 - fraction) * 100, 2) if fraction is not None else None,
            remaining=remaining, resets_at=_instant(bucket.get("resetTime")),
        ))
    note = "" if windows else "Code Assist reported no quota buckets"
    return QuotaReport("gemini", tuple(windows), note)


# -- plumbing ------------------------------------------------------------------------------


async def _call(client: httpx.AsyncClient, provider: str, method: str, url: str,
                headers: Mapping[str, str], json: Any = None) -> dict[str, Any]:
    try:
        response = await client.request(method, url, headers=dict(headers), json=json)
    except httpx.TransportError as exc:
        host = url.split("://", 1)[-1].split("/", 1)[0]
        raise UpstreamError(f"cannot reach {provider} at {host}: {type(exc).__name__}",
                            kind=ErrorKind.TRANSIENT, status=502, provider=provider) from exc
    if response.status_code >= 400:
        raise PROVIDERS[provider].classify(response.status_code, response.headers,
                                           response.content)
    try:
        data = jsonio.loads(response.content)
    except jsonio.JSONDecodeError as exc:
        raise UpstreamError(f"{provider} usage endpoint answered invalid JSON",
                            kind=ErrorKind.TRANSIENT, status=502, provider=provider) from exc
    if not isinstance(data, dict):
        raise UpstreamError(f"{provider} usage endpoint answered {type(data).__name__}",
                            kind=ErrorKind.TRANSIENT, status=502, provider=provider)
    return data


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _float(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _instant(value: Any) -> float | None:
    """Unix seconds from an RFC 3339 string or a unix timestamp (seconds or milliseconds)."""
    if _is_number(value):
        number = float(value)
        return number / 1000 if number > 1e12 else number
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip()).timestamp()
        except ValueError:
            return None
    return None
