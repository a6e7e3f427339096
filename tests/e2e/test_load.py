"""Load: 500 concurrent streams over 3 accounts while one answers 429, with a config hot reload
in the middle: every request completes correctly, none is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import yaml

from cliproxy_cli.config import load_config
from cliproxy_cli.server.app import create_app
from tests.e2e.conftest import CLIENT_KEY
from tests.fakes.upstreams import FakeUpstream
from tests.formats.validate_anthropic import validate_stream
from tests.harness import serve_in_thread

N = 500


def _config(upstream: str, keys: list[str], strategy: str) -> dict:
    return {"api-keys": [CLIENT_KEY], "routing": {"strategy": strategy},
            "claude-api-key": [{"api-key": k, "base-url": upstream} for k in keys]}


async def _one(client: httpx.AsyncClient, i: int) -> str:
    body = {"model": "claude-sonnet-4-6", "max_tokens": 32, "stream": True,
            "messages": [{"role": "user", "content": f"request {i}"}]}
    r = await client.post("/v1/messages", json=body)
    assert r.status_code == 200, r.text
    events = validate_stream(r.content)
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    return text


@pytest.mark.anyio
async def test_500_concurrent_streams_one_account_429_with_hot_reload(tmp_path: Path) -> None:
    fake = FakeUpstream(faults_by_key={"sk-key-1": "fault-429"})
    with serve_in_thread(fake) as upstream:
        cfg = tmp_path / "config.yaml"
        keys = ["sk-key-1", "sk-key-2", "sk-key-3"]
        cfg.write_text(yaml.safe_dump(_config(upstream, keys, "round-robin")))
        loaded = load_config(str(cfg), environ={"CLIPROXY_HOME": str(tmp_path)})
        app = create_app(loaded, reload_interval=0.05)
        with serve_in_thread(app) as proxy:
            limits = httpx.Limits(max_connections=N, max_keepalive_connections=N)
            async with httpx.AsyncClient(base_url=proxy, limits=limits, timeout=60,
                                         headers={"x-api-key": CLIENT_KEY}) as client:
                tasks = [asyncio.ensure_future(_one(client, i)) for i in range(N)]
                await asyncio.sleep(0.2)
                cfg.write_text(yaml.safe_dump(
                    _config(upstream, [*keys, "sk-key-4"], "fill-first")))
                results = await asyncio.gather(*tasks, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert sorted(results) == sorted(f"anthropic says: request {i}" for i in range(N))
    served = [r for r in fake.requests if "sk-key-1" not in r.headers.get("x-api-key", "")]
    assert len(served) == N  # each request answered exactly once by a healthy account
    assert app.state.runtime.config.routing_strategy == "fill-first"  # the reload happened
