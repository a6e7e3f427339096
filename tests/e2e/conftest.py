"""A fake upstream and a real cliproxy server, both on 127.0.0.1, for the e2e tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cliproxy_cli.config import load_config
from cliproxy_cli.server.app import create_app
from tests.fakes.upstreams import FakeUpstream
from tests.harness import serve_in_thread

CLIENT_KEY = "test-client-key-0123"


@dataclasses.dataclass
class Stack:
    proxy: str
    upstream: str
    fake: FakeUpstream
    app: Any


def api_key_config(upstream: str, **extra: Any) -> dict[str, Any]:
    return {
        "api-keys": [CLIENT_KEY],
        "claude-api-key": [{"api-key": "sk-ant-fake-claude", "base-url": upstream}],
        "gemini-api-key": [{"api-key": "fake-gemini-key", "base-url": upstream}],
        "codex-api-key": [{"api-key": "sk-fake-codex", "base-url": upstream + "/v1"}],
        "openai-compatibility": [{
            "name": "fakechat", "base-url": upstream + "/v1",
            "api-key-entries": [{"api-key": "sk-fake-compat"}],
            "models": [{"name": "fake-chat-model"}, {"name": "upstream-name", "alias": "chat-alias"}],
        }],
        **extra,
    }


def start_stack(home: Path, make_config: Any = api_key_config) -> Iterator[Stack]:
    fake = FakeUpstream()
    with serve_in_thread(fake) as upstream:
        config_file = home / "config.yaml"
        config_file.write_text(yaml.safe_dump(make_config(upstream)))
        loaded = load_config(str(config_file), environ={"CLIPROXY_HOME": str(home)})
        app = create_app(loaded, reload_interval=0.2)
        with serve_in_thread(app) as proxy:
            yield Stack(proxy, upstream, fake, app)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from start_stack(tmp_path_factory.mktemp("stack-home"))


@pytest.fixture(autouse=True)
def _reset_fake(stack: Stack) -> None:
    stack.fake.requests.clear()
    stack.fake.fault_plan.clear()
