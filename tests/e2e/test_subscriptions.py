"""Subscription upstreams end to end: a real server whose endpoints point at the subscription
fakes, two accounts per provider imported from CLIProxyAPI auth files, and the official SDKs.

- every SDK (OpenAI chat and Responses, Anthropic, google-genai) × every subscription provider ×
  stream/JSON × text/tool/tool follow-up, through the fakes' checks of each vendor's contract;
- per provider: a 429 with its reset cools that account for the stated time and the request
  moves to the other account; both accounts at 429 give a 429 in the caller's format with
  ``Retry-After``; a 401 is healed by exactly one refresh at the vendor's token endpoint; a 5xx is
  retried on the other account; a stream fails over before its first byte;
- count_tokens through the upstreams that count, and ``fetch_quota`` against each usage endpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from cliproxy_cli.accounts.importer import import_path
from cliproxy_cli.accounts.repo import AccountRepository, open_repository
from cliproxy_cli.config import load_config
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.oauth.refresh import TokenRefresher
from cliproxy_cli.providers.quota import fetch_quota
from cliproxy_cli.providers.qwen import seconds_to_beijing_midnight
from cliproxy_cli.routing.cooldown import MAX_HINT
from cliproxy_cli.routing.state import InMemoryState
from cliproxy_cli.server.app import create_app
from tests.e2e.conftest import CLIENT_KEY
from tests.e2e.test_matrix import CLIENTS as SDK_CLIENTS
from tests.fakes.oauth_servers import make_jwt
from tests.fakes.subscriptions import GOOGLE_CLIENT_ID, FakeSubscriptions
from tests.harness import serve_in_thread

MODELS = {"gemini": "gemini-2.5-flash", "claude": "claude-sonnet-4-6", "codex": "gpt-5",
          "qwen": "coder-model", "iflow": "glm-4.6"}
FAMILY = {"gemini": "gemini", "claude": "anthropic", "codex": "responses", "qwen": "chat",
          "iflow": "chat"}
DAY = 86400


@dataclass
class Subs:
    proxy: str
    fake: FakeSubscriptions
    state: InMemoryState
    repo: AccountRepository
    endpoints: EndpointTable


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def write_auth_files(folder: Path, fake: FakeSubscriptions, now: float) -> None:
    """Two accounts per provider, in CLIProxyAPI's real file shapes, with the fakes' tokens."""
    folder.mkdir()
    expiry, refreshed = _iso(now + 30 * DAY), _iso(now)
    files: dict[str, dict[str, Any]] = {}
    for key in ("a", "b"):
        g = fake.gemini.add_account(key, project=f"proj-{key}")
        files[f"gemini-gem-{key}@example.com-proj-{key}.json"] = {
            "token": {"access_token": g.access, "token_type": "Bearer",
                      "refresh_token": g.refresh, "expiry": expiry, "expires_in": 3599,
                      "token_uri": "https://oauth2.googleapis.com/token",
                      "client_id": GOOGLE_CLIENT_ID,
                      "client_secret": "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",
                      "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
                      "universe_domain": "googleapis.com"},
            "project_id": f"proj-{key}", "email": f"gem-{key}@example.com", "auto": False,
            "checked": True, "type": "gemini"}
        c = fake.claude.add_account(key)
        files[f"claude-claude-{key}@example.com.json"] = {
            "id_token": "", "access_token": c.access, "refresh_token": c.refresh,
            "last_refresh": refreshed, "email": f"claude-{key}@example.com", "type": "claude",
            "expired": expiry}
        account_id = f"0000000{key}-1111-2222-3333-444444444444"
        x = fake.codex.add_account(key, account_id=account_id)
        id_token = make_jwt({"email": f"codex-{key}@example.com", "https://api.openai.com/auth": {
            "chatgpt_account_id": account_id, "chatgpt_plan_type": "plus"}})
        files[f"codex-codex-{key}@example.com-plus.json"] = {
            "id_token": id_token, "access_token": x.access, "refresh_token": x.refresh,
            "account_id": account_id, "last_refresh": refreshed,
            "email": f"codex-{key}@example.com", "type": "codex", "expired": expiry}
        q = fake.qwen.add_account(key)
        files[f"qwen-alias-{key}.json"] = {
            "access_token": q.access, "refresh_token": q.refresh, "last_refresh": refreshed,
            "resource_url": "portal.qwen.ai", "email": f"alias-{key}", "type": "qwen",
            "expired": expiry}
        phone = f"1380000000{ord(key) - 96}"
        i = fake.iflow.add_account(key, api_key=f"sk-iflow-{key}-0")
        files[f"iflow-{phone}-1760000000.json"] = {
            "access_token": i.access, "refresh_token": i.refresh, "last_refresh": refreshed,
            "expired": expiry, "api_key": i.api_key, "email": phone, "token_type": "bearer",
            "scope": "read", "cookie": "", "type": "iflow"}
    for name, doc in files.items():
        (folder / name).write_text(json.dumps(doc, indent=2))


class _ClosingApp:
    """The app, closing the refresher's HTTP client on its own loop at lifespan shutdown."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app, self.client = app, client

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def closing_send(message: dict[str, Any]) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                await self.client.aclose()
            await send(message)

        await self.app(scope, receive, closing_send)


@pytest.fixture(scope="module")
def subs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Subs]:
    home = tmp_path_factory.mktemp("subs-home")
    fake = FakeSubscriptions()
    with serve_in_thread(fake) as base:
        write_auth_files(home / "cli-proxy-api", fake, time.time())
        (home / "config.yaml").write_text(yaml.safe_dump(
            {"api-keys": [CLIENT_KEY], "credential-store": "file", "request-retry": 3}))
        loaded = load_config(str(home / "config.yaml"),
                             environ={"CLIPROXY_HOME": str(home), **fake.environ(base)})
        repo = open_repository(loaded.paths, loaded.config.credential_store)
        results = import_path(repo, home / "cli-proxy-api")
        assert [r.status for r in results] == ["added"] * 10, results
        token_client = httpx.AsyncClient(timeout=10.0)
        state = InMemoryState()
        app = create_app(loaded, repo=repo, state=state, reload_interval=0.2,
                         tokens=TokenRefresher(repo, loaded.endpoints, client=token_client))
        with serve_in_thread(_ClosingApp(app, token_client)) as proxy:
            yield Subs(proxy, fake, state, repo, loaded.endpoints)


@pytest.fixture(autouse=True)
def _fresh(subs: Subs) -> None:
    subs.fake.clear()
    for credential_id, _ in list(subs.state.cooldowns()):
        subs.state.clear_cooldowns(credential_id)


@pytest.fixture(scope="module")
def clients(subs: Subs) -> Iterator[dict[str, Any]]:
    # The adapters only read `.proxy` of the stack they are given.
    made: dict[str, Any] = {name: make(subs)  # type: ignore[arg-type]
                            for name, make in SDK_CLIENTS.items()}
    yield made
    for adapter in made.values():
        adapter.c.close()


@pytest.fixture(scope="module")
def chat(subs: Subs) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=subs.proxy + "/v1", api_key=CLIENT_KEY, max_retries=0) as client:
        yield client


# --- the SDK matrix ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["text", "tool", "followup"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("provider", list(MODELS))
@pytest.mark.parametrize("client", list(SDK_CLIENTS))
def test_sdk_through_subscription(clients: dict[str, Any], subs: Subs, client: str,
                                  provider: str, stream: bool, case: str) -> None:
    family = FAMILY[provider]
    result = clients[client].run(MODELS[provider], case, stream)
    if case == "tool":
        assert len(result.calls) == 1, result
        _, name, args = result.calls[0]
        assert name == "run_shell" and args == {"command": "echo hi"}
    elif case == "followup":
        assert result.text == f"{family} got tool result: hi from tool"
    else:
        assert result.text == f"{family} says: describe"
    vendor = subs.fake.vendors[provider]
    assert vendor.served_by() in (["a"], ["b"])


# --- what each vendor's contract adds ----------------------------------------------------------


def test_claude_keeps_the_client_system_after_the_claude_code_prompt(subs: Subs) -> None:
    r = httpx.post(subs.proxy + "/v1/messages", headers={"x-api-key": CLIENT_KEY}, json={
        "model": "claude-sonnet-4-6", "max_tokens": 32, "system": "Be brief.",
        "messages": [{"role": "user", "content": "hello"}]})
    assert r.status_code == 200, r.text
    sent = subs.fake.claude.inference()[-1]
    assert [b["text"] for b in sent.body["system"]] == [
        "You are Claude Code, Anthropic's official CLI for Claude.", "Be brief."]
    assert sent.path == "/v1/messages" and sent.query == {"beta": "true"}
    assert sent.headers["authorization"].startswith("Bearer claude-")


def test_codex_non_stream_client_is_served_from_the_stream(subs: Subs,
                                                          chat: openai.OpenAI) -> None:
    resp = chat.chat.completions.create(
        model="gpt-5", max_tokens=50, temperature=0.3,
        messages=[{"role": "system", "content": "rules"}, {"role": "user", "content": "hello"}])
    assert resp.choices[0].message.content == "responses says: hello"
    sent = subs.fake.codex.inference()[-1]
    assert sent.body["stream"] is True and sent.body["store"] is False
    assert sent.headers["originator"] == "codex_cli_rs"
    assert sent.headers["chatgpt-account-id"].endswith("-1111-2222-3333-444444444444")


def test_gemini_sends_the_accounts_project(subs: Subs, chat: openai.OpenAI) -> None:
    for _ in range(2):
        chat.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "hello"}])
    projects = {r.body["project"] for r in subs.fake.gemini.inference()}
    assert projects == {"proj-a", "proj-b"}


def test_qwen_stream_without_tools_gets_the_dummy_tool(subs: Subs, chat: openai.OpenAI) -> None:
    stream = chat.chat.completions.create(
        model="coder-model", stream=True, messages=[{"role": "user", "content": "hello"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "chat says: hello"
    sent = subs.fake.qwen.inference()[-1]
    assert [t["function"]["name"] for t in sent.body["tools"]] == ["do_not_call_me"]


@pytest.mark.parametrize(("provider", "path", "body", "key"), [
    ("claude", "/v1/messages/count_tokens",
     {"model": "claude-sonnet-4-6", "messages": [{"role": "user", "content": "count me"}]},
     "input_tokens"),
    ("gemini", "/v1beta/models/gemini-2.5-flash:countTokens",
     {"contents": [{"role": "user", "parts": [{"text": "count me"}]}]}, "totalTokens"),
])
def test_count_tokens_reaches_the_subscription_upstream(subs: Subs, provider: str, path: str,
                                                        body: dict[str, Any], key: str) -> None:
    r = httpx.post(subs.proxy + path, json=body, headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert r.status_code == 200, r.text
    assert r.json()[key] > 0
    assert len(subs.fake.vendors[provider].inference()) == 1


# --- faults ------------------------------------------------------------------------------------

FORMATS = {"gemini": "anthropic", "claude": "openai_chat", "codex": "gemini",
           "qwen": "openai_responses", "iflow": "anthropic"}


def _send(subs: Subs, fmt: str, model: str) -> httpx.Response:
    auth = {"authorization": f"Bearer {CLIENT_KEY}"}
    text = "hello"
    if fmt == "openai_chat":
        return httpx.post(subs.proxy + "/v1/chat/completions", headers=auth, json={
            "model": model, "messages": [{"role": "user", "content": text}]}, timeout=20)
    if fmt == "openai_responses":
        return httpx.post(subs.proxy + "/v1/responses", headers=auth,
                          json={"model": model, "input": text}, timeout=20)
    if fmt == "anthropic":
        return httpx.post(subs.proxy + "/v1/messages", headers=auth, json={
            "model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]},
            timeout=20)
    return httpx.post(subs.proxy + f"/v1beta/models/{model}:generateContent", headers=auth,
                      json={"contents": [{"role": "user", "parts": [{"text": text}]}]},
                      timeout=20)


def _text(fmt: str, body: dict[str, Any]) -> str:
    if fmt == "openai_chat":
        return str(body["choices"][0]["message"]["content"])
    if fmt == "openai_responses":
        return "".join(c["text"] for o in body["output"] if o["type"] == "message"
                       for c in o["content"] if c["type"] == "output_text")
    if fmt == "anthropic":
        return "".join(b["text"] for b in body["content"] if b["type"] == "text")
    return "".join(p.get("text", "") for p in body["candidates"][0]["content"]["parts"])


def _is_rate_limit_error(fmt: str, body: dict[str, Any]) -> bool:
    error = body["error"]
    if fmt == "anthropic":
        return bool(body["type"] == "error" and error["type"] == "rate_limit_error")
    if fmt == "gemini":
        return bool(error["status"] == "RESOURCE_EXHAUSTED" and error["code"] == 429)
    return bool(error["type"] == "rate_limit_error")


def _expected_reset(provider: str) -> float:
    if provider == "qwen":  # Qwen's daily quota: midnight in Beijing (capped like any hint)
        return min(seconds_to_beijing_midnight(time.time()), MAX_HINT)
    return 3600.0


@pytest.mark.parametrize("provider", list(MODELS))
def test_429_with_reset_cools_the_account_and_moves_on(subs: Subs, provider: str) -> None:
    vendor, fmt = subs.fake.vendors[provider], FORMATS[provider]
    vendor.faults = ["429"]
    r = _send(subs, fmt, MODELS[provider])
    assert r.status_code == 200, r.text
    assert _text(fmt, r.json()) == f"{FAMILY[provider]} says: hello"
    first, second = vendor.served_by()
    assert first != second
    cooled = [(cid, cd) for (cid, _), cd in subs.state.cooldowns().items()]
    assert len(cooled) == 1 and cooled[0][1].reason == "quota"
    assert cooled[0][1].until - time.time() == pytest.approx(_expected_reset(provider), abs=60)


@pytest.mark.parametrize("provider", list(MODELS))
def test_every_account_at_429_is_a_429_in_the_callers_format(subs: Subs, provider: str) -> None:
    vendor, fmt = subs.fake.vendors[provider], FORMATS[provider]
    vendor.faults = ["429", "429"]
    r = _send(subs, fmt, MODELS[provider])
    assert r.status_code == 429, r.text
    assert _is_rate_limit_error(fmt, r.json()), r.text
    assert float(r.headers["retry-after"]) == pytest.approx(_expected_reset(provider), abs=60)
    assert sorted(vendor.served_by()) == ["a", "b"]


@pytest.mark.parametrize("provider", list(MODELS))
def test_401_is_healed_by_one_refresh(subs: Subs, provider: str) -> None:
    vendor, fmt = subs.fake.vendors[provider], FORMATS[provider]
    vendor.faults = ["401"]
    r = _send(subs, fmt, MODELS[provider])
    assert r.status_code == 200, r.text
    assert len(vendor.refreshes) == 1
    failed, replayed = vendor.inference()
    assert failed.bearer != replayed.bearer
    assert vendor.served_by()[0] == vendor.served_by()[1]
    assert subs.state.cooldowns() == {}


@pytest.mark.parametrize("provider", list(MODELS))
def test_5xx_is_retried_on_another_account(subs: Subs, provider: str) -> None:
    vendor, fmt = subs.fake.vendors[provider], FORMATS[provider]
    vendor.faults = ["500"]
    r = _send(subs, fmt, MODELS[provider])
    assert r.status_code == 200, r.text
    first, second = vendor.served_by()
    assert first != second
    assert [cd.reason for cd in subs.state.cooldowns().values()] == ["transient"]


@pytest.mark.parametrize("provider", list(MODELS))
def test_stream_fails_over_before_the_first_byte(subs: Subs, chat: openai.OpenAI,
                                                 provider: str) -> None:
    vendor = subs.fake.vendors[provider]
    vendor.faults = ["429"]
    stream = chat.chat.completions.create(
        model=MODELS[provider], stream=True, messages=[{"role": "user", "content": "hello"}])
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == f"{FAMILY[provider]} says: hello"
    assert len(set(vendor.served_by())) == 2


# --- quota --------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(("provider", "windows"), [
    ("claude", ["5h", "7d"]), ("codex", ["5h", "7d"]), ("gemini", ["gemini-2.5-pro"]),
    ("qwen", []), ("iflow", []),
])
async def test_fetch_quota_against_the_usage_endpoints(subs: Subs, provider: str,
                                                       windows: list[str]) -> None:
    account = next(a for a in subs.repo.list() if str(a.provider) == provider)
    async with httpx.AsyncClient() as client:
        report = await fetch_quota(client, subs.endpoints, account, subs.repo.secret(account))
    assert [w.name for w in report.windows] == windows
    assert report.known == bool(windows)
    if windows:
        assert all(w.used_percent is not None and w.resets_at for w in report.windows)
    else:
        assert report.note.startswith("unknown")
