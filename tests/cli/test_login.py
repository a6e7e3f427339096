"""The real `python -m cliproxy_cli login <provider>` in a subprocess, against fake vendors.

A test "browser" reads the authorize URL the command prints, asks the fake for its consent
redirect and follows it to the loopback listener (or pastes it on stdin). Every run uses an
ephemeral ``--callback-port`` and ``CLIPROXY_ENDPOINT_*`` overrides; secrets are then looked for
everywhere they must not be.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest

from tests.fakes.oauth_servers import (
    INELIGIBLE_REASON,
    CodeAssistScript,
    FakeAuthServer,
    FakeClaude,
    FakeCodex,
    FakeGoogle,
    FakeIflow,
    FakeQwen,
    tamper_state,
)

REPO = Path(__file__).resolve().parents[2]
Fakes = list[FakeAuthServer]
WAIT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LoginRun:
    """A running `cliproxy login …`, its output collected line by line."""

    process: subprocess.Popen[str]
    lines: queue.Queue[tuple[str, str | None]] = field(default_factory=queue.Queue)
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, stream in (("out", self.process.stdout), ("err", self.process.stderr)):
            threading.Thread(target=self._pump, args=(name, stream), daemon=True).start()

    def _pump(self, name: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in stream:
            self.lines.put((name, line))
        self.lines.put((name, None))

    def _next(self) -> tuple[str, str | None]:
        name, line = self.lines.get(timeout=WAIT)
        if line is not None:
            (self.stdout if name == "out" else self.stderr).append(line)
        return name, line

    def url(self) -> str:
        """The first URL the command prints (the consent or verification page)."""
        closed = 0
        while closed < 2:
            _, line = self._next()
            if line is None:
                closed += 1
            elif line.startswith("http"):
                return line.strip()
        raise AssertionError("no URL printed:\n" + "".join(self.stderr))

    def paste(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        rc = self.process.wait(timeout=WAIT)
        closed = 0
        while closed < 2:
            _, line = self._next()
            closed += line is None
        self.close()
        return rc, "".join(self.stdout), "".join(self.stderr)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=WAIT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@dataclass
class Cli:
    home: Path
    keyring_file: Path | None = None
    runs: list[LoginRun] = field(default_factory=list)

    def env(self, *fakes: FakeAuthServer) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLIPROXY_")}
        env.update(CLIPROXY_HOME=str(self.home), PYTHONUNBUFFERED="1", TERM="dumb",
                   PYTHONPATH=str(REPO))
        if self.keyring_file is None:
            env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
        else:
            env["PYTHON_KEYRING_BACKEND"] = "tests.fakes.keyring_backend.FileKeyring"
            env["CLIPROXY_TEST_KEYRING_FILE"] = str(self.keyring_file)
        for fake in fakes:
            env.update(fake.environ())
        return env

    def login(self, fake: FakeAuthServer, *args: str, debug: bool = False) -> LoginRun:
        root = ["--debug"] if debug else []
        process = subprocess.Popen(
            [sys.executable, "-m", "cliproxy_cli", *root, "login", *args], cwd=REPO,
            env=self.env(fake),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.runs.append(LoginRun(process))
        return self.runs[-1]

    def accounts(self) -> list[dict[str, object]]:
        command = [sys.executable, "-m", "cliproxy_cli", "accounts", "list", "--json"]
        done = subprocess.run(command, cwd=REPO, env=self.env(), capture_output=True,
                              text=True, timeout=WAIT, check=True)
        accounts: list[dict[str, object]] = json.loads(done.stdout)
        return accounts


@pytest.fixture
def cli(cliproxy_home: Path) -> Iterator[Cli]:
    runner = Cli(cliproxy_home)
    yield runner
    for run in runner.runs:
        run.close()


@pytest.fixture
def keyring_cli(cliproxy_home: Path, tmp_path: Path) -> Iterator[Cli]:
    runner = Cli(cliproxy_home, keyring_file=tmp_path / "keyring.json")
    yield runner
    for run in runner.runs:
        run.close()


@pytest.fixture
def fakes() -> Iterator[list[FakeAuthServer]]:
    started: list[FakeAuthServer] = []
    yield started
    for fake in started:
        fake.stop()


def start(fakes: list[FakeAuthServer], fake: FakeAuthServer) -> FakeAuthServer:
    fakes.append(fake.start())
    return fake


def consent(url: str) -> str:
    """The browser at the fake's consent page: where it is sent next."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def secrets_of(fake: FakeAuthServer, *extra: str) -> list[str]:
    return [*fake.access_tokens, *fake.refresh_tokens, *extra]


def assert_no_secret_outside_the_store(home: Path, secrets: list[str], *texts: str) -> None:
    assert secrets
    files = [p for p in home.rglob("*") if p.is_file() and "secrets" not in p.parts]
    haystacks = [*texts, *(p.read_text(errors="replace") for p in files)]
    for secret in secrets:
        for hay in haystacks:
            assert secret not in hay


def login_flags(port: int, *extra: str) -> list[str]:
    return ["--no-browser", "--callback-port", str(port), "--timeout", "20", *extra]


# -- success paths ---------------------------------------------------------------------------------


def test_claude_loopback_login_stores_the_secret_in_a_0600_file(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeClaude(email="ada@example.com"))
    run = cli.login(fake, "claude", *login_flags(free_port()))
    page = httpx.get(consent(run.url()))
    rc, out, err = run.finish()
    assert rc == 0, err
    assert page.status_code == 200 and "close this tab" in page.text
    assert "claude-ada@example.com" in out
    assert "0600 file" in out

    [account] = cli.accounts()
    assert (account["id"], account["provider"], account["email"], account["store"],
            account["source"]) == ("claude-ada@example.com", "claude", "ada@example.com", "file",
                                   "login")
    secrets_dir = cli.home / "data" / "secrets"
    [secret_file] = list(secrets_dir.iterdir())
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    stored = json.loads(secret_file.read_text())
    assert stored["access_token"] in fake.access_tokens
    assert_no_secret_outside_the_store(cli.home, secrets_of(fake), out, err)


def test_codex_login_by_pasted_redirect_keeps_secrets_in_the_keyring_only(
        keyring_cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeCodex(email="grace@example.com", plan="team", account_id="acc-9"))
    run = keyring_cli.login(fake, "codex", *login_flags(free_port()))
    run.paste(consent(run.url()))  # the redirect target is never visited: pasted instead
    rc, out, err = run.finish()
    assert rc == 0, err
    [account] = keyring_cli.accounts()
    assert (account["id"], account["store"], account["account_id"], account["plan"]) == (
        "codex-grace@example.com", "keyring", "acc-9", "team")
    assert not (keyring_cli.home / "data" / "secrets").exists()
    assert keyring_cli.keyring_file is not None
    entries = json.loads(keyring_cli.keyring_file.read_text())
    bundle = json.loads(entries["cliproxy/codex-grace@example.com"])
    assert bundle["refresh_token"].startswith("rt_") and bundle["id_token"]
    assert_no_secret_outside_the_store(keyring_cli.home,
                                       secrets_of(fake, bundle["id_token"]), out, err)
    assert 'OS keyring (service "cliproxy")' in out


def test_gemini_login_finds_the_code_assist_project(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeGoogle(email="lovelace@example.com",
                                   code_assist=CodeAssistScript(mode="onboard", pending_polls=0,
                                                                project="managed-1")))
    run = cli.login(fake, "gemini", *login_flags(free_port()), debug=True)
    httpx.get(consent(run.url()))
    rc, out, err = run.finish()
    assert rc == 0, err
    [account] = cli.accounts()
    assert (account["id"], account["project_id"]) == (
        "gemini-lovelace@example.com-managed-1", "managed-1")
    assert "managed-1" in out
    assert_no_secret_outside_the_store(cli.home, secrets_of(fake), out, err)


def test_iflow_login_stores_the_fetched_api_key(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeIflow(phone="13900000000", api_key="sk-iflow-subprocess-key"))
    run = cli.login(fake, "iflow", *login_flags(free_port(), "--label", "phone"))
    httpx.get(consent(run.url()))
    rc, out, err = run.finish()
    assert rc == 0, err
    [account] = cli.accounts()
    assert (account["id"], account["label"]) == ("iflow-13900000000", "phone")
    [secret_file] = list((cli.home / "data" / "secrets").iterdir())
    assert json.loads(secret_file.read_text())["api_key"] == "sk-iflow-subprocess-key"
    assert_no_secret_outside_the_store(cli.home, secrets_of(fake, "sk-iflow-subprocess-key"),
                                       out, err)


def test_qwen_device_login_shows_the_code_and_polls(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeQwen(script=["authorization_pending"], interval=1))
    run = cli.login(fake, "qwen", "--no-browser", "--label", "me@example.com", "--timeout", "20")
    httpx.get(run.url())  # the person opens the verification page and approves
    rc, out, err = run.finish()
    assert rc == 0, err
    assert "ABCD-1234" in err
    [account] = cli.accounts()
    assert (account["id"], account["resource_url"]) == ("qwen-me@example.com", "portal.qwen.ai")
    assert_no_secret_outside_the_store(cli.home, secrets_of(fake), out, err)


def test_logging_in_again_updates_the_account_instead_of_adding_one(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeClaude(email="ada@example.com"))
    for _ in range(2):
        run = cli.login(fake, "claude", *login_flags(free_port()))
        httpx.get(consent(run.url()))
        rc, _, err = run.finish()
        assert rc == 0, err
    assert "updated account" in err
    assert [a["id"] for a in cli.accounts()] == ["claude-ada@example.com"]


# -- failures --------------------------------------------------------------------------------------


def test_a_callback_with_a_wrong_state_is_refused(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeClaude())
    run = cli.login(fake, "claude", *login_flags(free_port()))
    page = httpx.get(tamper_state(consent(run.url())))
    rc, _, err = run.finish()
    assert rc == 4
    assert page.status_code == 400
    assert "state does not match" in err
    assert "Traceback" not in err
    assert fake.calls("/v1/oauth/token") == []
    assert cli.accounts() == []


def test_denied_consent_ends_the_login_clearly(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeGoogle())
    fake.deny = True
    run = cli.login(fake, "gemini", *login_flags(free_port()))
    page = httpx.get(consent(run.url()))
    rc, _, err = run.finish()
    assert rc == 4
    assert "Login failed" in page.text
    assert "Google authorization was denied (access_denied" in err
    assert "Traceback" not in err


def test_no_authorization_within_the_timeout(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeCodex())
    run = cli.login(fake, "codex", "--no-browser", "--callback-port", str(free_port()),
                    "--timeout", "1")
    run.url()
    rc, _, err = run.finish()
    assert rc == 4
    assert "no OpenAI authorization arrived within 1 second" in err
    assert "--timeout" in err


def test_a_taken_callback_port_names_the_fix(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeIflow())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = cli.login(fake, "iflow", *login_flags(port))
        rc, _, err = run.finish()
    assert rc == 4
    assert f"127.0.0.1:{port} is already in use" in err
    assert "--callback-port" in err
    assert "http://" not in err  # failed before sending anyone to the browser


def test_an_ineligible_google_account_reads_googles_reason(cli: Cli, fakes: Fakes) -> None:
    fake = start(fakes, FakeGoogle(code_assist=CodeAssistScript(mode="ineligible")))
    run = cli.login(fake, "gemini", *login_flags(free_port()))
    httpx.get(consent(run.url()))
    rc, _, err = run.finish()
    assert rc == 4
    flat = " ".join(err.split())
    assert INELIGIBLE_REASON in flat
    assert "Traceback" not in err
    assert cli.accounts() == []


# -- help ------------------------------------------------------------------------------------------


def test_help_states_the_common_flags_and_the_redirect_rule() -> None:
    from typer.testing import CliRunner

    from cliproxy_cli.cli.app import app

    runner = CliRunner()
    for provider in ("gemini", "claude", "codex", "qwen", "iflow"):
        result = runner.invoke(app, ["login", provider, "--help"], env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        for flag in ("--no-browser", "--label", "--timeout"):
            assert flag in result.output
        assert ("--callback-port" in result.output) is (provider != "qwen")
    claude_help = runner.invoke(app, ["login", "claude", "--help"], env={"COLUMNS": "200"}).output
    assert "registered redirect URI" in " ".join(claude_help.split())
    assert "--project-id" in runner.invoke(app, ["login", "gemini", "--help"]).output
