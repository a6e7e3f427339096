"""`accounts list --quota`: remaining quota per account, fetched on demand and cached briefly.

Orchestration only: tokens from ``oauth.refresh`` (refreshed when due), the per-provider fetch
from ``providers.quota``; one failure never hides the others.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Final

import anyio
import orjson

from cliproxy_cli.accounts.model import Account
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.config import LoadedConfig
from cliproxy_cli.errors import CliproxyError
from cliproxy_cli.paths import write_private

CACHE_SECONDS: Final = 60.0


def _describe(report: dict[str, Any]) -> str:
    windows = report.get("windows") or []
    if not windows:
        return "unknown" + (f" ({report['note']})" if report.get("note") else "")
    parts = []
    for w in windows:
        if w.get("used_percent") is not None:
            value = f"{100 - float(w['used_percent']):.0f}% left"
        elif w.get("remaining") is not None:
            value = f"{w['remaining']:g} left"
        else:
            value = "?"
        reset = (f", resets {time.strftime('%m-%d %H:%M', time.localtime(w['resets_at']))}"
                 if w.get("resets_at") else "")
        parts.append(f"{w['name']}: {value}{reset}")
    return "; ".join(parts)


async def _fetch_all(loaded: LoadedConfig, repo: AccountRepository,
                     accounts: list[Account]) -> dict[str, dict[str, Any]]:
    from cliproxy_cli.oauth.refresh import TokenRefresher, open_client
    from cliproxy_cli.providers.quota import fetch_quota

    results: dict[str, dict[str, Any]] = {}
    async with open_client(loaded.config.proxy_url) as client:
        tokens = TokenRefresher(repo, loaded.endpoints, client=client)

        async def one(account: Account) -> None:
            try:
                fresh, bundle = await tokens.credentials(account)
                report = await fetch_quota(client, loaded.endpoints, fresh, bundle)
                results[account.id] = asdict(report)
            except CliproxyError as exc:
                results[account.id] = {"windows": [], "note": f"error: {exc.message}"}

        async with anyio.create_task_group() as tg:
            for account in accounts:
                tg.start_soon(one, account)
    return results


def quotas(loaded: LoadedConfig, repo: AccountRepository,
           accounts: list[Account]) -> dict[str, dict[str, Any]]:
    """account id → {windows, note, summary}; cached ``CACHE_SECONDS`` in the run dir."""
    cache_file = loaded.paths.run_dir / "quota-cache.json"
    now = time.time()
    try:
        cache = orjson.loads(cache_file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        cache = {}
    wanted = [a for a in accounts if not a.disabled and not a.expired]
    stale = [a for a in wanted
             if now - float(cache.get(a.id, {}).get("fetched_at", 0)) > CACHE_SECONDS]
    if stale:
        fresh = anyio.run(_fetch_all, loaded, repo, stale)
        for account_id, report in fresh.items():
            cache[account_id] = {**report, "fetched_at": now}
        write_private(cache_file, orjson.dumps(cache))
    out: dict[str, dict[str, Any]] = {}
    for a in accounts:
        report = cache.get(a.id) or {"windows": [], "note": "not fetched (account unusable)"}
        out[a.id] = {**report, "summary": _describe(report)}
    return out
