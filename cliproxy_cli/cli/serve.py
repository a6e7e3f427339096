"""`cliproxy serve`: run the proxy in the foreground (Ctrl-C stops it gracefully)."""

from __future__ import annotations

import contextlib
import dataclasses
import signal
from collections.abc import Iterator
from typing import Annotated

import typer

from cliproxy_cli.accounts.credential import TokenSource
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.cli import render
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default from config: 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on (default 8317).", min=1, max=65535)] = None,
    config: Annotated[str | None, typer.Option("--config", help="Config file to use.")] = None,
    allow_unauthenticated: Annotated[
        bool, typer.Option("--allow-unauthenticated",
                           help="Allow a non-loopback bind without api-keys (anyone who can reach "
                                "the port can spend your subscriptions).")
    ] = False,
) -> None:
    """Run the proxy in the foreground."""
    if config:
        STATE.config_path = config
    from cliproxy_cli import log

    log.setup(debug=STATE.debug)
    loaded = STATE.loaded()
    cfg = dataclasses.replace(loaded.config, host=host or loaded.config.host,
                              port=port or loaded.config.port)
    from cliproxy_cli.server.access import is_loopback_host

    if not is_loopback_host(cfg.host) and not cfg.api_keys and not allow_unauthenticated:
        raise ConfigError(
            f"refusing to listen on {cfg.host} without api-keys: anyone on the network could "
            "use your accounts",
            hint="set api-keys in the config, bind 127.0.0.1, or pass --allow-unauthenticated",
        )
    loaded = dataclasses.replace(loaded, config=cfg)
    _run(loaded)


def _run(loaded: object) -> None:
    import uvicorn

    from cliproxy_cli.config import LoadedConfig
    from cliproxy_cli.server.app import create_app

    _GracefulServer = _graceful_server_class()

    assert isinstance(loaded, LoadedConfig)
    repo = STATE.repo()
    app = create_app(loaded, repo=repo, tokens=_token_source)
    rt = app.state.runtime
    cfg = loaded.config
    render.success(
        f"cliproxy listening on http://{_display_host(cfg.host)}:{cfg.port} "
        f"({len(rt.registry.credentials)} credentials, {len(rt.registry.models())} models)"
    )
    if not cfg.api_keys:
        render.notice("no api-keys configured: any local program can use this proxy")
    if not rt.registry.credentials:
        render.notice("no accounts or API keys yet: run `cliproxy login <provider>` "
                      "(gemini, claude, codex, qwen, iflow); the server picks them up live")
    server = _GracefulServer(uvicorn.Config(
        app, host=cfg.host, port=cfg.port, log_level="debug" if STATE.debug else "warning",
        access_log=False, loop="auto", http="auto", lifespan="on", timeout_graceful_shutdown=10,
    ))
    server.run()
    if not server.started:
        raise ConfigError(f"could not listen on {cfg.host}:{cfg.port} (is the port in use?)",
                          hint="pick another with --port")
    render.success("cliproxy stopped")


def _graceful_server_class() -> type:
    import uvicorn

    class GracefulServer(uvicorn.Server):
        """SIGINT/SIGTERM finish in-flight requests, then `serve` exits 0 (a second signal
        forces the exit). uvicorn itself re-raises the signal after shutdown."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            signals = (signal.SIGINT, signal.SIGTERM)
            previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    return GracefulServer


def _token_source(repo: AccountRepository) -> TokenSource:
    """The refreshing token source for OAuth accounts (oauth/refresh.py)."""
    from cliproxy_cli.oauth.refresh import TokenRefresher, open_client

    loaded = STATE.loaded()
    client = open_client(loaded.config.proxy_url)
    return TokenRefresher(repo, loaded.endpoints, client=client)


def _display_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
