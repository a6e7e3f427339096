"""`cliproxy models list`."""

from __future__ import annotations

from typing import Annotated

import typer

from cliproxy_cli.cli import render
from cliproxy_cli.cli.context import STATE

app = typer.Typer(help="List the models the accounts and config make available.",
                  no_args_is_help=True)


@app.command("list")
def list_(
    provider: Annotated[str | None, typer.Option("--provider", help="Only this provider.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """List every model with the provider(s) and credentials serving it."""
    from cliproxy_cli.routing.registry import build_registry

    registry = build_registry(STATE.loaded().config, STATE.repo().list())
    infos = registry.models(provider)
    if as_json:
        render.print_json([
            {"id": m.id, "owned_by": m.owned_by, "providers": list(m.providers),
             "credentials": list(m.credentials)} for m in infos
        ])
        return
    if not infos:
        render.line("No models available. Log in (`cliproxy login <provider>`) or add API keys "
                    "to the config.")
        return
    render.table(None, ["model", "provider", "served by"],
                 [[m.id, ", ".join(m.providers), ", ".join(m.credentials)] for m in infos])
