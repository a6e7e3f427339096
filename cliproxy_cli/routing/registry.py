"""The model registry: which credentials serve which model ids (SPEC §8).

Built once from the config and the accounts (and rebuilt on hot reload), then read-only:
``resolve(model)`` is a dict lookup on the hot path.
"""

from __future__ import annotations

import fnmatch
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from cliproxy_cli.accounts.credential import Credential, ServedModel
from cliproxy_cli.accounts.model import Account
from cliproxy_cli.config import ApiKeyEntry, Config, ModelAlias
from cliproxy_cli.routing.builtin_models import BUILTIN_MODELS, OWNED_BY

API_KEY_PROVIDERS: Final = (
    ("claude-api-key", "claude"),
    ("gemini-api-key", "gemini"),
    ("codex-api-key", "codex"),
)


@dataclass(frozen=True, slots=True)
class Route:
    """One way to serve a request: a credential and the model name to send upstream."""

    credential: Credential
    upstream_model: str


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    owned_by: str
    providers: tuple[str, ...]
    credentials: tuple[str, ...]


def matches(patterns: Iterable[str], model: str) -> bool:
    """``*`` wildcards anywhere, case-insensitive (CLIProxyAPI's exclusion semantics)."""
    name = model.lower()
    return any(fnmatch.fnmatchcase(name, p.lower()) for p in patterns)


def _key_id(section: str, index: int, api_key: str) -> str:
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:8]
    return f"{section}:{index}:{digest}"


def _served(models: Sequence[ModelAlias], owned_by: str) -> tuple[ServedModel, ...]:
    return tuple(ServedModel(m.alias or m.name, m.name, owned_by) for m in models)


def _builtin(key: str) -> tuple[ServedModel, ...]:
    owner = OWNED_BY.get(key, key)
    return tuple(ServedModel(m, m, owner) for m in BUILTIN_MODELS.get(key, ()))


def _exclude(models: tuple[ServedModel, ...], patterns: Sequence[str]) -> tuple[ServedModel, ...]:
    if not patterns:
        return models
    return tuple(m for m in models if not matches(patterns, m.id))


def api_key_credentials(config: Config) -> list[Credential]:
    out: list[Credential] = []
    for section, provider in API_KEY_PROVIDERS:
        entries: tuple[ApiKeyEntry, ...] = getattr(config, section.replace("-", "_"))
        for i, e in enumerate(entries):
            builtin_key = "gemini_api" if provider == "gemini" else provider
            owner = OWNED_BY.get(builtin_key, provider)
            models = _served(e.models, owner) if e.models else _builtin(builtin_key)
            out.append(Credential(
                id=_key_id(section, i, e.api_key), provider=provider, kind="api_key",
                label=f"{section}[{i}]", base_url=e.base_url, headers=e.headers,
                proxy_url=e.proxy_url or config.proxy_url, prefix=e.prefix, priority=e.priority,
                models=_exclude(models, e.excluded_models), api_key=e.api_key,
            ))
    for i, c in enumerate(config.openai_compatibility):
        keys = c.api_key_entries or ()
        models = _exclude(_served(c.models, c.name), c.excluded_models)
        for j, k in enumerate(keys or [None]):
            api_key = k.api_key if k is not None else ""
            out.append(Credential(
                id=_key_id(f"openai-compatibility:{c.name}", j, api_key or str(i)),
                provider="openai_compat", kind="api_key", label=f"{c.name}[{j}]",
                base_url=c.base_url, headers=c.headers,
                proxy_url=(k.proxy_url if k is not None else "") or config.proxy_url,
                prefix=c.prefix, priority=c.priority, models=models, api_key=api_key,
                compat_name=c.name,
            ))
    return out


def account_credential(account: Account, config: Config) -> Credential:
    provider = str(account.provider)
    excluded = (*account.excluded_models, *config.oauth_excluded_models.get(provider, ()))
    models = _exclude(_builtin(provider), excluded)
    aliases = config.oauth_model_alias.get(provider, ())
    if aliases:
        models = _apply_aliases(models, aliases)
    return Credential(
        id=account.id, provider=provider, kind="oauth", label=account.display_name,
        proxy_url=account.proxy_url or config.proxy_url, prefix=account.prefix,
        priority=account.priority, models=models, account=account,
    )


def _apply_aliases(
    models: tuple[ServedModel, ...], aliases: Sequence[ModelAlias]
) -> tuple[ServedModel, ...]:
    by_name = {a.name.lower(): a for a in aliases}
    out: list[ServedModel] = []
    for m in models:
        alias = by_name.get(m.upstream.lower())
        if alias is None:
            out.append(m)
            continue
        if alias.fork:
            out.append(m)
        out.append(ServedModel(alias.alias, m.upstream, m.owned_by))
    return tuple(out)


class ModelRegistry:
    """model id → routes, in credential-id order (the selector rotates over them)."""

    def __init__(self, credentials: Sequence[Credential], *, force_prefix: bool = False) -> None:
        self.credentials = tuple(credentials)
        self.by_id: dict[str, Credential] = {c.id: c for c in credentials}
        routes: dict[str, list[Route]] = {}
        self._canonical: dict[str, str] = {}
        for cred in sorted(credentials, key=lambda c: c.id):
            for m in cred.models:
                names: list[str] = []
                if cred.prefix:
                    names.append(f"{cred.prefix}/{m.id}")
                    if not force_prefix or cred.prefix == m.id:
                        names.append(m.id)
                else:
                    names.append(m.id)
                for name in names:
                    routes.setdefault(name, []).append(Route(cred, m.upstream))
        self._routes: dict[str, tuple[Route, ...]] = {k: tuple(v) for k, v in routes.items()}
        for name in self._routes:
            self._canonical.setdefault(name.lower(), name)

    def resolve(self, model: str) -> tuple[Route, ...]:
        found = self._routes.get(model)
        if found is None:
            canonical = self._canonical.get(model.lower())
            found = self._routes.get(canonical, ()) if canonical else ()
        return found

    def models(self, provider: str | None = None) -> list[ModelInfo]:
        out: list[ModelInfo] = []
        for name in sorted(self._routes):
            routes = self._routes[name]
            if provider is not None:
                routes = tuple(r for r in routes if r.credential.provider == provider)
                if not routes:
                    continue
            owner = next((m.owned_by for m in routes[0].credential.models
                          if name.endswith(m.id)), routes[0].credential.provider)
            out.append(ModelInfo(
                id=name, owned_by=owner,
                providers=tuple(dict.fromkeys(r.credential.provider for r in routes)),
                credentials=tuple(r.credential.id for r in routes),
            ))
        return out


def build_registry(config: Config, accounts: Iterable[Account]) -> ModelRegistry:
    creds = api_key_credentials(config)
    for account in accounts:
        if account.disabled or account.expired:
            continue
        creds.append(account_credential(account, config))
    return ModelRegistry(creds, force_prefix=config.force_model_prefix)

