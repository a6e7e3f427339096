"""Importing CLIProxyAPI auth files: real shapes per provider, idempotence, skips and errors."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cliproxy_cli.accounts.importer import ImportResult, import_path, parse_time
from cliproxy_cli.accounts.model import ProviderName
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.accounts.store import FileStore, KeyringStore, MemoryStore
from tests.conftest import FakeKeyring

DATA = Path(__file__).parent.parent / "data" / "cliproxyapi_auth"
FAKE_SECRETS = ("ya29.FAKE-gemini-access", "1//0gFAKE-gemini-refresh", "fake-ant-oat01-x-FAKE",
                "fake-ant-ort01-x-FAKE", "rt_FAKE-codex-refresh", "FAKE-qwen-refresh",
                "sk-FAKE-iflow-api-key", "FAKE-iflow-refresh")


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.fixture
def repo(tmp_path: Path) -> AccountRepository:
    data = tmp_path / "data"
    return AccountRepository(
        data / "accounts.json",
        {"keyring": KeyringStore(), "file": FileStore(data / "secrets"), "memory": MemoryStore()},
        "keyring",
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "cli-proxy-api"
    shutil.copytree(DATA, target)
    return target


def by_status(results: list[ImportResult]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in results:
        out.setdefault(r.status, []).append(r.account_id or r.file.name)
    return out


def test_gemini_file_with_nested_token(repo: AccountRepository) -> None:
    (result,) = import_path(repo, DATA / "gemini-gem-user@example.com-my-proj-123.json")
    assert result.status == "added"
    assert result.account_id == "gemini-gem-user@example.com-my-proj-123"
    account = repo.get(result.account_id)
    assert account.provider is ProviderName.GEMINI
    assert (account.email, account.project_id) == ("gem-user@example.com", "my-proj-123")
    assert account.expires_at == pytest.approx(ts("2026-02-20T10:00:00.123+08:00"))
    assert account.source == "import:gemini-gem-user@example.com-my-proj-123.json"
    bundle = repo.secret(account)
    assert (bundle.access_token, bundle.refresh_token) == ("ya29.FAKE-gemini-access",
                                                           "1//0gFAKE-gemini-refresh")
    assert bundle.extra == {}  # the standard Gemini CLI client: nothing to remember


def test_gemini_comma_project_list_gives_one_account_per_project(repo: AccountRepository) -> None:
    results = import_path(repo, DATA / "gemini-multi@example.com-all.json")
    assert [r.account_id for r in results] == [
        "gemini-multi@example.com-proj-alpha", "gemini-multi@example.com-proj-beta",
        "gemini-multi@example.com-proj-gamma"]
    assert {r.status for r in results} == {"added"}
    projects = {repo.get(r.account_id).project_id for r in results}
    assert projects == {"proj-alpha", "proj-beta", "proj-gamma"}
    tokens = {repo.secret(repo.get(r.account_id)).refresh_token for r in results}
    assert tokens == {"1//0gFAKE-multi-refresh"}


def test_claude_file(repo: AccountRepository) -> None:
    (result,) = import_path(repo, DATA / "claude-claude-user@example.com.json")
    account = repo.get(result.account_id)
    assert account.id == "claude-claude-user@example.com"
    assert account.email == "claude-user@example.com"
    assert account.expires_at == ts("2026-02-20T16:00:00+08:00")
    assert account.last_refresh_at == ts("2026-02-20T08:00:00+08:00")
    assert repo.secret(account).refresh_token == "fake-ant-ort01-x-FAKE-claude-refresh"


def test_codex_file_reads_account_and_plan(repo: AccountRepository) -> None:
    (result,) = import_path(repo, DATA / "codex-codex-user@example.com-plus.json")
    account = repo.get(result.account_id)
    assert account.id == "codex-codex-user@example.com"
    assert account.account_id == "00000000-1111-2222-3333-444444444444"
    assert account.plan == "plus"
    assert account.expires_at == ts("2026-02-25T08:00:00+00:00")
    bundle = repo.secret(account)
    assert bundle.id_token.count(".") == 2
    assert bundle.refresh_token == "rt_FAKE-codex-refresh"


def test_qwen_file_uses_the_alias_as_label(repo: AccountRepository) -> None:
    (result,) = import_path(repo, DATA / "qwen-my-alias.json")
    account = repo.get(result.account_id)
    assert account.id == "qwen-my-alias"
    assert (account.label, account.email) == ("my-alias", "")
    assert account.resource_url == "portal.qwen.ai"


def test_iflow_file_keeps_api_key_and_optional_keys(repo: AccountRepository) -> None:
    (result,) = import_path(repo, DATA / "iflow-13800000000-1760000000.json")
    account = repo.get(result.account_id)
    assert account.id == "iflow-13800000000"
    assert (account.prefix, account.priority, account.excluded_models) == ("cn", 5,
                                                                          ("deepseek-*",))
    bundle = repo.secret(account)
    assert bundle.api_key == "sk-FAKE-iflow-api-key"
    assert bundle.token_type == "bearer"


def test_folder_import_adds_every_provider_and_skips_unknown_types(
    repo: AccountRepository, folder: Path, fake_keyring: FakeKeyring
) -> None:
    results = import_path(repo, folder)
    statuses = by_status(results)
    assert len(statuses["added"]) == 8  # 5 files, the multi-project gemini file counts 3
    assert sorted(statuses["skipped"]) == ["antigravity-ag-user@example.com.json",
                                           "kimi-1760000000000.json", "vertex-my-proj.json"]
    reasons = {r.reason for r in results if r.status == "skipped"}
    assert reasons == {"type 'antigravity' is not a provider cliproxy serves",
                       "type 'kimi' is not a provider cliproxy serves",
                       "type 'vertex' is not a provider cliproxy serves"}
    assert "error" not in statuses  # the invalid/ subfolder is not read
    # secrets went to the default store only, never into the index
    index = repo.index_file.read_text()
    for secret in FAKE_SECRETS:
        assert secret not in index
    assert {a.store for a in repo.list()} == {"keyring"}
    assert len(fake_keyring.entries) == 8
    assert not (repo.index_file.parent / "secrets").exists()


def test_reimport_is_idempotent(repo: AccountRepository, folder: Path) -> None:
    first = import_path(repo, folder)
    ids = sorted(a.id for a in repo.list())
    second = import_path(repo, folder)
    assert sorted(a.id for a in repo.list()) == ids
    assert [r.account_id for r in second] == [r.account_id for r in first]
    assert {r.status for r in second if r.account_id} == {"unchanged"}


def test_reimport_of_a_changed_file_updates_the_same_account(
    repo: AccountRepository, tmp_path: Path
) -> None:
    file = tmp_path / "claude-someone.json"
    doc: dict[str, Any] = json.loads((DATA / "claude-claude-user@example.com.json").read_text())
    file.write_text(json.dumps(doc))
    (added,) = import_path(repo, file)
    doc.update(access_token="fake-ant-oat01-x-FAKE-newer", expired="2026-03-01T00:00:00Z")
    file.write_text(json.dumps(doc))
    (updated,) = import_path(repo, file)
    assert (updated.status, updated.account_id) == ("updated", added.account_id)
    assert len(repo.list()) == 1
    assert repo.secret(repo.get(added.account_id)).access_token == "fake-ant-oat01-x-FAKE-newer"


def test_reimport_of_an_older_file_keeps_newer_stored_tokens(
    repo: AccountRepository, tmp_path: Path
) -> None:
    (added,) = import_path(repo, DATA / "claude-claude-user@example.com.json")
    account = repo.get(added.account_id)
    refreshed = repo.secret(account).replace(refresh_token="fake-ant-ort01-x-FAKE-rotated")
    repo.put_secret(account, refreshed)
    repo.update(account.id, expires_at=ts("2026-03-01T00:00:00+00:00"))
    (again,) = import_path(repo, DATA / "claude-claude-user@example.com.json")
    assert again.status == "unchanged"
    assert "newer" in again.reason
    assert repo.secret(repo.get(account.id)).refresh_token == "fake-ant-ort01-x-FAKE-rotated"


def test_disabled_flag_is_read_and_a_file_without_it_keeps_the_users_choice(
    repo: AccountRepository, tmp_path: Path
) -> None:
    file = tmp_path / "qwen-x.json"
    file.write_text(json.dumps({"type": "qwen", "access_token": "FAKE-a", "refresh_token":
                                "FAKE-r", "email": "x", "disabled": True}))
    (result,) = import_path(repo, file)
    assert repo.get(result.account_id).disabled is True
    repo.update(result.account_id, disabled=False)
    file.write_text(json.dumps({"type": "qwen", "access_token": "FAKE-a", "refresh_token":
                                "FAKE-r", "email": "x"}))
    (again,) = import_path(repo, file)
    assert again.status == "unchanged"
    assert repo.get(result.account_id).disabled is False  # the user's choice stays


def test_invalid_files_are_errors_with_reasons(repo: AccountRepository) -> None:
    results = {r.file.name: r for r in import_path(repo, DATA / "invalid")}
    assert results["broken.json"].status == "error"
    assert results["broken.json"].reason == "not valid JSON"
    assert results["list.json"].reason == "not a JSON object"
    assert results["no-tokens.json"].reason == \
        "no access token, refresh token or API key in the file"
    assert repo.list() == []


def test_missing_path_and_untyped_file(repo: AccountRepository, tmp_path: Path) -> None:
    (missing,) = import_path(repo, tmp_path / "nope.json")
    assert (missing.status, missing.reason) == ("error", "no such file or folder")
    untyped = tmp_path / "plain.json"
    untyped.write_text(json.dumps({"access_token": "FAKE"}))
    (skipped,) = import_path(repo, untyped)
    assert (skipped.status, skipped.reason) == ("skipped", 'no "type" field')


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("expire", "2026-02-20T10:00:00Z", ts("2026-02-20T10:00:00+00:00")),
    ("expires_at", 1771581600, 1771581600.0),
    ("expiresAt", 1771581600123, 1771581600.123),
    ("expiry", "2026-02-20 10:00:00", datetime(2026, 2, 20, 10, 0, 0).timestamp()),
    ("expires", "1771581600", 1771581600.0),
])
def test_every_expiry_key_and_form_is_understood(
    repo: AccountRepository, tmp_path: Path, key: str, value: object, expected: float
) -> None:
    file = tmp_path / "claude-k@example.com.json"
    file.write_text(json.dumps({"type": "claude", "access_token": "FAKE-a",
                                "refresh_token": "FAKE-r", "email": "k@example.com", key: value}))
    (result,) = import_path(repo, file)
    assert repo.get(result.account_id).expires_at == pytest.approx(expected)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-02-20T10:00:00.123456789+08:00", ts("2026-02-20T10:00:00.123456+08:00")),
    ("2026-02-20T10:00:00Z", ts("2026-02-20T10:00:00+00:00")),
    ("2026-02-20 10:00", datetime(2026, 2, 20, 10, 0).timestamp()),
    (1771581600.5, 1771581600.5),
    ("soon", None),
    ("", None),
    (True, None),
    (0, None),
])
def test_parse_time(text: object, expected: float | None) -> None:
    assert parse_time(text) == (pytest.approx(expected) if expected is not None else None)


def test_identity_falls_back_to_the_file_name(repo: AccountRepository, tmp_path: Path) -> None:
    file = tmp_path / "claude-nameless@example.com.json"
    file.write_text(json.dumps({"type": "claude", "access_token": "FAKE-a"}))
    (result,) = import_path(repo, file)
    assert result.account_id == "claude-nameless@example.com"
