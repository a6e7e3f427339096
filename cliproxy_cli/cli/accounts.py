"""`cliproxy accounts list|show|remove|enable|disable|import|refresh`."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

import typer

from cliproxy_cli.accounts.model import Account
from cliproxy_cli.cli import render
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.routing.eligibility import eligibility

app = typer.Typer(help="Inspect and manage stored accounts.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
IdArg = Annotated[str, typer.Argument(help="Account id (a unique prefix is enough).")]


def _when(ts: float | None) -> str:
    if not ts:
        return "never"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M")


def _cooldowns() -> list[dict[str, Any]]:
    """The running server's published cooldowns (empty when no server runs)."""
    from cliproxy_cli.server_state import read_cooldowns

    return read_cooldowns(STATE.loaded().paths)


def _account_json(account: Account, now: float, cooldowns: list[dict[str, Any]]) -> dict[str, Any]:
    state = eligibility(account, cooldowns, now)
    data = account.to_dict()
    data.update(status=str(state.status), status_reason=state.reason, cooling_until=state.until)
    return data


@app.command("list")
def list_(
    as_json: JsonOpt = False,
    quota: Annotated[bool, typer.Option(
        "--quota", help="Also fetch each account's remaining quota from its provider.")] = False,
) -> None:
    """List stored accounts with their status (and quota with --quota)."""
    repo = STATE.repo()
    now = time.time()
    accounts = repo.list()
    cooldowns = _cooldowns()
    reports: dict[str, dict[str, Any]] = {}
    if quota and accounts:
        from cliproxy_cli.cli.quota import quotas

        with render.err().status("Fetching quota from the providers…"):
            reports = quotas(STATE.loaded(), repo, accounts)
    if as_json:
        data = [_account_json(a, now, cooldowns) for a in accounts]
        for item in data:
            if item["id"] in reports:
                item["quota"] = reports[item["id"]]
        render.print_json(data)
        return
    if not accounts:
        render.line("No accounts yet. Add one with `cliproxy login <provider>`.")
        return
    rows = []
    for a in accounts:
        state = eligibility(a, cooldowns, now)
        why = f" ({state.reason})" if state.reason else ""
        row = [a.id, a.provider, a.label or a.email, f"{state.status}{why}", a.store,
               _when(a.last_used_at)]
        if reports:
            row.append(reports.get(a.id, {}).get("summary", "unknown"))
        rows.append(row)
    columns = ["id", "provider", "label", "status", "store", "last used"]
    render.table(None, [*columns, "quota"] if reports else columns, rows)


@app.command()
def show(account_id: IdArg, as_json: JsonOpt = False) -> None:
    """Show one account's details (never its secrets)."""
    account = STATE.repo().get(account_id)
    data = _account_json(account, time.time(), _cooldowns())
    if as_json:
        render.print_json(data)
        return
    rows = [[k, _fmt(k, v)] for k, v in data.items() if v not in ("", None, [], ())]
    render.table(account.id, ["field", "value"], rows)


def _fmt(key: str, value: Any) -> str:
    if key.endswith("_at") and isinstance(value, int | float):
        return _when(value)
    return str(value)


@app.command()
def remove(
    account_id: IdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove an account and delete its stored secret."""
    repo = STATE.repo()
    account = repo.get(account_id)
    if not yes and not typer.confirm(f"Remove {account.id} ({account.display_name})?"):
        raise typer.Abort()
    repo.remove(account.id)
    render.success(f"removed {account.id}")


@app.command()
def enable(account_id: IdArg) -> None:
    """Enable an account (and clear its error and cooldown state)."""
    repo = STATE.repo()
    account = repo.get(account_id)
    repo.update(account.id, disabled=False, last_error="", reset_at=time.time())
    render.success(f"enabled {account.id}")


@app.command()
def disable(account_id: IdArg) -> None:
    """Disable an account: the proxy stops using it until it is enabled again."""
    repo = STATE.repo()
    account = repo.get(account_id)
    repo.update(account.id, disabled=True)
    render.success(f"disabled {account.id}")
