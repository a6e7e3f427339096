"""The root command and the one error boundary of the CLI."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from typer.core import TyperGroup

if TYPE_CHECKING:
    from typer._click.core import Context

from cliproxy_cli import __version__
from cliproxy_cli.cli import accounts, accounts_lifecycle, config_cmd, login, models, render, serve
from cliproxy_cli.cli.context import STATE
from cliproxy_cli.errors import CliproxyError


class _Boundary(TyperGroup):
    """The CLI's one error boundary: a CliproxyError becomes one line on stderr (``Error: …``
    and its hint) and its exit code; the traceback only with --debug."""

    def invoke(self, ctx: Context) -> object:
        try:
            return super().invoke(ctx)
        except CliproxyError as exc:
            if STATE.debug:
                logging.getLogger("cliproxy_cli").exception("command failed")
            render.error(exc.message, exc.hint)
            raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    name="cliproxy",
    cls=_Boundary,
    help="Use your Gemini, Claude, Codex, Qwen and iFlow logins as OpenAI / Anthropic / Gemini APIs.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(login.app, name="login")
app.add_typer(accounts.app, name="accounts")
accounts_lifecycle.register()
app.add_typer(models.app, name="models")
app.add_typer(config_cmd.app, name="config")
serve.register(app)


def _version(value: bool) -> None:
    if value:
        render.line(f"cliproxy {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        str | None,
        typer.Option("--config", envvar="CLIPROXY_CONFIG", help="Config file to use.",
                     show_envvar=True),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Verbose logs and tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """cliproxy: your AI subscriptions as standard APIs on localhost."""
    STATE.reset(config_path=config, debug=debug)
    from cliproxy_cli import log

    log.setup(debug=debug, level="WARNING")


def main() -> None:
    """Entry point of the `cliproxy` script and `python -m cliproxy_cli`."""
    render.reset_consoles()
    app()
