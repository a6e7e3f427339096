"""`cliproxy accounts import` and `cliproxy accounts refresh` through the Typer app."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import AccountRepository, open_repository
from cliproxy_cli.cli import render
from cliproxy_cli.cli.app import app
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.oauth.clients import CLAUDE
from cliproxy_cli.paths import resolve_paths

DATA = Path(__file__).parent.parent / "data" / "cliproxyapi_auth"
OLD_ACCESS = "fake-ant-oat01-x-FAKE-cli-old-access"
OLD_REFRESH = "fake-ant-ort01-x-FAKE-cli-old-refresh"
NEW_REFRESH = "fake-ant-ort01-x-FAKE-cli-new-refresh"


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # STATE caches the config and repository of the process; each test has its own home.
    monkeypatch.setattr(STATE, "_loaded", None)
    monkeypatch.setattr(STATE, "_repo", None)
    render.reset_consoles()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def repository() -> AccountRepository:
    return open_repository(resolve_paths(), "auto")


class FakeClaudeTokenServer(ThreadingHTTPServer):
    """Claude's token endpoint on 127.0.0.1: checks the refresh grant, rotates or revokes."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TokenHandler)
        self.bodies: list[dict[str, Any]] = []
        self.revoked = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/oauth/token"


class _TokenHandler(BaseHTTPRequestHandler):
    server: FakeClaudeTokenServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.bodies.append(body)
        ok = (self.path == "/v1/oauth/token"
              and self.headers["Content-Type"] == "application/json"
              and body == {"client_id": CLAUDE.client_id, "grant_type": "refresh_token",
                           "refresh_token": OLD_REFRESH})
        if self.server.revoked or not ok:
            self._answer(400, {"error": "invalid_grant",
                               "error_description": "Refresh token not found or invalid"})
            return
        self._answer(200, {"token_type": "Bearer", "access_token": "fake-ant-oat01-x-FAKE-cli-new",
                           "refresh_token": NEW_REFRESH, "expires_in": 28800,
                           "account": {"email_address": "cli@example.com"}})

    def _answer(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def token_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClaudeTokenServer]:
    server = FakeClaudeTokenServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("CLIPROXY_ENDPOINT_CLAUDE_TOKEN", server.url)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def add_claude_account() -> Account:
    account = Account(id="claude-cli-example.com", provider=ProviderName.CLAUDE,
                      email="cli@example.com", expires_at=1.0)
    return repository().save(account, TokenBundle(access_token=OLD_ACCESS,
                                                  refresh_token=OLD_REFRESH))


# -- import ---------------------------------------------------------------------------------


def test_import_folder_prints_a_line_per_file_and_a_summary(
    runner: CliRunner, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["accounts", "import", str(DATA)])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "✓ added claude-claude-user@example.com" in out
    assert "✓ added gemini-multi@example.com-proj-beta" in out
    assert "skipped (kimi-1760000000000.json): type 'kimi' is not a provider" in out
    assert "8 added, 3 skipped" in out
    assert "Error" not in result.stderr
    for secret in ("FAKE-claude-refresh", "sk-FAKE-iflow-api-key"):
        assert secret not in result.output


def test_import_twice_reports_unchanged(runner: CliRunner) -> None:
    runner.invoke(app, ["accounts", "import", str(DATA)])
    render.reset_consoles()
    result = runner.invoke(app, ["accounts", "import", str(DATA)])
    assert result.exit_code == 0
    assert "✓ unchanged claude-claude-user@example.com" in result.stdout
    assert "8 unchanged, 3 skipped" in result.stdout
    assert len(repository().list()) == 8


def test_import_json_output(runner: CliRunner) -> None:
    result = runner.invoke(app, ["accounts", "import", str(DATA / "qwen-my-alias.json"),
                                 "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["results"] == [{"file": str(DATA / "qwen-my-alias.json"), "status": "added",
                               "account_id": "qwen-my-alias", "reason": ""}]
    assert doc["counts"] == {"added": 1, "updated": 0, "unchanged": 0, "skipped": 0,
                             "error": 0}


def test_import_fails_only_when_every_file_failed(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["accounts", "import", str(DATA / "invalid")])
    assert result.exit_code == 1
    assert result.stdout.count("✗ error") == 3
    assert "not valid JSON" in result.stdout
    assert "no file could be imported" in result.stderr
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(DATA / "invalid" / "broken.json", mixed)
    shutil.copy(DATA / "qwen-my-alias.json", mixed)
    render.reset_consoles()
    result = runner.invoke(app, ["accounts", "import", str(mixed)])
    assert result.exit_code == 0
    assert "1 added, 1 error" in result.stdout


def test_import_empty_folder_and_missing_path(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["accounts", "import", str(tmp_path)])
    assert result.exit_code == 1
    assert "no CLIProxyAPI auth files" in result.stderr
    result = runner.invoke(app, ["accounts", "import", str(tmp_path / "missing")])
    assert result.exit_code == 2  # a usage error: the path does not exist
    assert "Invalid value" in result.stderr


# -- refresh --------------------------------------------------------------------------------


def test_refresh_prints_the_new_expiry(
    runner: CliRunner, token_server: FakeClaudeTokenServer
) -> None:
    account = add_claude_account()
    result = runner.invoke(app, ["accounts", "refresh", account.id])
    assert result.exit_code == 0, result.output
    assert f"✓ refreshed {account.id}; the new token expires at" in result.stdout
    assert "(in 7h 59m)" in result.stdout or "(in 8h 0m)" in result.stdout
    assert len(token_server.bodies) == 1
    stored = repository().get(account.id)
    bundle = repository().secret(stored)
    assert (bundle.access_token, bundle.refresh_token) == ("fake-ant-oat01-x-FAKE-cli-new",
                                                           NEW_REFRESH)
    assert stored.last_refresh_at is not None
    for secret in (OLD_ACCESS, OLD_REFRESH, NEW_REFRESH, "fake-ant-oat01-x-FAKE-cli-new"):
        assert secret not in result.output


def test_refresh_json(runner: CliRunner, token_server: FakeClaudeTokenServer) -> None:
    account = add_claude_account()
    result = runner.invoke(app, ["accounts", "refresh", account.id, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["id"] == account.id
    assert doc["provider"] == "claude"
    assert 28790 <= doc["expires_in"] <= 28800
    assert doc["expires_at"] == pytest.approx(doc["last_refresh_at"] + 28800)


def test_refresh_of_a_revoked_token_marks_expired_and_hints_login(
    runner: CliRunner, token_server: FakeClaudeTokenServer
) -> None:
    account = add_claude_account()
    token_server.revoked = True
    result = runner.invoke(app, ["accounts", "refresh", account.id])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert "refresh token was rejected (invalid_grant)" in result.stderr
    assert "run `cliproxy login claude`" in result.stderr
    assert "not found or invalid" not in result.stderr
    render.reset_consoles()
    listed = runner.invoke(app, ["accounts", "list", "--json"])
    (entry,) = json.loads(listed.stdout)
    assert entry["status"] == "expired"
    assert entry["status_reason"] == \
        "refresh token rejected by claude; run `cliproxy login claude`"


def test_refresh_of_an_unknown_account(runner: CliRunner) -> None:
    result = runner.invoke(app, ["accounts", "refresh", "nobody"])
    assert result.exit_code == 3
    assert "no account with id 'nobody'" in result.stderr
    assert "cliproxy accounts list" in result.stderr


def test_refresh_with_the_token_endpoint_down(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = add_claude_account()
    monkeypatch.setenv("CLIPROXY_ENDPOINT_CLAUDE_TOKEN", "http://127.0.0.1:9/v1/oauth/token")
    result = runner.invoke(app, ["accounts", "refresh", account.id])
    assert result.exit_code == 4
    assert "could not reach the claude token endpoint" in result.stderr
    assert repository().get(account.id).expired is False
