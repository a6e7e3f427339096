"""Throughput and latency of cliproxy versus the same load sent straight at the upstream.

Starts a fast fake upstream (aiohttp) and ``cliproxy serve`` as separate processes (each pinned
to its own core when ``taskset`` exists), drives load from this process with aiohttp, and prints
req/s and p50/p99 for each path, direct and through the proxy, stream and non-stream.

    python benchmarks/bench.py [--duration 5] [--concurrency 32] [--events 20] [--only NAME]

Paths: ``chat`` (OpenAI Chat in, OpenAI-compatible upstream: pass-through), ``messages``
(Anthropic in, Anthropic upstream: pass-through), ``chat->anthropic`` and ``messages->chat``
(cross-format translation), each non-stream and stream. Ratios are the figures that matter;
absolute numbers depend on the machine. Nothing here is a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
FAKE = HERE / "fake_upstream.py"
BARE = HERE / "bare_proxy.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", str(core), *cmd]
    return cmd


async def wait_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            try:
                async with s.get(url) as r:
                    if r.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


CHAT_BODY = {"model": "bench-chat", "messages": [{"role": "user", "content": "hello bench"}]}
MSG_BODY = {"model": "bench-claude", "max_tokens": 64,
            "messages": [{"role": "user", "content": "hello bench"}]}

PATHS: dict[str, tuple[str, str, dict[str, Any]]] = {
    # name: (proxy path, direct path, body)
    "chat": ("/v1/chat/completions", "/v1/chat/completions", CHAT_BODY),
    "messages": ("/v1/messages", "/v1/messages", MSG_BODY),
    "chat->anthropic": ("/v1/chat/completions", "/v1/messages",
                        dict(CHAT_BODY, model="bench-claude")),
    "messages->chat": ("/v1/messages", "/v1/chat/completions", dict(MSG_BODY, model="bench-chat")),
}


async def one(session: aiohttp.ClientSession, url: str, body: bytes, stream: bool,
              ttfb: list[float] | None = None) -> float:
    t0 = time.perf_counter()
    async with session.post(url, data=body, headers={"content-type": "application/json",
                                                     "authorization": "Bearer bench"}) as r:
        if stream:
            first = True
            async for _ in r.content.iter_any():
                if first and ttfb is not None:
                    ttfb.append(time.perf_counter() - t0)
                first = False
        else:
            await r.read()
        if r.status != 200:
            raise RuntimeError(f"{url} answered {r.status}")
    return time.perf_counter() - t0


async def load(url: str, body: dict[str, Any], *, stream: bool, concurrency: int,
               duration: float) -> dict[str, float]:
    payload = json.dumps(dict(body, stream=stream)).encode()
    connector = aiohttp.TCPConnector(limit=0)
    latencies: list[float] = []
    ttfb: list[float] = []
    errors = 0
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(min(concurrency, 8)):  # warm the pools
            await one(session, url, payload, stream)
        stop = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                try:
                    latencies.append(await one(session, url, payload, stream, ttfb))
                except (RuntimeError, aiohttp.ClientError):
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / elapsed,
        "p50": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99": latencies[int(n * 0.99) - 1] * 1000 if n else float("nan"),
        "errors": errors,
        "ttfb50": statistics.median(ttfb) * 1000 if ttfb else float("nan"),
    }


async def run_table(args: argparse.Namespace, upstream: str, proxy: str, bare: str) -> None:
    print(f"concurrency={args.concurrency} duration={args.duration}s events/stream={args.events} "
          f"accounts/upstream={args.accounts}")
    print(f"{'path':<17}{'mode':<7}{'direct':>8}{'bare':>7}{'proxy':>7}{'p/bare':>7}"
          f"{'p/pass':>7}{'p50 d/b/p ms':>19}{'p99 proxy':>10}{'c=1 +p50':>9}{'+ttfb':>7}")
    passthrough: dict[tuple[str, bool], float] = {}
    for name, (ppath, dpath, body) in PATHS.items():
        if args.only and name not in args.only:
            continue
        for stream in (False, True):
            kw = {"stream": stream, "concurrency": args.concurrency, "duration": args.duration}
            d = await load(upstream + dpath, body, **kw)
            p = await load(proxy + ppath, body, **kw)
            same = ppath == dpath
            b = await load(bare + dpath, body, **kw) if same else None
            one = {"stream": stream, "concurrency": 1, "duration": min(2.0, args.duration)}
            d1 = await load(upstream + dpath, body, **one)
            p1 = await load(proxy + ppath, body, **one)
            if same:
                passthrough[(ppath, stream)] = p["rps"]
            base = passthrough.get((ppath, stream))
            mode = "stream" if stream else "json"
            bare_rps = f"{b['rps']:>7.0f}" if b else f"{'-':>7}"
            vs_bare = f"{p['rps'] / b['rps']:>7.2f}" if b else f"{'-':>7}"
            vs_pass = f"{p['rps'] / base:>7.2f}" if base and not same else f"{'-':>7}"
            b50 = f"{b['p50']:.2f}" if b else "-"
            print(f"{name:<17}{mode:<7}{d['rps']:>8.0f}{bare_rps}{p['rps']:>7.0f}{vs_bare}"
                  f"{vs_pass}{d['p50']:>8.2f}/{b50:>5}/{p['p50']:<5.2f}{p['p99']:>9.2f}"
                  f"{p1['p50'] - d1['p50']:>9.2f}"
                  + (f"{p1['ttfb50'] - d1['ttfb50']:>7.2f}" if stream else f"{'-':>7}")
                  + (f"  errors={p['errors']}" if p["errors"] else ""))


def write_config(home: Path, upstream: str, accounts: int = 1) -> Path:
    """``accounts`` credentials per upstream, to show routing cost does not grow with them."""
    cfg = home / "config.yaml"
    claude = "".join(f"  - api-key: sk-bench-{i}\n    base-url: {upstream}\n"
                     "    models: [{name: bench-claude}]\n" for i in range(accounts))
    keys = ", ".join(f"{{api-key: sk-bench-{i}}}" for i in range(accounts))
    cfg.write_text(
        "api-keys: [bench]\n"
        f"claude-api-key:\n{claude}"
        "openai-compatibility:\n"
        f"  - name: benchup\n    base-url: {upstream}/v1\n"
        f"    api-key-entries: [{keys}]\n"
        "    models: [{name: bench-chat}]\n"
    )
    return cfg


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--events", type=int, default=20, help="SSE events per streamed reply")
    ap.add_argument("--only", action="append", help="run only these paths")
    ap.add_argument("--accounts", type=int, default=1, help="credentials per upstream")
    args = ap.parse_args()

    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the load shares core 1 with the fake; the proxy has core 0
    up_port, proxy_port, bare_port = free_port(), free_port(), free_port()
    upstream = f"http://127.0.0.1:{up_port}"
    proxy = f"http://127.0.0.1:{proxy_port}"
    bare = f"http://127.0.0.1:{bare_port}"
    home = Path(tempfile.mkdtemp(prefix="cliproxy-bench-"))
    env = dict(os.environ, CLIPROXY_HOME=str(home),
               PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    fake = subprocess.Popen(pinned([sys.executable, str(FAKE), "--port", str(up_port),
                                    "--events", str(args.events)], 1))
    cfg = write_config(home, upstream, args.accounts)
    server = subprocess.Popen(
        pinned([sys.executable, "-m", "cliproxy_cli", "serve", "--config", str(cfg),
                "--port", str(proxy_port)], 0),
        env=env, stderr=subprocess.DEVNULL,
    )
    bare_proc = subprocess.Popen(pinned([sys.executable, str(BARE), "--port", str(bare_port),
                                         "--upstream", upstream], 0))
    try:
        await wait_up(upstream + "/healthz")
        await wait_up(proxy + "/healthz")
        await wait_up(bare + "/healthz")
        await run_table(args, upstream, proxy, bare)
    finally:
        for proc in (server, fake, bare_proc):
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
