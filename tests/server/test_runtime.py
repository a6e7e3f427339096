"""The runtime's reaction to account changes made by another process."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.cli.app import app as cli
from cliproxy_cli.config import load_config
from cliproxy_cli.routing.state import Cooldown
from cliproxy_cli.server.app import create_app


def test_accounts_enable_ends_the_servers_cooldowns() -> None:
    loaded = load_config()
    repo = open_repository(loaded.paths, "auto")
    repo.save(Account("claude-a", ProviderName.CLAUDE), TokenBundle(access_token="t" * 20))
    app = create_app(loaded, repo=repo)
    rt = app.state.runtime
    rt.state.set_cooldown("claude-a", "*", Cooldown(until=time.time() + 3600, reason="auth",
                                                    level=0))
    rt.state.set_cooldown("claude-a", "claude-sonnet-4-6",
                          Cooldown(until=time.time() + 3600, reason="quota", level=2))
    time.sleep(0.01)  # a distinct mtime for the index write below
    result = CliRunner().invoke(cli, ["accounts", "enable", "claude-a"])
    assert result.exit_code == 0, result.output
    assert rt.reload_if_changed()
    assert rt.state.cooldowns() == {}


def test_disabled_account_leaves_the_registry_on_reload() -> None:
    loaded = load_config()
    repo = open_repository(loaded.paths, "auto")
    repo.save(Account("claude-a", ProviderName.CLAUDE), TokenBundle(access_token="t" * 20))
    rt = create_app(loaded, repo=repo).state.runtime
    assert rt.registry.resolve("claude-sonnet-4-6")
    time.sleep(0.01)
    repo.update("claude-a", disabled=True)
    assert rt.reload_if_changed()
    assert rt.registry.resolve("claude-sonnet-4-6") == ()
