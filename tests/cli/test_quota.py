"""`accounts list --quota`: fetched from the provider with the account's token, cached briefly,
"unknown" where the provider has no quota endpoint."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.cli.app import app
from cliproxy_cli.paths import resolve_paths
from tests.harness import serve_in_thread

USAGE = {"five_hour": {"utilization": 40.0, "resets_at": "2030-01-01T00:00:00+00:00"},
         "seven_day": {"utilization": 10.0, "resets_at": None}}


class UsageStub:
    def __init__(self) -> None:
        self.auth: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                await send({"type": msg["type"] + ".complete"})
                if msg["type"] == "lifespan.shutdown":
                    return
        headers = dict(scope["headers"])
        self.auth.append(headers.get(b"authorization", b"").decode())
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(USAGE).encode()})


def test_quota_column_fetched_then_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    stub = UsageStub()
    repo = open_repository(resolve_paths(), "auto")
    far = time.time() + 30 * 86400
    repo.save(Account("claude-a", ProviderName.CLAUDE, email="a@x.y", expires_at=far),
              TokenBundle(access_token="sk-ant-oat01-usage-token", refresh_token="r"))
    repo.save(Account("qwen-b", ProviderName.QWEN, label="b", expires_at=far),
              TokenBundle(access_token="qwen-token-1234567"))
    with serve_in_thread(stub) as base:
        monkeypatch.setenv("CLIPROXY_ENDPOINT_CLAUDE_API", base)
        result = CliRunner().invoke(app, ["accounts", "list", "--quota", "--json"])
        assert result.exit_code == 0, result.output
        data = {a["id"]: a for a in json.loads(result.stdout)}
        claude = data["claude-a"]["quota"]
        assert [w["name"] for w in claude["windows"]] == ["5h", "7d"]
        assert "60% left" in claude["summary"]
        assert data["qwen-b"]["quota"]["summary"].startswith("unknown")
        assert stub.auth == ["Bearer sk-ant-oat01-usage-token"]
        table = CliRunner().invoke(app, ["accounts", "list", "--quota"])
        assert table.exit_code == 0 and "quota" in table.stdout
        assert len(stub.auth) == 1  # cached: no second fetch within the cache window
        assert "usage-token" not in table.output + result.output
