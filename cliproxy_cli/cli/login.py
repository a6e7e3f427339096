"""`cliproxy login gemini|claude|codex|qwen|iflow`.

Each command builds ``LoginOptions``, runs the flow of ``oauth/<vendor>.py`` with ``anyio.run``,
stores the account and prints a summary. ``ConsoleLoginUI`` is the flows' ``LoginUI``: the URL,
codes, spinner and advice go to stderr; the summary table to stdout.
"""

from __future__ import annotations

import contextlib
import functools
import os
import queue
import sys
import threading
import webbrowser
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Final

import anyio
import typer

from cliproxy_cli.accounts.model import Account, ProviderName
from cliproxy_cli.cli import render
from cliproxy_cli.cli.context import STATE

if TYPE_CHECKING:
    from rich.status import Status

    from cliproxy_cli.oauth.flow import LoginOptions

app = typer.Typer(help="Log in to a provider and store the account.", no_args_is_help=True)

_PASTE_HELP: Final = (
    "After you approve, the browser goes to a localhost address. If that page does not load "
    "(the browser runs on another machine), copy the address from the browser's address bar, "
    "paste it here and press Enter."
)

NoBrowser = Annotated[bool, typer.Option(
    "--no-browser",
    help="Do not open a browser: print the URL, then finish through the loopback callback or by "
         "pasting the redirect URL (or the code) on stdin, whichever comes first.")]
CallbackPort = Annotated[int | None, typer.Option(
    "--callback-port", min=0, max=65535, metavar="N", show_default=False,
    help="Listen for the OAuth callback on port N (0 = any free port) instead of the provider's "
         "default; the redirect URI follows it.")]
FixedCallbackPort = Annotated[int | None, typer.Option(
    "--callback-port", min=0, max=65535, metavar="N", show_default=False,
    help="Listen for the OAuth callback on port N (0 = any free port). The vendor only accepts "
         "its registered redirect URI, so that stays on the default port (forward it to N, or "
         "paste the redirect URL); when the authorize endpoint is overridden (`endpoints`), the "
         "redirect URI follows N too.")]
Label = Annotated[str, typer.Option(
    "--label", metavar="NAME", help="Name shown for the account (default: its email).")]
Timeout = Annotated[float, typer.Option(
    "--timeout", min=1, metavar="SECONDS", help="Give up waiting for the authorization after "
                                                "this many seconds.")]


@app.command()
def gemini(
    project_id: Annotated[str, typer.Option(
        "--project-id", metavar="ID",
        help="Google Cloud project to use with Gemini Code Assist (default: the account's own, "
             "or the one Code Assist sets up).")] = "",
    no_browser: NoBrowser = False,
    callback_port: CallbackPort = None,
    label: Label = "",
    timeout: Timeout = 300,
) -> None:
    """Google account for Gemini (Code Assist): browser + loopback callback on port 8085."""
    _login(ProviderName.GEMINI, _options(no_browser, callback_port, label, timeout, project_id))


@app.command()
def claude(
    no_browser: NoBrowser = False,
    callback_port: FixedCallbackPort = None,
    label: Label = "",
    timeout: Timeout = 300,
) -> None:
    """Claude Pro/Max account: Anthropic OAuth with PKCE, loopback callback on port 54545."""
    _login(ProviderName.CLAUDE, _options(no_browser, callback_port, label, timeout))


@app.command()
def codex(
    no_browser: NoBrowser = False,
    callback_port: FixedCallbackPort = None,
    label: Label = "",
    timeout: Timeout = 300,
) -> None:
    """ChatGPT account for Codex: OpenAI OAuth with PKCE, loopback callback on port 1455."""
    _login(ProviderName.CODEX, _options(no_browser, callback_port, label, timeout))


@app.command()
def qwen(
    no_browser: NoBrowser = False,
    label: Annotated[str, typer.Option(
        "--label", metavar="NAME",
        help="Name for the account (Qwen does not say which account logged in; asked for when "
             "omitted on a terminal).")] = "",
    timeout: Timeout = 300,
) -> None:
    """Qwen account: device-code flow (shows a URL and a code, then waits for your approval)."""
    _login(ProviderName.QWEN, _options(no_browser, None, label, timeout))


@app.command()
def iflow(
    no_browser: NoBrowser = False,
    callback_port: CallbackPort = None,
    label: Label = "",
    timeout: Timeout = 300,
) -> None:
    """iFlow account: browser + loopback callback on port 11451, then fetches its API key."""
    _login(ProviderName.IFLOW, _options(no_browser, callback_port, label, timeout))


def _stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _options(no_browser: bool, callback_port: int | None, label: str, timeout: float,
             project_id: str = "") -> LoginOptions:
    from cliproxy_cli.oauth.flow import PASTE_PROMPT_DELAY, LoginOptions

    # --no-browser reads pasted input at once; with a browser, a terminal is offered it later.
    paste = 0.0 if no_browser else (PASTE_PROMPT_DELAY if _stdin_is_terminal() else None)
    return LoginOptions(open_browser=not no_browser, callback_port=callback_port,
                        label=label.strip(), timeout=timeout, project_id=project_id.strip(),
                        paste_delay=paste)


def _login(provider: ProviderName, options: LoginOptions) -> None:
    from cliproxy_cli.oauth.flow import merge_existing, run_login

    loaded = STATE.loaded()
    repo = STATE.repo()  # before the browser: a store problem should not cost a login
    ui = ConsoleLoginUI(interactive=_stdin_is_terminal())
    result = anyio.run(functools.partial(
        run_login, provider, options, ui, endpoints=loaded.endpoints,
        proxy_url=loaded.config.proxy_url))
    existing = next((a for a in repo.list() if a.id == result.account.id), None)
    account = repo.save(merge_existing(result.account, existing), result.bundle)
    _summary(account, replaced=existing is not None)


def _summary(account: Account, *, replaced: bool) -> None:
    stores = {"keyring": 'OS keyring (service "cliproxy")',
              "file": f"0600 file under {STATE.loaded().paths.secrets_dir}"}
    expires = (datetime.fromtimestamp(account.expires_at).astimezone().strftime("%Y-%m-%d %H:%M")
               if account.expires_at else "")
    rows = [["provider", account.provider], ["account id", account.id],
            ["email", account.email], ["label", account.label],
            ["project", account.project_id], ["plan", account.plan],
            ["api host", account.resource_url],
            ["secret stored in", stores.get(account.store, account.store)],
            ["access token expires", expires]]
    render.table(f"Logged in to {account.provider}", ["field", "value"], [r for r in rows if r[1]])
    verb = "updated" if replaced else "added"
    render.success(f"{verb} account {account.id}; a running `cliproxy serve` picks it up "
                   "without a restart")
    if account.disabled:
        render.notice(f"the account is disabled; `cliproxy accounts enable {account.id}` "
                      "turns it on")


class ConsoleLoginUI:
    """``LoginUI`` on the terminal: everything on stderr, the spinner from rich."""

    def __init__(self, *, interactive: bool) -> None:
        self.interactive = interactive
        self.pasting = False
        self._spinner: Status | None = None
        self._lines: queue.SimpleQueue[str | None] | None = None

    def open_browser(self, url: str) -> bool:
        try:
            return webbrowser.open(url)
        except webbrowser.Error:
            return False

    def show_url(self, url: str, *, opened: bool, paste: bool) -> None:
        console = render.err()
        console.print("Opened your browser. If no login page appeared, open this URL:" if opened
                      else "Open this URL in a browser to log in:", highlight=False)
        # One unwrapped line, so it can be copied (and read by scripts) whole.
        console.print(url, soft_wrap=True, markup=False, highlight=False)
        if paste:
            console.print(_PASTE_HELP, highlight=False, markup=False)
        self.pasting = paste

    def show_device_code(self, url: str, user_code: str, *, opened: bool) -> None:
        console = render.err()
        console.print("Opened your browser at:" if opened else "Open this URL in a browser:",
                      highlight=False)
        console.print(url, soft_wrap=True, markup=False, highlight=False)
        console.print(f"and confirm the code [bold]{user_code}[/]", highlight=False)

    @contextlib.contextmanager
    def status(self, message: str) -> Iterator[None]:
        if self.pasting and self.interactive:
            # A spinner would redraw over what is being typed or pasted.
            render.err().print(message, highlight=False, markup=False)
            yield
            return
        spinner = render.err().status(message)
        self._spinner = spinner
        try:
            with spinner:
                yield
        finally:
            self._spinner = None

    def info(self, message: str) -> None:
        render.err().print(message, highlight=False, markup=False)

    def ask(self, question: str) -> str | None:
        if not self.interactive:
            return None
        answer: str = typer.prompt(question, default="", show_default=False, err=True)
        return answer

    async def read_line(self) -> str | None:
        if self.interactive and self._spinner is not None:
            self._spinner.stop()  # the person is about to type or paste
            self._spinner = None
        if self._lines is None:
            self._lines = queue.SimpleQueue()
            threading.Thread(target=_pump_stdin, args=(self._lines,), name="cliproxy-stdin",
                             daemon=True).start()
        while True:
            try:
                return self._lines.get_nowait()
            except queue.Empty:
                await anyio.sleep(0.1)


def _pump_stdin(lines: queue.SimpleQueue[str | None]) -> None:
    """Read stdin's file descriptor into lines (None at the end). Raw ``os.read``, not
    ``sys.stdin``: a daemon thread blocked inside the buffered reader would hold its lock and
    abort the interpreter at exit."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        lines.put(None)
        return
    pending = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            if pending.strip():
                lines.put(pending.decode(errors="replace"))
            lines.put(None)
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            lines.put(line.decode(errors="replace"))
