"""A Credential: one routable unit, an OAuth account or one API key of a config entry.

Routing picks Credentials; providers send requests with them. Neither knows the other, so the
type lives here, below both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from cliproxy_cli.accounts.model import Account, TokenBundle
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.redact import mask


@dataclass(frozen=True, slots=True)
class ServedModel:
    """A model id as clients name it, and the name the upstream knows it by."""

    id: str
    upstream: str
    owned_by: str = ""


@dataclass(frozen=True, slots=True)
class Credential:
    id: str
    provider: str  # a PROVIDERS key: gemini, claude, codex, qwen, iflow, openai_compat
    kind: Literal["oauth", "api_key"]
    label: str = ""
    base_url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    proxy_url: str = field(default="", repr=False)
    prefix: str = ""
    priority: int = 0
    models: tuple[ServedModel, ...] = ()
    api_key: str = field(default="", repr=False)
    account: Account | None = None
    compat_name: str = ""  # openai-compatibility entry name

    def __str__(self) -> str:
        secret = f" key={mask(self.api_key)}" if self.api_key else ""
        return f"{self.id}{secret}"


class TokenSource(Protocol):
    """Gives the secret to use for an OAuth account, refreshing it when due (``oauth.refresh``)."""

    async def credentials(self, account: Account) -> tuple[Account, TokenBundle]: ...

    async def refresh(
        self, account: Account, *, failed_token: str | None = None
    ) -> tuple[Account, TokenBundle]: ...


class StoredTokens:
    """A TokenSource that never refreshes: the stored secret as it is."""

    def __init__(self, repo: AccountRepository) -> None:
        self.repo = repo

    async def credentials(self, account: Account) -> tuple[Account, TokenBundle]:
        return account, self.repo.secret(account)

    async def refresh(
        self, account: Account, *, failed_token: str | None = None
    ) -> tuple[Account, TokenBundle]:
        return account, self.repo.secret(account)
