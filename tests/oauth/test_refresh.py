"""TokenRefresher: single flight, proactive refresh, write-back, revocation, retries, locks."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.accounts.store import MemoryStore
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import OAuthError, TokenRevokedError
from cliproxy_cli.oauth.clients import CLAUDE
from cliproxy_cli.oauth.refresh import TokenRefresher

CLAUDE_TOKEN_URL = "https://console.anthropic.com/v1/oauth/token"
ENDPOINTS = resolve_endpoints({}, environ={})
OLD_ACCESS = "fake-ant-oat01-x-FAKE-old-access"
OLD_REFRESH = "fake-ant-ort01-x-FAKE-old-refresh"
START = 1_760_000_000.0


class FakeClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeClaudeTokenEndpoint:
    """Claude's refresh grant: rotates tokens, counts calls; can be held, fail or revoke."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.release.set()
        self.revoked: set[str] = set()
        self.transport_failures = 0
        self.server_error_for: set[str] = set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        assert str(request.url) == CLAUDE_TOKEN_URL
        self.calls += 1
        if self.transport_failures:
            self.transport_failures -= 1
            raise httpx.ConnectError("connection reset by peer", request=request)
        await self.release.wait()
        body = json.loads(request.content)
        refresh_token = body["refresh_token"]
        if refresh_token in self.revoked:
            return httpx.Response(400, json={"error": "invalid_grant",
                                             "error_description": f"bad {refresh_token}"})
        if refresh_token in self.server_error_for:
            return httpx.Response(500, json={"error": "server_error"})
        n = self.calls
        return httpx.Response(200, json={
            "token_type": "Bearer", "access_token": f"fake-ant-oat01-x-FAKE-new-{n}",
            "refresh_token": f"fake-ant-ort01-x-FAKE-new-{n}", "expires_in": 28800,
            "account": {"email_address": "user@example.com"}})


@pytest.fixture
def repo(tmp_path: Path) -> AccountRepository:
    return AccountRepository(tmp_path / "data" / "accounts.json", {"memory": MemoryStore()},
                             "memory", clock=FakeClock())


@pytest.fixture
def endpoint() -> FakeClaudeTokenEndpoint:
    return FakeClaudeTokenEndpoint()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def refresher(
    repo: AccountRepository, endpoint: FakeClaudeTokenEndpoint, clock: FakeClock
) -> AsyncIterator[TokenRefresher]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        yield TokenRefresher(repo, ENDPOINTS, client=client, clock=clock, lock_timeout=2.0)


@pytest.fixture
def secret_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    # `log.setup` (run by CLI tests) stops propagation: listen on our logger itself.
    logger = logging.getLogger("cliproxy_cli")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="cliproxy_cli")
    yield caplog
    logger.removeHandler(caplog.handler)


def add_claude(
    repo: AccountRepository, account_id: str = "claude-user-example.com", *,
    expires_in: float = 3600, refresh_token: str = OLD_REFRESH, **changes: Any
) -> Account:
    account = Account(id=account_id, provider=ProviderName.CLAUDE, email="user@example.com",
                      expires_at=START + expires_in, **changes)
    return repo.save(account, TokenBundle(access_token=OLD_ACCESS, refresh_token=refresh_token))


@pytest.mark.anyio
async def test_refresh_runs_once_for_concurrent_401s(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    endpoint.release.clear()
    waiters = [asyncio.ensure_future(refresher.refresh(account, failed_token=OLD_ACCESS))
               for _ in range(20)]
    await asyncio.sleep(0)
    endpoint.release.set()
    results = await asyncio.gather(*waiters)
    assert endpoint.calls == 1
    assert {bundle.access_token for _, bundle in results} == {"fake-ant-oat01-x-FAKE-new-1"}
    # a late caller holding the same failed token gets the stored one, no second grant
    _, late = await refresher.refresh(account, failed_token=OLD_ACCESS)
    assert late.access_token == "fake-ant-oat01-x-FAKE-new-1"
    assert endpoint.calls == 1


@pytest.mark.anyio
async def test_concurrent_forced_refreshes_join_the_one_in_flight(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    endpoint.release.clear()
    waiters = [asyncio.ensure_future(refresher.refresh(account)) for _ in range(20)]
    await asyncio.sleep(0)
    endpoint.release.set()
    results = await asyncio.gather(*waiters)
    assert endpoint.calls == 1
    assert {bundle.access_token for _, bundle in results} == {"fake-ant-oat01-x-FAKE-new-1"}


@pytest.mark.anyio
async def test_concurrent_proactive_refreshes_share_one_grant(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo, expires_in=30)
    results = await asyncio.gather(*(refresher.credentials(account) for _ in range(10)))
    assert endpoint.calls == 1
    assert {bundle.access_token for _, bundle in results} == {"fake-ant-oat01-x-FAKE-new-1"}


@pytest.mark.anyio
async def test_refreshed_tokens_are_written_back(
    repo: AccountRepository, refresher: TokenRefresher, clock: FakeClock
) -> None:
    account = add_claude(repo, last_error="old trouble")
    clock.now = START + 100
    fresh, bundle = await refresher.refresh(account)
    stored = repo.get(account.id)
    assert repo.secret(stored) == bundle
    assert bundle.refresh_token == "fake-ant-ort01-x-FAKE-new-1"
    assert stored.expires_at == START + 100 + 28800
    assert stored.last_refresh_at == START + 100
    assert (stored.expired, stored.last_error) == (False, "")
    assert fresh == stored


@pytest.mark.anyio
async def test_proactive_refresh_happens_within_the_provider_lead(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint,
    clock: FakeClock,
) -> None:
    lead = CLAUDE.refresh_lead_seconds
    account = add_claude(repo, expires_in=lead + 600)
    _, bundle = await refresher.credentials(account)
    assert (endpoint.calls, bundle.access_token) == (0, OLD_ACCESS)
    clock.now = START + 601  # now inside the 4 h lead, an hour before expiry
    fresh, bundle = await refresher.credentials(account)
    assert endpoint.calls == 1
    assert bundle.access_token == "fake-ant-oat01-x-FAKE-new-1"
    assert fresh.expires_at == clock.now + 28800
    # the caller's stale copy does not trigger another refresh
    _, again = await refresher.credentials(account)
    assert (endpoint.calls, again.access_token) == (1, "fake-ant-oat01-x-FAKE-new-1")


@pytest.mark.anyio
async def test_an_expired_token_is_refreshed_before_use(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo, expires_in=-10)
    _, bundle = await refresher.credentials(account)
    assert endpoint.calls == 1
    assert bundle.access_token == "fake-ant-oat01-x-FAKE-new-1"


@pytest.mark.anyio
async def test_lead_is_capped_at_half_a_short_token_lifetime(refresher: TokenRefresher) -> None:
    short = Account(id="c", provider=ProviderName.CLAUDE, expires_at=START + 3600,
                    last_refresh_at=START)
    assert refresher.lead_seconds(short) == 1800
    tiny = short.replace(expires_at=START + 30)
    assert refresher.lead_seconds(tiny) == 60  # never below the 60 s skew
    unknown = Account(id="q", provider=ProviderName.QWEN, expires_at=START + 10**6)
    assert refresher.lead_seconds(unknown) == 3 * 3600


@pytest.mark.anyio
async def test_revoked_refresh_token_marks_account_expired(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    endpoint.revoked.add(OLD_REFRESH)
    with pytest.raises(TokenRevokedError) as caught:
        await refresher.refresh(account)
    assert caught.value.hint == "run `cliproxy login claude`"
    stored = repo.get(account.id)
    assert stored.expired is True
    assert stored.last_error == \
        "refresh token rejected by claude; run `cliproxy login claude`"
    assert repo.secret(stored).refresh_token == OLD_REFRESH  # nothing dropped


@pytest.mark.anyio
async def test_transport_error_is_retried_once(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    endpoint.transport_failures = 1
    _, bundle = await refresher.refresh(account)
    assert endpoint.calls == 2
    assert bundle.access_token == "fake-ant-oat01-x-FAKE-new-2"


@pytest.mark.anyio
async def test_second_transport_error_becomes_oauth_error(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    endpoint.transport_failures = 2
    with pytest.raises(OAuthError, match="could not reach the claude token endpoint"):
        await refresher.refresh(account)
    assert endpoint.calls == 2
    assert repo.get(account.id).expired is False


@pytest.mark.anyio
async def test_proactive_refresh_failure_still_serves_a_valid_token(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo, expires_in=600)
    endpoint.server_error_for.add(OLD_REFRESH)
    _, bundle = await refresher.credentials(account)
    assert bundle.access_token == OLD_ACCESS
    await refresher.credentials(account)
    assert endpoint.calls == 1  # backs off instead of hammering the token endpoint


@pytest.mark.anyio
async def test_refresh_due_skips_disabled_expired_and_api_key_accounts(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    add_claude(repo, "claude-a-failing", expires_in=60, refresh_token="FAKE-refresh-fails")
    endpoint.server_error_for.add("FAKE-refresh-fails")
    add_claude(repo, "claude-b-due", expires_in=60)
    add_claude(repo, "claude-c-disabled", expires_in=60, disabled=True)
    add_claude(repo, "claude-d-expired", expires_in=60, expired=True)
    add_claude(repo, "claude-e-fresh", expires_in=10 * 86400)
    repo.save(Account(id="iflow-key-only", provider=ProviderName.IFLOW, expires_at=START + 60),
              TokenBundle(api_key="sk-FAKE-iflow-key"))
    refreshed = await refresher.refresh_due()
    assert refreshed == ["claude-b-due"]
    assert endpoint.calls == 2  # the failing one and the due one, nothing else
    assert repo.secret(repo.get("claude-b-due")).access_token.startswith("fake-ant-oat01-x-FAKE-new")
    assert repo.get("claude-a-failing").expired is False
    assert await refresher.refresh_due() == []  # the failure waits before its next attempt


@pytest.mark.anyio
async def test_secrets_never_reach_logs_or_errors(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint,
    secret_log: pytest.LogCaptureFixture,
) -> None:
    account = add_claude(repo)
    _, bundle = await refresher.refresh(account)
    endpoint.revoked.add(bundle.refresh_token)
    with pytest.raises(TokenRevokedError) as revoked:
        await refresher.refresh(account)
    endpoint.transport_failures = 2
    with pytest.raises(OAuthError) as unreachable:
        await refresher.refresh(account)
    assert "refresh ok account=claude-user-example.com" in secret_log.text
    texts = [secret_log.text, str(revoked.value), revoked.value.hint or "",
             str(unreachable.value), unreachable.value.hint or ""]
    for secret in (OLD_ACCESS, OLD_REFRESH, bundle.access_token, bundle.refresh_token):
        for text in texts:
            assert secret not in text


@pytest.mark.anyio
async def test_refresh_takes_the_cross_process_lock_file(
    repo: AccountRepository, refresher: TokenRefresher
) -> None:
    account = add_claude(repo)
    await refresher.refresh(account)
    assert refresher.lock_dir == repo.index_file.parent / "locks"
    assert (refresher.lock_dir / "claude-user-example.com.lock").exists()


def hold_lock_in_another_process(path: Path) -> subprocess.Popen[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    code = ("import fcntl, sys\n"
            f"f = open({str(path)!r}, 'a+b')\n"
            "fcntl.flock(f.fileno(), fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.anyio
async def test_refresh_waits_for_another_process_and_rereads_the_store(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    proc = hold_lock_in_another_process(refresher.lock_dir / f"{account.id}.lock")
    try:
        waiting = asyncio.ensure_future(refresher.refresh(account, failed_token=OLD_ACCESS))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not waiting.done()
        # meanwhile "the other process" refreshes and writes back
        repo.put_secret(account, TokenBundle(access_token="fake-ant-oat01-x-FAKE-other-process",
                                             refresh_token="fake-ant-ort01-x-FAKE-other-process"))
    finally:
        release(proc)
    _, bundle = await waiting
    assert bundle.access_token == "fake-ant-oat01-x-FAKE-other-process"
    assert endpoint.calls == 0


@pytest.mark.anyio
async def test_lock_held_too_long_is_a_clean_error(
    repo: AccountRepository, endpoint: FakeClaudeTokenEndpoint, clock: FakeClock
) -> None:
    account = add_claude(repo)
    async with httpx.AsyncClient(transport=httpx.MockTransport(endpoint)) as client:
        refresher = TokenRefresher(repo, ENDPOINTS, client=client, clock=clock,
                                   lock_timeout=0.1)
        proc = hold_lock_in_another_process(refresher.lock_dir / f"{account.id}.lock")
        try:
            with pytest.raises(OAuthError, match="another cliproxy process"):
                await refresher.refresh(account)
        finally:
            release(proc)
    assert endpoint.calls == 0


@pytest.mark.anyio
async def test_a_cancelled_waiter_does_not_cancel_the_refresh(
    repo: AccountRepository, refresher: TokenRefresher, endpoint: FakeClaudeTokenEndpoint
) -> None:
    account = add_claude(repo)
    endpoint.release.clear()
    first = asyncio.ensure_future(refresher.refresh(account, failed_token=OLD_ACCESS))
    second = asyncio.ensure_future(refresher.refresh(account, failed_token=OLD_ACCESS))
    await asyncio.sleep(0)
    first.cancel()
    endpoint.release.set()
    _, bundle = await second
    assert bundle.access_token == "fake-ant-oat01-x-FAKE-new-1"
    assert endpoint.calls == 1
    with pytest.raises(asyncio.CancelledError):
        await first
