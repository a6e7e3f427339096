"""Hot reload: accounts imported, disabled or removed by another process and config edits reach a
running server within seconds, without a restart."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from cliproxy_cli.accounts.importer import import_path
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.config import load_config
from cliproxy_cli.server.app import create_app
from tests.e2e.conftest import CLIENT_KEY, Stack
from tests.fakes.upstreams import FakeUpstream
from tests.harness import serve_in_thread

DATA = Path(__file__).resolve().parents[1] / "data" / "cliproxyapi_auth"
MSG = {"model": "claude-sonnet-4-6", "max_tokens": 8,
       "messages": [{"role": "user", "content": "hello"}]}


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Stack]:
    fake = FakeUpstream()
    with serve_in_thread(fake) as upstream:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({"api-keys": [CLIENT_KEY]}))
        env = {"CLIPROXY_HOME": str(tmp_path), "CLIPROXY_ENDPOINT_CLAUDE_API": upstream}
        loaded = load_config(str(cfg), environ=env)
        app = create_app(loaded, reload_interval=0.1)
        with serve_in_thread(app) as proxy:
            yield Stack(proxy, upstream, fake, app)


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _status(stack: Stack) -> int:
    return httpx.post(stack.proxy + "/v1/messages", json=MSG,
                      headers={"x-api-key": CLIENT_KEY}).status_code


def test_imported_account_is_served_then_disabled_then_removed(live: Stack, tmp_path: Path) -> None:
    assert _status(live) == 404
    src = tmp_path / "auth"
    src.mkdir()
    shutil.copy(DATA / "claude-claude-user@example.com.json", src)
    repo = open_repository(live.app.state.runtime.loaded.paths, "auto")
    (result,) = import_path(repo, src)
    assert result.status == "added"
    assert _eventually(lambda: _status(live) == 200)
    sent = live.fake.requests[-1]
    assert sent.headers["authorization"] == "Bearer fake-ant-oat01-x-FAKE-claude-access"
    repo.update(result.account_id, disabled=True)
    assert _eventually(lambda: _status(live) == 404)
    repo.update(result.account_id, disabled=False)
    assert _eventually(lambda: _status(live) == 200)
    repo.remove(result.account_id)
    assert _eventually(lambda: _status(live) == 404)


def test_config_edit_adds_an_upstream(live: Stack, tmp_path: Path) -> None:
    assert _status(live) == 404
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": "sk-ant-added-later", "base-url": live.upstream}]}))
    assert _eventually(lambda: _status(live) == 200)
    assert live.fake.requests[-1].headers["x-api-key"] == "sk-ant-added-later"


def test_broken_config_edit_keeps_the_running_config(live: Stack, tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": "sk-ant-ok", "base-url": live.upstream}]}))
    assert _eventually(lambda: _status(live) == 200)
    (tmp_path / "config.yaml").write_text("routing: {strategy: sometimes}\n")
    time.sleep(0.5)
    assert _status(live) == 200


def test_last_used_is_recorded_without_a_write_per_request(tmp_path: Path) -> None:
    fake = FakeUpstream()
    with serve_in_thread(fake) as upstream:
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({"api-keys": [CLIENT_KEY]}))
        env = {"CLIPROXY_HOME": str(tmp_path), "CLIPROXY_ENDPOINT_CLAUDE_API": upstream}
        loaded = load_config(str(cfg), environ=env)
        repo = open_repository(loaded.paths, "auto")
        src = tmp_path / "auth"
        src.mkdir()
        shutil.copy(DATA / "claude-claude-user@example.com.json", src)
        (result,) = import_path(repo, src)
        app = create_app(loaded, reload_interval=0.1)
        with serve_in_thread(app) as proxy:
            stack = Stack(proxy, upstream, fake, app)
            before = repo.version()
            for _ in range(5):
                assert _status(stack) == 200
            assert repo.version() == before  # no index write per request
    assert repo.get(result.account_id).last_used_at is not None  # flushed on shutdown


def test_empty_proxy_says_how_to_add_accounts(live: Stack) -> None:
    r = httpx.post(live.proxy + "/v1/chat/completions", headers={"x-api-key": CLIENT_KEY},
                   json={"model": "gpt-5", "messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 404
    assert "cliproxy login" in r.json()["error"]["message"]
