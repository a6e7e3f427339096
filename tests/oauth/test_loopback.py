from __future__ import annotations

import socket
from contextlib import AbstractAsyncContextManager

import anyio
import httpx
import pytest

from cliproxy_cli.errors import CallbackTimeoutError, LoginError, OAuthError
from cliproxy_cli.oauth.flow import LoginOptions, authorize_in_browser, parse_pasted
from cliproxy_cli.oauth.loopback import CallbackServer, check_callback, open_callback_server
from tests.fakes.login_ui import ScriptedUI

pytestmark = pytest.mark.anyio

STATE = "s" * 32


def _server(port: int = 0) -> AbstractAsyncContextManager[CallbackServer]:
    return open_callback_server(vendor="Claude", path="/callback", expected_state=STATE, port=port)


async def test_callback_with_code_and_state_succeeds_and_shows_the_success_page() -> None:
    async with _server() as server, httpx.AsyncClient() as client:
        page = await client.get(f"http://127.0.0.1:{server.port}/callback",
                                params={"code": "abc", "state": STATE})
        result = await server.wait()
        again = await client.get(f"http://127.0.0.1:{server.port}/callback",
                                 params={"code": "abc", "state": STATE})
    assert page.status_code == 200
    assert "close this tab" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert (result.code, result.state) == ("abc", STATE)
    assert "already finished" in again.text


async def test_callback_with_a_wrong_state_fails_the_login_and_the_page() -> None:
    async with _server() as server, httpx.AsyncClient() as client:
        page = await client.get(f"http://127.0.0.1:{server.port}/callback",
                                params={"code": "abc", "state": "forged"})
        with pytest.raises(OAuthError, match="state does not match"):
            await server.wait()
    assert page.status_code == 400
    assert "Login failed" in page.text


async def test_denied_consent_reads_as_denied() -> None:
    async with _server() as server, httpx.AsyncClient() as client:
        page = await client.get(f"http://127.0.0.1:{server.port}/callback",
                                params={"error": "access_denied", "state": STATE})
        with pytest.raises(OAuthError, match="denied") as info:
            await server.wait()
    assert page.status_code == 400
    assert info.value.hint and "approve" in info.value.hint


async def test_other_paths_and_methods_do_not_finish_the_login() -> None:
    async with _server() as server, httpx.AsyncClient() as client:
        assert (await client.get(f"http://127.0.0.1:{server.port}/favicon.ico")).status_code == 404
        assert (await client.post(f"http://127.0.0.1:{server.port}/callback")).status_code == 405
        assert not server.finished


async def test_page_text_is_html_escaped() -> None:
    async with _server() as server, httpx.AsyncClient() as client:
        page = await client.get(f"http://127.0.0.1:{server.port}/callback",
                                params={"error": "<script>x</script>", "state": STATE})
    assert "<script>" not in page.text


async def test_port_in_use_names_the_fix() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LoginError, match=f"127.0.0.1:{port} is already in use") as info:
            async with _server(port):
                pass
    assert "--callback-port" in (info.value.hint or "")


def test_check_callback_accepts_a_missing_state_only_when_allowed() -> None:
    assert check_callback({"code": "c"}, vendor="X", expected_state=STATE,
                          require_state=False).state == STATE
    with pytest.raises(OAuthError, match="state"):
        check_callback({"code": "c"}, vendor="X", expected_state=STATE)
    with pytest.raises(OAuthError, match="no authorization code"):
        check_callback({"state": STATE}, vendor="X", expected_state=STATE)


@pytest.mark.parametrize(("pasted", "expected"), [
    (f"http://localhost:54545/callback?code=abc&state={STATE}", {"code": "abc", "state": STATE}),
    (f"localhost:1455/auth/callback?code=abc&state={STATE}#", {"code": "abc", "state": STATE}),
    (f"?code=abc&state={STATE}", {"code": "abc", "state": STATE}),
    (f"code=abc&state={STATE}", {"code": "abc", "state": STATE}),
    (f"  'abc#{STATE}'  ", {"code": "abc", "state": STATE}),
    ("4/0AVGzR1A-bare_code", {"code": "4/0AVGzR1A-bare_code"}),
    ("http://localhost:8085/oauth2callback?error=access_denied",
     {"error": "access_denied"}),
    ("", None),
    ("   ", None),
    ("https://accounts.google.com/o/oauth2/v2/auth?client_id=x", None),
    ("not a code", None),
])
def test_parse_pasted_understands_what_people_paste(pasted: str, expected: object) -> None:
    assert parse_pasted(pasted) == expected


async def test_paste_wins_when_no_callback_arrives() -> None:
    ui = ScriptedUI(pastes=["garbage here", f"http://localhost:1/callback?code=pasted&state={STATE}"])
    options = LoginOptions(open_browser=False, paste_delay=0, timeout=5)
    async with _server() as server:
        result = await authorize_in_browser(server, "http://consent.test/", ui, options)
    assert result.code == "pasted"
    assert ui.paste_offered == [True]
    assert any("not a redirect URL" in line for line in ui.infos)


async def test_a_pasted_url_with_a_forged_state_is_refused() -> None:
    ui = ScriptedUI(pastes=["http://localhost:1/callback?code=x&state=forged"])
    options = LoginOptions(open_browser=False, paste_delay=0, timeout=5)
    async with _server() as server:
        with pytest.raises(OAuthError, match="state"):
            await authorize_in_browser(server, "http://consent.test/", ui, options)


async def test_callback_still_wins_after_stdin_closes() -> None:
    async def browser(url: str) -> None:
        await anyio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            await client.get(url, params={"code": "cb", "state": STATE})

    ui = ScriptedUI(pastes=[])  # read_line answers None at once: end of input
    options = LoginOptions(open_browser=False, paste_delay=0, timeout=5)
    async with _server() as server:
        ui.browser = browser
        result = await authorize_in_browser(
            server, f"http://127.0.0.1:{server.port}/callback", ui, options)
    await ui.settle()
    assert result.code == "cb"


async def test_no_answer_within_the_timeout_is_a_callback_timeout() -> None:
    ui = ScriptedUI()
    options = LoginOptions(open_browser=True, timeout=0.2)
    async with _server() as server:
        with pytest.raises(CallbackTimeoutError, match=r"within 0\.2 seconds") as info:
            await authorize_in_browser(server, "http://consent.test/", ui, options)
    assert ui.opened == ["http://consent.test/"]
    assert "--timeout" in (info.value.hint or "")


async def test_paste_is_offered_at_once_when_no_browser_could_be_opened() -> None:
    ui = ScriptedUI(browser_opens=False, pastes=[f"code=abc&state={STATE}"])
    options = LoginOptions(open_browser=True, paste_delay=15, timeout=5)
    async with _server() as server:
        result = await authorize_in_browser(server, "http://consent.test/", ui, options)
    assert result.code == "abc"
    assert ui.paste_offered == [True]
