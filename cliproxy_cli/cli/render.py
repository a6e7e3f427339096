"""Consoles, tables and JSON output: the only place that prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

_stdout: Console | None = None
_stderr: Console | None = None


def out() -> Console:
    """Data goes to stdout."""
    global _stdout
    if _stdout is None:
        _stdout = Console(soft_wrap=True)
    return _stdout


def err() -> Console:
    """Diagnostics, spinners and errors go to stderr."""
    global _stderr
    if _stderr is None:
        _stderr = Console(stderr=True, soft_wrap=True)
    return _stderr


def reset_consoles() -> None:
    """Forget the consoles (CliRunner swaps sys.stdout/sys.stderr between invocations)."""
    global _stdout, _stderr
    _stdout = _stderr = None


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for col in columns:
        t.add_column(col, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    out().print(t)


def error(message: str, hint: str | None = None) -> None:
    console = err()
    console.print(f"[bold red]Error:[/] {message}", highlight=False, markup=True)
    if hint:
        console.print(f"[dim]Hint:[/] {hint}", highlight=False)


def notice(message: str) -> None:
    err().print(f"[yellow]Note:[/] {message}", highlight=False)


def warning(message: str) -> None:
    err().print(f"[yellow]Warning:[/] {message}", highlight=False)


def success(message: str) -> None:
    err().print(f"[green]✓[/] {message}", highlight=False)


def line(message: str) -> None:
    out().print(message, highlight=False)
