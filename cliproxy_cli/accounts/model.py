"""The Account (non-secret metadata) and its TokenBundle (the secrets), as frozen values."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cliproxy_cli.redact import mask


class ProviderName(StrEnum):
    GEMINI = "gemini"
    CLAUDE = "claude"
    CODEX = "codex"
    QWEN = "qwen"
    IFLOW = "iflow"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    COOLING = "cooling"
    DISABLED = "disabled"
    EXPIRED = "expired"
    ERROR = "error"


_SECRET_FIELDS = ("access_token", "refresh_token", "id_token", "api_key", "cookie")


@dataclass(frozen=True, slots=True)
class TokenBundle:
    """The secret half of an account. Its repr masks every value."""

    access_token: str = ""
    refresh_token: str = ""
    id_token: str = ""
    api_key: str = ""
    cookie: str = ""
    token_type: str = "Bearer"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={mask(getattr(self, name))!r}" for name in _SECRET_FIELDS if getattr(self, name)
        )
        return f"TokenBundle({shown})"

    __str__ = __repr__

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in _SECRET_FIELDS if getattr(self, k)}
        out["token_type"] = self.token_type
        if self.extra:
            out["extra"] = dict(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenBundle:
        return cls(
            **{k: str(data.get(k) or "") for k in _SECRET_FIELDS},
            token_type=str(data.get("token_type") or "Bearer"),
            extra=dict(data.get("extra") or {}),
        )

    def replace(self, **changes: Any) -> TokenBundle:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Account:
    """One login: provider + stable id + label + metadata. Never holds a secret."""

    id: str
    provider: ProviderName
    label: str = ""
    email: str = ""
    store: str = "memory"
    disabled: bool = False
    expired: bool = False
    last_error: str = ""
    expires_at: float | None = None
    project_id: str = ""
    resource_url: str = ""
    account_id: str = ""
    plan: str = ""
    prefix: str = ""
    proxy_url: str = ""
    excluded_models: tuple[str, ...] = ()
    priority: int = 0
    source: str = "login"
    added_at: float = 0.0
    last_used_at: float | None = None
    last_refresh_at: float | None = None
    reset_at: float | None = None  # `accounts enable` stamps it; the server clears cooldowns

    def replace(self, **changes: Any) -> Account:
        return dataclasses.replace(self, **changes)

    @property
    def display_name(self) -> str:
        return self.label or self.email or self.id

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["provider"] = str(self.provider)
        out["excluded_models"] = list(self.excluded_models)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Account:
        names = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["provider"] = ProviderName(kwargs["provider"])
        kwargs["excluded_models"] = tuple(kwargs.get("excluded_models") or ())
        return cls(**kwargs)


def make_account_id(provider: ProviderName | str, identity: str) -> str:
    """A stable, shell-friendly id: ``claude-user-example.com`` style, from what identifies it."""
    slug = re.sub(r"[^A-Za-z0-9._@+-]+", "-", identity.strip().lower()).strip("-")
    return f"{provider}-{slug}" if slug else str(provider)
