"""Token lifecycle: refresh ahead of expiry and after a 401, once at a time per account.

``TokenRefresher`` is shared by every request of a process. Within the process a refresh is
single-flight: the first caller starts it, concurrent callers await the same task. Across processes
(the CLI and a running server share the store) an ``flock`` on ``<data>/locks/<id>.lock`` is held
while refreshing, and the stored account and secret are read again after it is acquired, so a
refresh token another process has just rotated is never used twice. Refreshed tokens are written
back at once; a refresh token the vendor rejects marks the account ``expired`` with the login hint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

import httpx

from cliproxy_cli.accounts.locks import FileLocks, RefreshLocks
from cliproxy_cli.accounts.model import Account, TokenBundle
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import CliproxyError, OAuthError, TokenRevokedError
from cliproxy_cli.oauth.clients import CLIENTS
from cliproxy_cli.oauth.grants import REFRESH_GRANTS, RefreshGrant

logger = logging.getLogger(__name__)

MIN_SKEW_SECONDS: Final = 60.0
RETRY_AFTER_FAILURE_SECONDS: Final = 300.0
_UNCHANGED_FIELDS: Final = frozenset({"id", "provider", "store"})

_Outcome = tuple[Account, TokenBundle, bool]  # (account, bundle, did a grant run)


def _revoked_message(provider: str) -> str:
    return f"refresh token rejected by {provider}; run `cliproxy login {provider}`"


class TokenRefresher:
    """The tokens to use now for each account, refreshed when due, after a 401, or on demand."""

    def __init__(
        self,
        repo: AccountRepository,
        endpoints: EndpointTable,
        *,
        client: httpx.AsyncClient,
        clock: Callable[[], float] = time.time,
        grants: Mapping[str, RefreshGrant] = REFRESH_GRANTS,
        lock_dir: Path | None = None,
        lock_timeout: float = 30.0,
        locks: RefreshLocks | None = None,
    ) -> None:
        self._repo = repo
        self._endpoints = endpoints
        self._client = client
        self._clock = clock
        self._grants = grants
        self.lock_dir = lock_dir if lock_dir is not None else repo.index_file.parent / "locks"
        self._locks: RefreshLocks = locks or FileLocks(self.lock_dir, timeout=lock_timeout)
        self._inflight: dict[str, asyncio.Future[_Outcome]] = {}
        self._bundles: dict[str, TokenBundle] = {}
        self._expiry: dict[str, float] = {}
        self._failed_at: dict[str, float] = {}

    # -- policy -------------------------------------------------------------------------------

    def lead_seconds(self, account: Account) -> float:
        """How long before expiry to refresh: the provider's lead (at least 60 s), capped at half
        the token's observed lifetime so a short-lived token is not refreshed on every check."""
        client = CLIENTS.get(str(account.provider))
        lead = max(client.refresh_lead_seconds if client else 0.0, MIN_SKEW_SECONDS)
        if account.expires_at is not None and account.last_refresh_at:
            lifetime = account.expires_at - account.last_refresh_at
            if lifetime > 0:
                lead = min(lead, lifetime / 2)
        return max(lead, MIN_SKEW_SECONDS)

    def is_due(self, account: Account, now: float | None = None) -> bool:
        """True when the token expires within its lead (or has expired). Unknown expiry: never
        proactively; a 401 triggers the refresh instead."""
        if account.expires_at is None:
            return False
        now = self._clock() if now is None else now
        return account.expires_at - now <= self.lead_seconds(account)

    # -- public API ---------------------------------------------------------------------------

    async def credentials(self, account: Account) -> tuple[Account, TokenBundle]:
        """The account and bundle to use now, refreshed first when the token is (nearly) due."""
        now = self._clock()
        known = self._expiry.get(account.id)
        if known is not None and (account.expires_at is None or known > account.expires_at):
            # The caller's copy predates our last refresh (or re-read) of this account.
            account = account.replace(expires_at=known)
        if self._wants_refresh(account, now, proactive=True):
            try:
                fresh, bundle, _ = await self._single_flight(
                    account, failed_token=None, force=False
                )
            except OAuthError as exc:
                # The token endpoint is down but the token still works: use it, retry later.
                self._failed_at[account.id] = now
                if account.expires_at is None or account.expires_at <= now:
                    raise
                logger.warning("refresh failed account=%s error=%s", account.id, exc.message)
            else:
                self._failed_at.pop(account.id, None)
                return fresh, bundle
        cached = self._bundles.get(account.id)
        if cached is None:
            cached = self._bundles[account.id] = self._repo.secret(account)
        return account, cached

    async def refresh(
        self, account: Account, *, failed_token: str | None = None
    ) -> tuple[Account, TokenBundle]:
        """Force a refresh (after an upstream 401 pass the token that failed as ``failed_token``:
        if another caller has replaced it meanwhile, the stored one is returned unrefreshed)."""
        fresh, bundle, _ = await self._single_flight(account, failed_token=failed_token, force=True)
        return fresh, bundle

    async def refresh_due(self) -> list[str]:
        """Refresh every enabled, non-expired OAuth account whose token is within its lead,
        cooling down or not. Returns the refreshed ids; one failure never stops the others."""
        now = self._clock()
        refreshed: list[str] = []
        for account in self._repo.list():
            if not self._wants_refresh(account, now):
                continue
            try:
                if not self._repo.secret(account).refresh_token:
                    continue  # an API-key / cookie account: nothing to refresh
                _, _, ran = await self._single_flight(account, failed_token=None, force=False)
            except CliproxyError as exc:
                self._failed_at[account.id] = now
                logger.warning("refresh failed account=%s error=%s", account.id, exc.message)
                continue
            self._failed_at.pop(account.id, None)
            if ran:
                refreshed.append(account.id)
        return refreshed

    def forget(self, account_id: str) -> None:
        """Drop what is cached about an account (it was removed or logged in again)."""
        self._bundles.pop(account_id, None)
        self._expiry.pop(account_id, None)

    def _remember(self, account: Account, bundle: TokenBundle) -> None:
        self._bundles[account.id] = bundle
        if account.expires_at is not None:
            self._expiry[account.id] = account.expires_at

    # -- single flight ------------------------------------------------------------------------

    def _wants_refresh(self, account: Account, now: float, *, proactive: bool = False) -> bool:
        if account.expired or str(account.provider) not in self._grants:
            return False
        if account.disabled and not proactive:
            return False
        if not self.is_due(account, now):
            return False
        failed = self._failed_at.get(account.id)
        recently_failed = failed is not None and now - failed < RETRY_AFTER_FAILURE_SECONDS
        # After a failure wait before trying again, unless the token has run out already.
        still_valid = account.expires_at is not None and account.expires_at > now
        return not (recently_failed and still_valid)

    async def _single_flight(
        self, account: Account, *, failed_token: str | None, force: bool
    ) -> _Outcome:
        task = self._inflight.get(account.id)
        if task is None:
            task = asyncio.ensure_future(self._refresh_locked(account, failed_token, force))
            self._inflight[account.id] = task
            task.add_done_callback(functools.partial(self._settled, account.id))
        # shield: a caller that gives up (client disconnect) does not cancel the others' refresh
        return await asyncio.shield(task)

    def _settled(self, account_id: str, task: asyncio.Future[_Outcome]) -> None:
        if self._inflight.get(account_id) is task:
            del self._inflight[account_id]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have gone away

    async def _refresh_locked(
        self, account: Account, failed_token: str | None, force: bool
    ) -> _Outcome:
        async with self._locks.hold(account.id):
            # Another process may have refreshed while we waited: trust the store, not `account`.
            current = self._repo.get(account.id)
            stored = self._repo.secret(current)
            replaced = bool(failed_token is not None and stored.access_token
                            and stored.access_token != failed_token)
            if replaced or (not force and not self.is_due(current)):
                self._remember(current, stored)
                return current, stored, False
            fresh, bundle = await self._grant_and_store(current, stored)
            return fresh, bundle, True

    # -- the grant and the write-back ---------------------------------------------------------

    async def _grant_and_store(
        self, current: Account, stored: TokenBundle
    ) -> tuple[Account, TokenBundle]:
        provider = str(current.provider)
        grant = self._grants.get(provider)
        if grant is None:
            raise OAuthError(f"{provider} accounts have no refresh grant")
        if not stored.refresh_token:
            raise OAuthError(f"account {current.id} has no refresh token",
                             hint=f"run `cliproxy login {provider}`")
        now = self._clock()
        try:
            fresh, bundle = await self._grant_with_retry(grant, current, stored, now)
        except TokenRevokedError:
            logger.warning("refresh rejected account=%s provider=%s", current.id, provider)
            self._repo.update(current.id, expired=True, last_error=_revoked_message(provider))
            self.forget(current.id)
            raise
        if not bundle.refresh_token:  # never drop a refresh token
            bundle = bundle.replace(refresh_token=stored.refresh_token)
        self._repo.put_secret(current, bundle)
        changes = {
            name: getattr(fresh, name) for name in (f.name for f in dataclasses.fields(Account))
            if name not in _UNCHANGED_FIELDS and getattr(fresh, name) != getattr(current, name)
        }
        changes.update(expires_at=fresh.expires_at, last_refresh_at=now, expired=False,
                       last_error="")
        updated = self._repo.update(current.id, **changes)
        self._remember(updated, bundle)
        expires_in = round(updated.expires_at - now) if updated.expires_at is not None else None
        logger.info("refresh ok account=%s expires_in=%s", current.id, expires_in)
        return updated, bundle

    async def _grant_with_retry(
        self, grant: RefreshGrant, account: Account, bundle: TokenBundle, now: float
    ) -> tuple[Account, TokenBundle]:
        # One retry on a transport error: the pool drops the broken connection, so the second
        # attempt opens a fresh one (a stale pooled connection through a proxy is the usual
        # cause, CLIProxyAPI#5073).
        try:
            return await grant(self._client, self._endpoints, account, bundle, now=now)
        except httpx.TransportError as exc:
            logger.info("refresh retry account=%s error=%s", account.id, type(exc).__name__)
        try:
            return await grant(self._client, self._endpoints, account, bundle, now=now)
        except httpx.TransportError as exc:
            raise OAuthError(
                f"could not reach the {account.provider} token endpoint ({type(exc).__name__})",
                hint="check the network connection or `proxy-url`",
            ) from exc


def open_client(
    proxy_url: str = "", *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The httpx client for authorization servers, through ``proxy-url`` when set."""
    return httpx.AsyncClient(
        proxy=proxy_url or None,
        transport=transport,
        timeout=httpx.Timeout(30.0, connect=10.0),
        follow_redirects=False,
    )


async def refresh_account(
    repo: AccountRepository,
    endpoints: EndpointTable,
    account_id: str,
    *,
    proxy_url: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> Account:
    """Force a refresh of one stored account (``cliproxy accounts refresh ID``)."""
    account = repo.get(account_id)
    async with open_client(proxy_url, transport=transport) as client:
        refreshed, _ = await TokenRefresher(repo, endpoints, client=client).refresh(account)
    return refreshed
