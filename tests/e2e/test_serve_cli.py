"""`cliproxy serve` as a user runs it: a real subprocess, an API-key entry honouring base-url,
headers and proxy-url, and a graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import pytest
import yaml

from tests.fakes.upstreams import FakeUpstream
from tests.harness import serve_in_thread


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(home: Path, config: dict) -> tuple[subprocess.Popen[bytes], str]:
    cfg = home / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPROXY_")}
    env.update(CLIPROXY_HOME=str(home), PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    proc = subprocess.Popen([sys.executable, "-m", "cliproxy_cli", "serve", "--config", str(cfg),
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(proc.communicate()[1].decode())


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_subprocess_headers_proxy_url_and_graceful_stop(tmp_path: Path, sig) -> None:
    fake = FakeUpstream()
    with serve_in_thread(fake) as upstream:
        proc, base = _start(tmp_path, {
            "claude-api-key": [{
                "api-key": "sk-ant-fake-key", "base-url": "http://upstream.invalid:9",
                "proxy-url": upstream, "headers": {"X-Team": "blue"},
                "models": [{"name": "claude-sonnet-4-6", "alias": "sonnet"}]}]})
        try:
            with anthropic.Anthropic(base_url=base, api_key="unused", max_retries=0) as client:
                msg = client.messages.create(model="sonnet", max_tokens=8,
                                             messages=[{"role": "user", "content": "via proxy"}])
            assert msg.content[0].text == "anthropic says: via proxy"
            sent = fake.requests[-1]
            assert sent.headers["host"] == "upstream.invalid:9"  # reached through proxy-url
            assert sent.headers["x-team"] == "blue"
            assert sent.body["model"] == "claude-sonnet-4-6"
        finally:
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    assert b"sk-ant-fake-key" not in out + err
    assert b"listening on http://127.0.0.1" in err


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks5_proxy_url(tmp_path: Path, scheme: str) -> None:
    from tests.fakes.socks import socks_in_thread

    fake = FakeUpstream()
    with serve_in_thread(fake) as upstream, socks_in_thread() as (socks, socks_url):
        port = int(upstream.rsplit(":", 1)[1])
        host = "upstream.invalid" if scheme == "socks5h" else "127.0.0.1"
        proc, base = _start(tmp_path, {"claude-api-key": [{
            "api-key": "sk-fake-key", "base-url": f"http://{host}:{port}",
            "proxy-url": socks_url.replace("socks5", scheme, 1)}]})
        try:
            r = httpx.post(base + "/v1/messages", json={
                "model": "claude-sonnet-4-6", "max_tokens": 8,
                "messages": [{"role": "user", "content": "via socks"}]})
            assert r.status_code == 200, r.text
            assert r.json()["content"][0]["text"] == "anthropic says: via socks"
            assert socks.connects == [(host, port)]
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
