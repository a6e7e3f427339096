"""Credential stores (keyring against an in-memory backend, 0600 files, memory) and the index."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import open_repository
from cliproxy_cli.accounts.store import FileStore, KeyringStore, MemoryStore
from cliproxy_cli.errors import AccountNotFoundError, ConfigError, NoCredentialsError
from cliproxy_cli.paths import resolve_paths

BUNDLE = TokenBundle(access_token="sk-ant-oat01-access-secret", refresh_token="refresh-secret-1")


@pytest.mark.parametrize("make", [MemoryStore, KeyringStore, lambda: FileStore(Path("."))])
def test_store_round_trip(make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = make()
    store.put("claude-a", BUNDLE)
    assert store.get("claude-a") == BUNDLE
    store.delete("claude-a")
    store.delete("claude-a")  # idempotent
    with pytest.raises(NoCredentialsError):
        store.get("claude-a")


def test_keyring_store_uses_service_cliproxy(fake_keyring) -> None:
    KeyringStore().put("codex-x", BUNDLE)
    assert ("cliproxy", "codex-x") in fake_keyring.entries


def test_file_store_is_private(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    FileStore(folder).put("gemini-a@b.c", BUNDLE)
    files = list(folder.iterdir())
    assert len(files) == 1
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_bundle_repr_masks_secrets() -> None:
    text = repr(BUNDLE) + str(BUNDLE)
    assert "access-secret" not in text and "refresh-secret" not in text


def _repo(kind: str = "auto", notices: list[str] | None = None):
    return open_repository(resolve_paths(), kind,
                           notice=(notices if notices is not None else []).append)


def test_keyring_holds_secrets_and_index_holds_none(fake_keyring, cliproxy_home: Path) -> None:
    repo = _repo()
    saved = repo.save(Account("claude-a", ProviderName.CLAUDE, email="a@example.com"), BUNDLE)
    assert saved.store == "keyring"
    index = (cliproxy_home / "data" / "accounts.json").read_text()
    assert "access-secret" not in index and "refresh-secret" not in index
    assert json.loads(index)["accounts"][0]["email"] == "a@example.com"
    assert repo.secret(repo.get("claude-a")) == BUNDLE
    assert stat.S_IMODE((cliproxy_home / "data" / "accounts.json").stat().st_mode) == 0o600


def test_file_fallback_is_announced_once(monkeypatch: pytest.MonkeyPatch,
                                         cliproxy_home: Path) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    notices: list[str] = []
    repo = _repo(notices=notices)
    _repo(notices=notices)
    assert len(notices) == 1 and "0600 files" in notices[0]
    saved = repo.save(Account("qwen-me", ProviderName.QWEN), BUNDLE)
    assert saved.store == "file"
    secret_file = next((cliproxy_home / "data" / "secrets").iterdir())
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_explicit_keyring_without_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())
    with pytest.raises(ConfigError, match="no usable keyring backend"):
        _repo("keyring")


def test_file_store_when_configured(fake_keyring) -> None:
    repo = _repo("file")
    assert repo.save(Account("x", ProviderName.IFLOW), BUNDLE).store == "file"
    assert fake_keyring.entries == {}


def test_update_remove_and_prefix_lookup(fake_keyring) -> None:
    repo = _repo()
    repo.save(Account("claude-alice", ProviderName.CLAUDE), BUNDLE)
    repo.save(Account("codex-bob", ProviderName.CODEX), BUNDLE)
    assert repo.get("claude-a").id == "claude-alice"
    repo.update("claude-alice", disabled=True)
    assert repo.get("claude-alice").disabled
    removed = repo.remove("codex-bob")
    assert removed.id == "codex-bob"
    assert ("cliproxy", "codex-bob") not in fake_keyring.entries
    with pytest.raises(AccountNotFoundError):
        repo.get("codex-bob")


def test_resave_keeps_added_time_and_store(fake_keyring) -> None:
    repo = _repo()
    first = repo.save(Account("claude-a", ProviderName.CLAUDE), BUNDLE)
    again = repo.save(Account("claude-a", ProviderName.CLAUDE, email="new@x.y"),
                      BUNDLE.replace(access_token="new"))
    assert again.added_at == first.added_at and again.store == "keyring"
    assert len(repo.list()) == 1
