"""The command tree: --help everywhere, config and accounts commands, models list, serve guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.main import get_command
from typer.testing import CliRunner

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.cli import render
from cliproxy_cli.cli.app import app
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.paths import resolve_paths

runner = CliRunner()


@pytest.fixture(autouse=True)
def _fresh_state() -> None:
    STATE.config_path = None
    STATE._loaded = None
    STATE._repo = None
    render.reset_consoles()


def invoke(*args: str, input: str | None = None):
    STATE._loaded = None
    STATE._repo = None
    render.reset_consoles()
    return runner.invoke(app, list(args), input=input)


def _walk(cmd, prefix: list[str]):
    yield prefix
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _walk(sub, [*prefix, name])


def test_help_on_every_command() -> None:
    paths = list(_walk(get_command(app), []))
    assert len(paths) > 10
    for path in paths:
        result = invoke(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


def test_config_path_and_show_defaults(cliproxy_home: Path) -> None:
    result = invoke("config", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(cliproxy_home / "config.yaml")
    shown = invoke("config", "show", "--json")
    data = json.loads(shown.stdout)
    assert data["port"] == 8317 and data["host"] == "127.0.0.1"
    assert data["endpoints"]["claude.api"]["url"] == "https://api.anthropic.com"


def test_config_show_redacts_secrets(cliproxy_home: Path, monkeypatch) -> None:
    (cliproxy_home / "config.yaml").write_text(yaml.safe_dump({
        "api-keys": ["my-client-key-123456"],
        "claude-api-key": [{"api-key": "fake-ant-api03-x-topsecret-0000"}],
        "openai-compatibility": [{"name": "x", "base-url": "http://x",
                                  "api-key-entries": [{"api-key": "sk-compat-secret-99"}]}],
    }))
    monkeypatch.setenv("CLIPROXY_ENDPOINT_CLAUDE_API", "http://127.0.0.1:9")
    for args in (("config", "show"), ("config", "show", "--json")):
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        for secret in ("my-client-key-123456", "topsecret", "sk-compat-secret-99"):
            assert secret not in result.output
    data = json.loads(invoke("config", "show", "--json").stdout)
    assert data["endpoints"]["claude.api"] == {"url": "http://127.0.0.1:9", "overridden": True}


def test_config_init_and_check(cliproxy_home: Path) -> None:
    result = invoke("config", "init")
    assert result.exit_code == 0
    target = cliproxy_home / "config.yaml"
    assert target.exists() and (target.stat().st_mode & 0o777) == 0o600
    assert invoke("config", "init").exit_code != 0
    assert invoke("config", "check").exit_code == 0
    bad = cliproxy_home / "bad.yaml"
    bad.write_text("routing:\n  strategy: sometimes\n")
    result = invoke("config", "check", str(bad))
    assert result.exit_code == 2
    assert "routing.strategy" in result.output


def test_missing_explicit_config_is_one_line_error(tmp_path: Path) -> None:
    result = invoke("--config", str(tmp_path / "missing.yaml"), "config", "show")
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def _seed() -> None:
    repo = open_repository(resolve_paths(), "auto")
    repo.save(Account("claude-alice", ProviderName.CLAUDE, email="alice@example.com"),
              TokenBundle(access_token="fake-ant-x-secret-alice"))
    repo.save(Account("qwen-bob", ProviderName.QWEN, label="bob"),
              TokenBundle(access_token="qwen-secret-bob"))


def test_accounts_list_json_and_table() -> None:
    assert "No accounts" in invoke("accounts", "list").stdout
    _seed()
    data = json.loads(invoke("accounts", "list", "--json").stdout)
    assert [a["id"] for a in data] == ["claude-alice", "qwen-bob"]
    assert data[0]["status"] == "active" and data[0]["store"] == "keyring"
    table = invoke("accounts", "list")
    assert table.exit_code == 0 and "alice@example.com" in table.stdout
    for out in (table.output, json.dumps(data)):
        assert "secret-alice" not in out


def test_accounts_show_disable_enable_remove() -> None:
    _seed()
    shown = json.loads(invoke("accounts", "show", "claude", "--json").stdout)
    assert shown["id"] == "claude-alice"
    assert invoke("accounts", "disable", "claude-alice").exit_code == 0
    data = json.loads(invoke("accounts", "list", "--json").stdout)
    assert data[0]["status"] == "disabled"
    assert invoke("accounts", "enable", "claude-alice").exit_code == 0
    data = json.loads(invoke("accounts", "list", "--json").stdout)
    assert data[0]["status"] == "active" and data[0]["reset_at"]
    assert invoke("accounts", "remove", "qwen-bob", "--yes").exit_code == 0
    result = invoke("accounts", "show", "qwen-bob")
    assert result.exit_code != 0 and "no account" in result.output


def test_models_list_from_config_and_accounts(cliproxy_home: Path) -> None:
    (cliproxy_home / "config.yaml").write_text(yaml.safe_dump({
        "openai-compatibility": [{"name": "oc", "base-url": "http://x",
                                  "models": [{"name": "m1", "alias": "alias-1"}]}]}))
    _seed()
    data = json.loads(invoke("models", "list", "--json").stdout)
    ids = {m["id"] for m in data}
    assert {"alias-1", "claude-sonnet-4-6", "qwen3-coder-plus"} <= ids
    only = json.loads(invoke("models", "list", "--provider", "qwen", "--json").stdout)
    assert {m["id"] for m in only} == {"qwen3-coder-plus", "qwen3-coder-flash", "coder-model",
                                       "vision-model"}


def test_serve_refuses_public_bind_without_keys() -> None:
    result = invoke("serve", "--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "refusing to listen" in result.output


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0 and "cliproxy" in result.stdout


def test_unused_typer_import() -> None:
    assert isinstance(app, typer.Typer)
