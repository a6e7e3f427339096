"""Where account secrets live: the OS keyring, 0600 files, or memory (tests, embedding).

All three speak ``CredentialStore``; the non-secret index (``index.py``) records which store holds
each account, so listing accounts never unlocks the keyring.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Final, Protocol

from cliproxy_cli import jsonio
from cliproxy_cli.accounts.model import TokenBundle
from cliproxy_cli.errors import NoCredentialsError, StoreUnavailableError
from cliproxy_cli.paths import ensure_private_dir, write_private

logger = logging.getLogger(__name__)

KEYRING_SERVICE: Final = "cliproxy"


class CredentialStore(Protocol):
    name: str

    def get(self, account_id: str) -> TokenBundle: ...

    def put(self, account_id: str, bundle: TokenBundle) -> None: ...

    def delete(self, account_id: str) -> None: ...


class MemoryStore:
    name = "memory"

    def __init__(self) -> None:
        self._data: dict[str, TokenBundle] = {}

    def get(self, account_id: str) -> TokenBundle:
        try:
            return self._data[account_id]
        except KeyError:
            raise NoCredentialsError(f"no stored secret for account {account_id}") from None

    def put(self, account_id: str, bundle: TokenBundle) -> None:
        self._data[account_id] = bundle

    def delete(self, account_id: str) -> None:
        self._data.pop(account_id, None)


class FileStore:
    """One 0600 JSON file per account under ``<data>/secrets/`` (folder 0700)."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, account_id: str) -> Path:
        safe = re.sub(r"[^A-Za-z0-9._@+-]", "_", account_id)
        return self.folder / f"{safe}.json"

    def get(self, account_id: str) -> TokenBundle:
        path = self._path(account_id)
        try:
            data = jsonio.loads(path.read_bytes())
        except FileNotFoundError:
            raise NoCredentialsError(f"no stored secret for account {account_id}",
                                     hint="log in again or re-import the account") from None
        except (OSError, jsonio.JSONDecodeError) as exc:
            raise StoreUnavailableError(f"cannot read secret file {path}") from exc
        return TokenBundle.from_dict(data)

    def put(self, account_id: str, bundle: TokenBundle) -> None:
        ensure_private_dir(self.folder)
        write_private(self._path(account_id), jsonio.dumps(bundle.to_dict()))

    def delete(self, account_id: str) -> None:
        self._path(account_id).unlink(missing_ok=True)


class KeyringStore:
    """Secrets in the OS keyring under service ``cliproxy``, one entry per account id."""

    name = "keyring"

    def __init__(self, service: str = KEYRING_SERVICE) -> None:
        self.service = service

    def get(self, account_id: str) -> TokenBundle:
        import keyring
        import keyring.errors

        try:
            raw = keyring.get_password(self.service, account_id)
        except keyring.errors.KeyringError as exc:
            raise StoreUnavailableError(
                f"the keyring refused to give the secret of {account_id}: {type(exc).__name__}",
                hint="unlock the keyring, or set `credential-store: file`",
            ) from exc
        if raw is None:
            raise NoCredentialsError(f"no keyring entry for account {account_id}",
                                     hint="log in again or re-import the account")
        return TokenBundle.from_dict(jsonio.loads(raw))

    def put(self, account_id: str, bundle: TokenBundle) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.set_password(self.service, account_id, jsonio.dumps(bundle.to_dict()).decode())
        except keyring.errors.KeyringError as exc:
            raise StoreUnavailableError(
                f"the keyring refused to store the secret of {account_id}: {type(exc).__name__}",
                hint="set `credential-store: file` to use 0600 files instead",
            ) from exc

    def delete(self, account_id: str) -> None:
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(self.service, account_id)
        except keyring.errors.PasswordDeleteError:
            pass
        except keyring.errors.KeyringError as exc:
            raise StoreUnavailableError(
                f"the keyring refused to delete the secret of {account_id}"
            ) from exc


def keyring_usable() -> bool:
    """True when a real keyring backend is installed (not the fail/null backends)."""
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:  # pragma: no cover - keyring is a dependency
        return False
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False
    try:
        from keyring.backends import null

        if isinstance(backend, null.Keyring):
            return False
    except ImportError:  # pragma: no cover
        pass
    priority = getattr(type(backend), "priority", 1)
    try:
        return float(priority) > 0
    except (TypeError, ValueError):  # pragma: no cover
        return True
