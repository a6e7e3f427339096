"""What every login flow shares: options, result, the UI seam, and the browser-or-paste wait.

A provider module (``google.py``, ``claude.py`` …) exposes
``async def login(options, ui, *, endpoints, client) -> LoginResult``. It talks to the vendor
through the injected ``httpx.AsyncClient`` and to the person through ``LoginUI``, a Protocol the
CLI implements with rich (tests implement it with a scripted browser). ``run_login`` is the one
entry the CLI calls.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import httpx

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import CallbackTimeoutError, LoginError, OAuthError
from cliproxy_cli.oauth.clients import OAuthClient
from cliproxy_cli.oauth.loopback import (
    AuthorizationResponse,
    CallbackServer,
    check_callback,
    open_callback_server,
)
from cliproxy_cli.redact import redact_text

logger = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]

DEFAULT_TIMEOUT: Final = 300.0
HTTP_TIMEOUT: Final = 30.0
# CLIProxyAPI offers the paste prompt after 15 s when a browser was opened.
PASTE_PROMPT_DELAY: Final = 15.0

VENDORS: Final[Mapping[ProviderName, str]] = {
    ProviderName.GEMINI: "Google",
    ProviderName.CLAUDE: "Claude",
    ProviderName.CODEX: "OpenAI",
    ProviderName.QWEN: "Qwen",
    ProviderName.IFLOW: "iFlow",
}
# One module per flow (STYLE rule 1), imported only when that login runs.
_MODULES: Final[Mapping[ProviderName, str]] = {
    ProviderName.GEMINI: "cliproxy_cli.oauth.google",
    ProviderName.CLAUDE: "cliproxy_cli.oauth.claude",
    ProviderName.CODEX: "cliproxy_cli.oauth.codex",
    ProviderName.QWEN: "cliproxy_cli.oauth.qwen",
    ProviderName.IFLOW: "cliproxy_cli.oauth.iflow",
}


@dataclass(frozen=True, slots=True)
class LoginOptions:
    """What the user asked for. ``paste_delay``: None = never read pasted input, 0 = at once,
    N = offer it after N seconds (the browser may still finish first)."""

    open_browser: bool = True
    callback_port: int | None = None
    label: str = ""
    timeout: float = DEFAULT_TIMEOUT
    project_id: str = ""
    paste_delay: float | None = None


@dataclass(frozen=True, slots=True)
class LoginResult:
    account: Account
    bundle: TokenBundle


class LoginUI(Protocol):
    """How a flow talks to the person logging in."""

    def open_browser(self, url: str) -> bool:
        """Open ``url`` in a browser; False when none could be opened."""
        ...

    def show_url(self, url: str, *, opened: bool, paste: bool) -> None:
        """Show the consent URL (always, so it can be copied to another machine)."""
        ...

    def show_device_code(self, url: str, user_code: str, *, opened: bool) -> None:
        """Show the verification URL and the code to confirm there."""
        ...

    def status(self, message: str) -> AbstractContextManager[None]:
        """A spinner (or status line) while the flow waits."""
        ...

    def info(self, message: str) -> None:
        """A progress or advice line."""
        ...

    async def read_line(self) -> str | None:
        """One line typed or pasted on stdin; None at end of input."""
        ...

    def ask(self, question: str) -> str | None:
        """Ask a question when someone can answer (a terminal); None otherwise."""
        ...


# -- HTTP helpers --------------------------------------------------------------------------------


def make_client(
    proxy_url: str = "", *, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The client a login uses: the configured ``proxy-url``, a 30 s timeout, no redirects."""
    return httpx.AsyncClient(
        proxy=proxy_url or None, transport=transport, timeout=HTTP_TIMEOUT, follow_redirects=False
    )


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return redact_text(flat[:limit] + ("…" if len(flat) > limit else ""))


def vendor_message(data: Any) -> str:
    """The human part of a vendor's error body, whatever its shape (OAuth, Google, Anthropic,
    iFlow/Qwen ``{success:false, message}``)."""
    if not isinstance(data, dict):
        return ""
    err = data.get("error")
    if isinstance(err, dict):  # Google {"error":{"code","message","status"}}, Anthropic
        parts = [str(err.get(k)) for k in ("status", "type") if err.get(k)]
        reasons = [d.get("reason") for d in err.get("details") or [] if isinstance(d, dict)]
        parts += [str(r) for r in reasons if r]
        label = f" [{', '.join(parts)}]" if parts else ""
        return f"{err.get('message') or ''}{label}".strip()
    description = data.get("error_description") or data.get("message") or data.get("msg")
    if err and description:
        return f"{err}: {description}"
    if err or description:
        return str(err or description)
    return ""


def vendor_failure(vendor: str, step: str, response: httpx.Response) -> OAuthError:
    """An error quoting exactly what the vendor said (never our request, never a token)."""
    try:
        said = vendor_message(response.json())
    except ValueError:
        said = ""
    if not said:
        said = _excerpt(response.text) or "(empty body)"
    return OAuthError(
        f"{vendor} {step} failed (HTTP {response.status_code}): {_excerpt(said, 500)}",
        hint="the message above is the vendor's own; run the login again, or check the account "
             "on the vendor's site",
    )


async def request_json(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    vendor: str,
    step: str,
    hint: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Send one request; a transport error, non-2xx status or non-object body is a LoginError."""
    try:
        response = await client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise LoginError(
            f"could not reach {vendor} for the {step} ({type(exc).__name__})",
            hint="check the network and `proxy-url`; the endpoint can be overridden in `endpoints`",
        ) from exc
    if not response.is_success:
        failure = vendor_failure(vendor, step, response)
        if hint:
            failure.hint = hint
        raise failure
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise OAuthError(f"{vendor} {step} answered something that is not a JSON object: "
                         f"{_excerpt(response.text) or '(empty body)'}")
    return data


def expires_at(data: Mapping[str, Any], clock: Clock) -> float | None:
    """``now + expires_in`` (unix seconds), or None when the vendor gave no lifetime."""
    try:
        lifetime = float(data.get("expires_in") or 0)
    except (TypeError, ValueError):
        return None
    return clock() + lifetime if lifetime > 0 else None


def require_token(data: Mapping[str, Any], *, vendor: str, step: str = "token exchange") -> str:
    """The access token, or an error quoting the vendor (some answer HTTP 200 with an error)."""
    token = data.get("access_token")
    if isinstance(token, str) and token:
        return token
    said = vendor_message(data) or "no access_token in the answer"
    raise OAuthError(f"{vendor} {step} failed: {_excerpt(said, 500)}",
                     hint="run the login again; the message above is the vendor's own")


# -- the browser-or-paste wait ---------------------------------------------------------------


def listen_port(options: LoginOptions, oauth: OAuthClient) -> int:
    return oauth.callback_port if options.callback_port is None else options.callback_port


def redirect_uri(oauth: OAuthClient, endpoints: EndpointTable, authorize: str, port: int) -> str:
    """The redirect URI to send.

    Claude and Codex only accept their registered ``http://localhost:<vendor port>/…``, so by
    default ``--callback-port`` moves only the listener (useful behind a port forward, or with a
    pasted redirect). When the authorize endpoint is overridden (a mirror, a relay, a test fake),
    whoever runs it registers redirects, so the redirect follows the listener's port.
    """
    if oauth.fixed_redirect and not endpoints.is_overridden(authorize):
        return oauth.redirect_uri()
    return f"http://localhost:{port}{oauth.callback_path}"


def parse_pasted(text: str) -> dict[str, str] | None:
    """Callback parameters from what was pasted: a full redirect URL, ``?query``,
    ``host/path?query``, ``k=v&…``, a bare code, or Claude's ``code#state``."""
    text = text.strip().strip("\"'<>")
    if not text:
        return None
    if "code=" in text or "error=" in text:
        query = text.split("?", 1)[1] if "?" in text else text
        query = query.split("#", 1)[0]
        params = dict(parse_qsl(query, keep_blank_values=True))
        return params if params.get("code") or params.get("error") else None
    if "://" in text or any(c.isspace() for c in text) or "?" in text:
        return None
    code, _, state = text.partition("#")
    if not code:
        return None
    return {"code": code, "state": state} if state else {"code": code}


async def _read_pastes(server: CallbackServer, ui: LoginUI, delay: float) -> None:
    if delay > 0:
        await anyio.sleep(delay)
        ui.info("Still waiting. You can also paste the redirect URL from the browser's address "
                "bar (or the code) here and press Enter.")
    while not server.finished:
        try:
            line = await ui.read_line()
        except OSError:
            return
        if line is None:
            return  # stdin closed: the loopback callback may still arrive
        params = parse_pasted(line)
        if params is None:
            if line.strip():
                ui.info("That is not a redirect URL or a code; paste the whole address the "
                        "browser ended on (it contains `code=`).")
            continue
        try:
            outcome: AuthorizationResponse | LoginError = check_callback(
                params, vendor=server.vendor, expected_state=server.expected_state,
                require_state=False)
        except LoginError as exc:
            outcome = exc
        server.finish(outcome)


async def authorize_in_browser(
    server: CallbackServer, url: str, ui: LoginUI, options: LoginOptions
) -> AuthorizationResponse:
    """Open (or print) the consent URL, then wait for the loopback callback or a pasted
    redirect, whichever comes first, at most ``options.timeout`` seconds."""
    opened = ui.open_browser(url) if options.open_browser else False
    delay = options.paste_delay
    if delay is not None and not opened:
        delay = 0.0
    ui.show_url(url, opened=opened, paste=delay == 0)
    error: LoginError | None = None
    result: AuthorizationResponse | None = None
    async with anyio.create_task_group() as tg:
        if delay is not None:
            tg.start_soon(_read_pastes, server, ui, delay)
        try:
            with ui.status(f"Waiting for the {server.vendor} authorization…"),\
                    anyio.fail_after(options.timeout):
                result = await server.wait()
        except LoginError as exc:
            error = exc
        except TimeoutError:
            error = timeout_error(server.vendor, options)
        tg.cancel_scope.cancel()
    if error is not None:
        raise error
    if result is None:  # pragma: no cover - wait() returns or raises
        raise LoginError(f"the {server.vendor} login ended without an answer")
    return result


async def browser_login(
    oauth: OAuthClient,
    options: LoginOptions,
    ui: LoginUI,
    *,
    endpoints: EndpointTable,
    authorize: str,
    vendor: str,
    state: str,
    build_url: Callable[[str], str],
) -> tuple[AuthorizationResponse, str]:
    """The loopback part of a browser login: listen, send the person to ``build_url(redirect)``,
    wait. Returns the authorization and the redirect URI (the token exchange repeats it)."""
    async with open_callback_server(
        vendor=vendor, path=oauth.callback_path, expected_state=state,
        port=listen_port(options, oauth),
    ) as server:
        redirect = redirect_uri(oauth, endpoints, authorize, server.port)
        if urlsplit(redirect).port != server.port:
            # The vendor's fixed redirect lands elsewhere: only a port forward or a paste can
            # bring the code here, so pasting is accepted at once.
            ui.info(f"{vendor} sends the browser to {redirect}, and this login listens on port "
                    f"{server.port}: forward that port here, or paste the address the browser "
                    "ends on.")
            options = dataclasses.replace(options, paste_delay=0.0)
        authorization = await authorize_in_browser(server, build_url(redirect), ui, options)
    return authorization, redirect


def with_query(base: str, params: Mapping[str, str]) -> str:
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"


def timeout_error(vendor: str, options: LoginOptions) -> CallbackTimeoutError:
    return CallbackTimeoutError(
        f"no {vendor} authorization arrived within {options.timeout:g} "
        f"second{'' if options.timeout == 1 else 's'}",
        hint="run the login again and finish it in the browser sooner, raise `--timeout`, or on "
             "a machine without a reachable browser use `--no-browser` and paste the redirect URL",
    )


# -- running a flow -------------------------------------------------------------------------------


class LoginFlow(Protocol):
    async def __call__(
        self, options: LoginOptions, ui: LoginUI, *, endpoints: EndpointTable,
        client: httpx.AsyncClient,
    ) -> LoginResult: ...


def flow_for(provider: ProviderName) -> LoginFlow:
    module = importlib.import_module(_MODULES[provider])
    login: LoginFlow = module.login
    return login


async def run_login(
    provider: ProviderName,
    options: LoginOptions,
    ui: LoginUI,
    *,
    endpoints: EndpointTable,
    proxy_url: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> LoginResult:
    """Run one provider's login end to end and return the account and its secrets (unsaved)."""
    login = flow_for(provider)
    async with make_client(proxy_url, transport=transport) as client:
        result = await login(options, ui, endpoints=endpoints, client=client)
    logger.debug("login ok provider=%s account=%s", provider, result.account.id)
    return result


_KEPT_ON_RELOGIN: Final = ("prefix", "proxy_url", "excluded_models", "priority", "disabled",
                           "added_at")


def merge_existing(new: Account, existing: Account | None) -> Account:
    """A repeated login refreshes tokens and identity but keeps what the user set on the
    account (prefix, proxy, exclusions, priority, disabled); it clears expired/error marks."""
    if existing is None:
        return new
    kept = {name: getattr(existing, name) for name in _KEPT_ON_RELOGIN}
    return new.replace(store=existing.store, **kept)
