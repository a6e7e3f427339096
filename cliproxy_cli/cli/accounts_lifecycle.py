"""`cliproxy accounts import PATH` and `cliproxy accounts refresh ID` (on accounts.app)."""

from __future__ import annotations

import functools
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer
from rich.markup import escape

from cliproxy_cli.cli import render
from cliproxy_cli.cli.accounts import IdArg, JsonOpt, app
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.errors import CredentialError, LoginError

PathArg = Annotated[
    Path,
    typer.Argument(help="A CLIProxyAPI auth file, or a folder of them (e.g. ~/.cli-proxy-api).",
                   exists=True, resolve_path=True),
]
_MARKS: Final = {
    "added": "[green]✓[/] added",
    "updated": "[green]✓[/] updated",
    "unchanged": "[green]✓[/] unchanged",
    "skipped": "[yellow]-[/] skipped",
    "error": "[red]✗[/] error",
}
_ORDER: Final = ("added", "updated", "unchanged", "skipped", "error")


def import_(path: PathArg, as_json: JsonOpt = False) -> None:
    """Import CLIProxyAPI auth JSON files (a file or a folder)."""
    from cliproxy_cli.accounts.importer import import_path

    results = import_path(STATE.repo(), path)
    counts = Counter(r.status for r in results)
    if as_json:
        render.print_json({
            "results": [{"file": str(r.file), "status": r.status, "account_id": r.account_id,
                         "reason": r.reason} for r in results],
            "counts": {status: counts[status] for status in _ORDER},
        })
    else:
        for r in results:
            target = f" {escape(r.account_id)}" if r.account_id else ""
            why = f": {escape(r.reason)}" if r.reason else ""
            render.line(f"{_MARKS[r.status]}{target} [dim]({escape(r.file.name)})[/]{why}")
        if results:
            render.line(", ".join(f"{counts[s]} {s}" for s in _ORDER if counts[s]))
    if not results:
        render.error(f"no CLIProxyAPI auth files (*.json) in {path}")
        raise typer.Exit(1)
    if counts["error"] == len(results):
        render.error("no file could be imported")
        raise typer.Exit(1)


def refresh(account_id: IdArg, as_json: JsonOpt = False) -> None:
    """Force a token refresh of one account now."""
    import anyio

    from cliproxy_cli.oauth.refresh import refresh_account

    loaded = STATE.loaded()
    repo = STATE.repo()
    try:
        account = repo.get(account_id)
        with render.err().status(f"Refreshing {escape(account.id)}…"):
            refreshed = anyio.run(functools.partial(
                refresh_account, repo, loaded.endpoints, account.id,
                proxy_url=loaded.config.proxy_url,
            ))
    except (LoginError, CredentialError) as exc:
        # Rendered here (not only at the app boundary) so the failure line and its login hint
        # are the command's own output, also when the app is driven without main().
        render.error(exc.message, exc.hint)
        raise typer.Exit(exc.exit_code) from exc
    now = time.time()
    if as_json:
        render.print_json(_refresh_json(refreshed.to_dict(), now))
        return
    render.line(f"[green]✓[/] refreshed {escape(refreshed.id)}; "
                f"{_expiry_text(refreshed.expires_at, now)}")


def _refresh_json(data: dict[str, Any], now: float) -> dict[str, Any]:
    expires_at = data.get("expires_at")
    return {
        "id": data["id"],
        "provider": data["provider"],
        "expires_at": expires_at,
        "expires_in": round(expires_at - now) if expires_at is not None else None,
        "last_refresh_at": data.get("last_refresh_at"),
    }


def _expiry_text(expires_at: float | None, now: float) -> str:
    if expires_at is None:
        return "the provider did not say when the new token expires"
    when = datetime.fromtimestamp(expires_at).astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"the new token expires at {when} (in {_duration(expires_at - now)})"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def register() -> None:
    """Attach the lifecycle commands to the `accounts` group."""
    app.command("import")(import_)
    app.command("refresh")(refresh)
