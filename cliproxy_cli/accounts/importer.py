"""Import CLIProxyAPI auth files (``~/.cli-proxy-api/*.json``) as cliproxy accounts (compat).

One file, or every top-level ``*.json`` of a folder (CLIProxyAPI's watcher reads only the top
level too). Each file has ``"type": "<provider>"``; the five providers cliproxy serves are read
with their real shapes, everything else is skipped with a reason. Importing is idempotent: the
account id comes from the provider and identity (``make_account_id``), so a re-import updates the
same account, and identical content reports ``unchanged``. Stored tokens that are newer than the
file's (refreshed since) are kept: a re-import never rolls a rotated refresh token back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from cliproxy_cli import jsonio
from cliproxy_cli.accounts.identity import codex_identity
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle, make_account_id
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.errors import CredentialError

ImportStatus = Literal["added", "updated", "unchanged", "skipped", "error"]

_TYPES: Final[dict[str, ProviderName]] = {
    "gemini": ProviderName.GEMINI,
    "gemini-cli": ProviderName.GEMINI,
    "claude": ProviderName.CLAUDE,
    "codex": ProviderName.CODEX,
    "qwen": ProviderName.QWEN,
    "iflow": ProviderName.IFLOW,
}
_EXPIRY_KEYS: Final = ("expired", "expire", "expires_at", "expiresAt", "expiry", "expires")
_LAST_REFRESH_KEYS: Final = ("last_refresh", "lastRefresh", "last_refreshed_at", "lastRefreshedAt")
_WALL_FORMATS: Final = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
# The fields an import decides; everything else (added_at, last_used_at, store…) is kept.
_IMPORTED_FIELDS: Final = (
    "label", "email", "project_id", "resource_url", "account_id", "plan", "prefix", "proxy_url",
    "excluded_models", "priority", "disabled", "expires_at", "last_refresh_at", "source",
)
# Google's installed-app client as gemini files record it, to tell a foreign client apart
# (`accounts/` sits below `oauth/`, so the literal is repeated from oauth/clients.py).
_GEMINI_CLIENT_ID: Final = (
    "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
)


@dataclass(frozen=True, slots=True)
class ImportResult:
    file: Path
    status: ImportStatus
    account_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class _Parsed:
    account: Account
    bundle: TokenBundle
    sets_disabled: bool  # the file has a boolean `disabled`; else the stored choice is kept


class _BadFile(Exception):
    """A file that cannot become an account; the message is the user-facing reason."""


def import_path(repo: AccountRepository, path: Path) -> list[ImportResult]:
    """Import one auth file, or every ``*.json`` directly in a folder. One result per account
    (a gemini file listing several projects gives one per project), in file-name order."""
    if path.is_dir():
        files = sorted(p for p in path.glob("*.json") if p.is_file())
    elif path.exists():
        files = [path]
    else:
        return [ImportResult(path, "error", reason="no such file or folder")]
    results: list[ImportResult] = []
    for file in files:
        results.extend(_import_file(repo, file))
    return results


def _import_file(repo: AccountRepository, file: Path) -> list[ImportResult]:
    try:
        doc = jsonio.loads(file.read_bytes())
    except OSError as exc:
        return [ImportResult(file, "error", reason=f"cannot read the file ({exc.strerror})")]
    except jsonio.JSONDecodeError:
        return [ImportResult(file, "error", reason="not valid JSON")]
    if not isinstance(doc, dict):
        return [ImportResult(file, "error", reason="not a JSON object")]
    kind = str(doc.get("type") or "").strip().lower()
    provider = _TYPES.get(kind)
    if provider is None:
        why = f"type {kind!r} is not a provider cliproxy serves" if kind else "no \"type\" field"
        return [ImportResult(file, "skipped", reason=why)]
    try:
        parsed = list(_accounts_from(doc, provider, file))
    except _BadFile as exc:
        return [ImportResult(file, "error", reason=str(exc))]
    results = []
    for item in parsed:
        try:
            status, reason = _store(repo, item)
        except CredentialError as exc:
            results.append(ImportResult(file, "error", item.account.id, exc.message))
            continue
        results.append(ImportResult(file, status, item.account.id, reason))
    return results


# -- reading one file -----------------------------------------------------------------------


def _accounts_from(
    doc: Mapping[str, Any], provider: ProviderName, file: Path
) -> Iterator[_Parsed]:
    nested = doc.get("token")
    token: Mapping[str, Any] = nested if isinstance(nested, dict) else {}
    bundle = _bundle(doc, token, provider)
    if not (bundle.access_token or bundle.refresh_token or bundle.api_key):
        raise _BadFile("no access token, refresh token or API key in the file")
    email = _text(doc.get("email"))
    sets_disabled = isinstance(doc.get("disabled"), bool)
    fields: dict[str, Any] = {
        "label": _text(doc.get("label")),
        "email": email,
        "prefix": _text(doc.get("prefix")).strip("/"),
        "proxy_url": _text(doc.get("proxy_url")),
        "excluded_models": _string_list(doc.get("excluded_models", doc.get("excluded-models"))),
        "priority": _priority(doc.get("priority")),
        "disabled": doc.get("disabled") is True,
        "expires_at": _first_time(doc, token, _EXPIRY_KEYS),
        "last_refresh_at": _first_time(doc, token, _LAST_REFRESH_KEYS),
        "source": f"import:{file.name}",
    }
    fallback = _identity_from_name(file, provider)
    if provider is ProviderName.GEMINI:
        # A comma list of projects is one account per project, sharing the token (compat).
        projects = [p.strip() for p in _text(doc.get("project_id")).split(",") if p.strip()]
        base = email or fallback
        for project in projects or [""]:
            identity = f"{base}-{project}" if project else base
            account = Account(make_account_id(provider, identity), provider,
                              project_id=project, **fields)
            yield _Parsed(account, bundle, sets_disabled)
        return
    if provider is ProviderName.CODEX:
        fields.update(_codex_fields(doc, bundle.id_token))
        identity = fields["email"] or fields["label"] or fallback
    elif provider is ProviderName.QWEN:
        # Qwen has no email discovery: the "email" CLIProxyAPI stores is the alias typed in.
        fields["label"] = fields["label"] or email
        fields["email"] = email if "@" in email else ""
        fields["resource_url"] = _text(doc.get("resource_url"))
        identity = fields["label"] or fallback
    else:
        identity = email or fields["label"] or fallback
    yield _Parsed(Account(make_account_id(provider, identity), provider, **fields), bundle,
                  sets_disabled)


def _bundle(
    doc: Mapping[str, Any], token: Mapping[str, Any], provider: ProviderName
) -> TokenBundle:
    def pick(key: str) -> str:
        return _text(token.get(key)) or _text(doc.get(key))

    extra: dict[str, Any] = {}
    if provider is ProviderName.GEMINI:
        client_id = pick("client_id")
        if client_id and client_id != _GEMINI_CLIENT_ID:
            extra = {"client_id": client_id, "client_secret": pick("client_secret")}
    return TokenBundle(
        access_token=pick("access_token"),
        refresh_token=pick("refresh_token"),
        id_token=pick("id_token"),
        api_key=pick("api_key"),
        cookie=pick("cookie"),
        token_type=pick("token_type") or "Bearer",
        extra=extra,
    )


def _codex_fields(doc: Mapping[str, Any], id_token: str) -> dict[str, str]:
    found = codex_identity(id_token)
    return {
        "email": _text(doc.get("email")) or found["email"],
        "account_id": _text(doc.get("account_id")) or found["account_id"],
        "plan": found["plan"],
    }


def _identity_from_name(file: Path, provider: ProviderName) -> str:
    """``claude-user@example.com.json`` → ``user@example.com`` (when the file has no email)."""
    stem = file.stem
    return stem[len(provider) + 1:] if stem.startswith(f"{provider}-") else stem


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _string_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list):
        return ()
    return tuple(s.strip() for s in value if isinstance(s, str) and s.strip())


def _priority(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    return 0


def _first_time(
    doc: Mapping[str, Any], token: Mapping[str, Any], keys: tuple[str, ...]
) -> float | None:
    for source in (doc, token):
        for key in keys:
            when = parse_time(source.get(key))
            if when is not None:
                return when
    return None


def parse_time(value: Any) -> float | None:
    """Unix seconds from RFC 3339, ``2006-01-02 15:04:05`` / ``2006-01-02 15:04`` (local time),
    or a unix timestamp in seconds or milliseconds (number or numeric string)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return _unix(float(value))
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return _unix(float(text))
    try:
        return datetime.fromisoformat(text).timestamp()  # RFC 3339, 'Z' included (3.11+)
    except ValueError:
        pass
    for fmt in _WALL_FORMATS:
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    return None


def _unix(number: float) -> float | None:
    if number <= 0:
        return None
    return number / 1000 if number > 1e12 else number


# -- storing --------------------------------------------------------------------------------


def _store(repo: AccountRepository, item: _Parsed) -> tuple[ImportStatus, str]:
    account, bundle = item.account, item.bundle
    existing = _existing(repo, account.id)
    if existing is None:
        repo.save(account, bundle)
        return "added", ""
    stored = _stored_secret(repo, existing)
    reason = ""
    status: ImportStatus = "updated"
    if stored is not None and _is_newer(existing, account):
        # Refreshed since the file was written: its refresh token may already be rotated away.
        account = account.replace(expires_at=existing.expires_at,
                                  last_refresh_at=existing.last_refresh_at)
        bundle = stored
        reason = "kept the stored tokens, which are newer than the file's"
    merged = existing.replace(**{name: getattr(account, name) for name in _IMPORTED_FIELDS})
    if not item.sets_disabled:
        merged = merged.replace(disabled=existing.disabled)
    if bundle != stored:
        merged = merged.replace(expired=False, last_error="")
    if merged == existing and bundle == stored:
        return "unchanged", reason
    repo.save(merged, None if bundle == stored else bundle)
    return status, reason


def _existing(repo: AccountRepository, account_id: str) -> Account | None:
    for account in repo.list():
        if account.id == account_id:
            return account
    return None


def _stored_secret(repo: AccountRepository, account: Account) -> TokenBundle | None:
    try:
        return repo.secret(account)
    except CredentialError:
        return None


def _is_newer(existing: Account, imported: Account) -> bool:
    if existing.expires_at is None or imported.expires_at is None:
        return False
    return existing.expires_at > imported.expires_at
