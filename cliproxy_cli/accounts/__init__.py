"""Accounts: the Account model, the credential stores (keyring, file, memory) and the index."""

from cliproxy_cli.accounts.model import Account, AccountStatus, ProviderName, TokenBundle
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.accounts.store import CredentialStore, FileStore, KeyringStore, MemoryStore

__all__ = [
    "Account",
    "AccountRepository",
    "AccountStatus",
    "CredentialStore",
    "FileStore",
    "KeyringStore",
    "MemoryStore",
    "ProviderName",
    "TokenBundle",
]
