"""`cliproxy config path|show|init|check`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
import yaml

from cliproxy_cli.cli import render
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.config import (
    STARTER_CONFIG,
    config_path,
    config_to_dict,
    load_config,
    parse_config,
)
from cliproxy_cli.endpoints import ENDPOINTS
from cliproxy_cli.errors import ConfigError
from cliproxy_cli.paths import ensure_private_dir, resolve_paths
from cliproxy_cli.redact import redact_tree

app = typer.Typer(help="Find, show, create and validate the config file.", no_args_is_help=True)


@app.command()
def path() -> None:
    """Print where the config file is (whether or not it exists)."""
    loaded = STATE.loaded()
    render.line(str(loaded.path))
    if not loaded.exists:
        render.notice("the file does not exist yet; defaults apply (`cliproxy config init` writes one)")


@app.command()
def show(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the effective config (defaults applied, secrets redacted) and endpoint URLs."""
    loaded = STATE.loaded()
    data = redact_tree(config_to_dict(loaded.config))
    data["endpoints"] = {
        e.name: {"url": loaded.endpoints.urls[e.name],
                 "overridden": loaded.endpoints.is_overridden(e.name)}
        for e in ENDPOINTS
    }
    if as_json:
        render.print_json(data)
        return
    source = str(loaded.path) if loaded.exists else f"{loaded.path} (not found: defaults)"
    render.err().print(f"[dim]# config: {source}[/]")
    render.line(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())


@app.command()
def init(
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter config file."""
    target, _ = config_path(resolve_paths(), STATE.config_path, os.environ)
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists", hint="use --force to overwrite it")
    ensure_private_dir(target.parent)
    target.write_text(STARTER_CONFIG, encoding="utf-8")
    target.chmod(0o600)
    render.success(f"wrote {target}")


@app.command()
def check(
    file: Annotated[
        Path | None, typer.Argument(help="File to validate (default: the active config).")
    ] = None,
) -> None:
    """Validate a config file: exit 0 when valid (warnings are shown), non-zero otherwise."""
    if file is None:
        loaded = load_config(STATE.config_path)
        warnings, where = loaded.warnings, loaded.path
        if not loaded.exists:
            render.success(f"{where} does not exist; the defaults are valid")
            return
    else:
        if not file.exists():
            raise ConfigError(f"config file {file} does not exist")
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: invalid YAML") from exc
        _, warning_list = parse_config(raw)
        warnings, where = tuple(warning_list), file
    for w in warnings:
        render.warning(w)
    render.success(f"{where} is valid" + (f" ({len(warnings)} warning(s))" if warnings else ""))
