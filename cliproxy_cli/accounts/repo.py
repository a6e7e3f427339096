"""The account repository: the non-secret index plus the store that holds each account's secret.

The index (``<data>/accounts.json``) is shared by the CLI and a running server; writes take an
exclusive ``flock`` and replace the file atomically, so a ``cliproxy login`` while ``serve`` runs
never loses an account. ``version()`` lets the server notice changes cheaply (hot reload).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from cliproxy_cli import jsonio
from cliproxy_cli.accounts.model import Account, TokenBundle
from cliproxy_cli.accounts.store import (
    CredentialStore,
    FileStore,
    KeyringStore,
    MemoryStore,
    keyring_usable,
)
from cliproxy_cli.errors import AccountNotFoundError, ConfigError, StoreUnavailableError
from cliproxy_cli.paths import Paths, ensure_private_dir, write_private

logger = logging.getLogger(__name__)

INDEX_VERSION: Final = 1
FILE_FALLBACK_NOTICE: Final = (
    "No usable OS keyring backend: account secrets are stored in 0600 files under {folder}. "
    "Set `credential-store: keyring` once a keyring is available, or `credential-store: file` "
    "to silence this notice."
)


class AccountRepository:
    """Accounts in the index, their secrets in the store named by each account."""

    def __init__(
        self,
        index_file: Path,
        stores: dict[str, CredentialStore],
        default_store: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.index_file = index_file
        self.stores = stores
        self.default_store = default_store
        self.clock = clock
        self._memory_index: dict[str, Account] | None = None

    # -- reading ------------------------------------------------------------------------------

    def version(self) -> tuple[int, int] | None:
        try:
            st = self.index_file.stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def list(self) -> list[Account]:
        return sorted(self._read().values(), key=lambda a: (str(a.provider), a.id))

    def get(self, account_id: str) -> Account:
        accounts = self._read()
        if account_id in accounts:
            return accounts[account_id]
        matches = [a for a in accounts.values() if a.id.startswith(account_id)]
        if len(matches) == 1:
            return matches[0]
        hint = "run `cliproxy accounts list` to see the ids"
        if len(matches) > 1:
            raise AccountNotFoundError(f"account id {account_id!r} is ambiguous", hint=hint)
        raise AccountNotFoundError(f"no account with id {account_id!r}", hint=hint)

    def secret(self, account: Account) -> TokenBundle:
        return self._store(account.store).get(account.id)

    # -- writing ------------------------------------------------------------------------------

    def save(self, account: Account, bundle: TokenBundle | None = None) -> Account:
        """Add or update an account (and its secret, when given). Returns what was stored."""
        with self._locked() as accounts:
            existing = accounts.get(account.id)
            if existing is not None and account.added_at == 0.0:
                account = account.replace(added_at=existing.added_at)
            elif account.added_at == 0.0:
                account = account.replace(added_at=self.clock())
            # The repository decides the store: where the account already lives, else the default.
            account = account.replace(
                store=existing.store if existing is not None else self.default_store
            )
            if bundle is not None:
                self._store(account.store).put(account.id, bundle)
            accounts[account.id] = account
        return account

    def update(self, account_id: str, **changes: Any) -> Account:
        with self._locked() as accounts:
            if account_id not in accounts:
                raise AccountNotFoundError(f"no account with id {account_id!r}")
            account = accounts[account_id].replace(**changes)
            accounts[account_id] = account
        return account

    def update_many(self, changes: dict[str, dict[str, Any]]) -> None:
        """Apply field changes to several accounts in one write (ids that are gone are skipped)."""
        if not changes:
            return
        with self._locked() as accounts:
            for account_id, fields in changes.items():
                if account_id in accounts:
                    accounts[account_id] = accounts[account_id].replace(**fields)

    def put_secret(self, account: Account, bundle: TokenBundle) -> None:
        self._store(account.store).put(account.id, bundle)

    def remove(self, account_id: str) -> Account:
        account = self.get(account_id)
        with self._locked() as accounts:
            accounts.pop(account.id, None)
        self._store(account.store).delete(account.id)
        return account

    # -- internals ----------------------------------------------------------------------------

    def _store(self, name: str) -> CredentialStore:
        try:
            return self.stores[name]
        except KeyError:
            raise StoreUnavailableError(
                f"the credential store {name!r} is not available here",
                hint="set `credential-store` to the store your accounts were saved in",
            ) from None

    def _read(self) -> dict[str, Account]:
        if self._memory_index is not None:
            return dict(self._memory_index)
        try:
            raw = self.index_file.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            doc = jsonio.loads(raw)
            return {a["id"]: Account.from_dict(a) for a in doc.get("accounts", [])}
        except (jsonio.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise StoreUnavailableError(f"the account index {self.index_file} is damaged") from exc

    def _write(self, accounts: dict[str, Account]) -> None:
        doc = {"version": INDEX_VERSION,
               "accounts": [a.to_dict() for a in sorted(accounts.values(), key=lambda a: a.id)]}
        write_private(self.index_file, jsonio.dumps(doc))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Account]]:
        ensure_private_dir(self.index_file.parent)
        lock_path = self.index_file.with_suffix(".lock")
        with open(lock_path, "a+b") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                accounts = self._read()
                yield accounts
                self._write(accounts)
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def open_repository(
    paths: Paths,
    store_kind: str,
    *,
    notice: Callable[[str], None] | None = None,
    clock: Callable[[], float] = time.time,
) -> AccountRepository:
    """The repository for this machine: keyring when usable (or asked for), else 0600 files.

    Every store that can be opened is registered, so accounts saved in another store stay usable.
    """
    file_store = FileStore(paths.secrets_dir)
    stores: dict[str, CredentialStore] = {"file": file_store, "memory": MemoryStore()}
    usable = keyring_usable()
    if usable:
        stores["keyring"] = KeyringStore()
    if store_kind == "keyring":
        if not usable:
            raise ConfigError(
                "credential-store: keyring was asked for, but no usable keyring backend exists",
                hint="install and unlock a keyring (e.g. Secret Service), or use `credential-store: file`",
            )
        default = "keyring"
    elif store_kind == "file":
        default = "file"
    else:
        default = "keyring" if usable else "file"
        if not usable and notice is not None:
            marker = paths.data_dir / ".file-store-notice"
            if not marker.exists():
                notice(FILE_FALLBACK_NOTICE.format(folder=paths.secrets_dir))
                ensure_private_dir(paths.data_dir)
                marker.touch()
    return AccountRepository(paths.index_file, stores, default, clock=clock)
