"""`accounts list` says why an account rests, from the running server's published state."""

from __future__ import annotations

import json
import os
import time

from typer.testing import CliRunner

from cliproxy_cli.accounts.model import Account, AccountStatus, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.cli.app import app
from cliproxy_cli.paths import resolve_paths, write_private
from cliproxy_cli.routing.eligibility import eligibility
from cliproxy_cli.server_state import state_file


def test_eligibility_reasons() -> None:
    now = 1000.0
    acc = Account("claude-a", ProviderName.CLAUDE)
    assert eligibility(acc, [], now).status is AccountStatus.ACTIVE
    assert eligibility(acc.replace(disabled=True), [], now).status is AccountStatus.DISABLED
    expired = eligibility(acc.replace(expired=True), [], now)
    assert expired.status is AccountStatus.EXPIRED and "cliproxy login claude" in expired.reason
    cd = [{"credential": "claude-a", "scope": "claude-sonnet-4-6", "until": 1060,
           "reason": "quota", "message": "rate limited"}]
    cooling = eligibility(acc, cd, now)
    assert cooling.status is AccountStatus.COOLING and cooling.until == 1060
    assert "for claude-sonnet-4-6" in cooling.reason and "quota" in cooling.reason
    assert eligibility(acc, cd, 2000).status is AccountStatus.ACTIVE  # healed
    excluded = eligibility(acc.replace(excluded_models=("*haiku*",)), [], now)
    assert "*haiku*" in excluded.reason


def test_accounts_list_shows_server_cooldowns() -> None:
    paths = resolve_paths()
    repo = open_repository(paths, "auto")
    repo.save(Account("claude-a", ProviderName.CLAUDE), TokenBundle(access_token="t" * 20))
    doc = {"pid": os.getpid(), "written_at": time.time(), "cooldowns": [
        {"credential": "claude-a", "scope": "*", "until": time.time() + 300, "reason": "auth",
         "message": "claude answered 401"}]}
    write_private(state_file(paths), json.dumps(doc).encode())
    result = CliRunner().invoke(app, ["accounts", "list", "--json"])
    data = json.loads(result.stdout)
    assert data[0]["status"] == "cooling"
    assert "401" in data[0]["status_reason"]
    doc["pid"] = 2**22 + 12345  # a writer that is gone: its snapshot is ignored
    write_private(state_file(paths), json.dumps(doc).encode())
    data = json.loads(CliRunner().invoke(app, ["accounts", "list", "--json"]).stdout)
    assert data[0]["status"] == "active"
