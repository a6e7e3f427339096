"""Keeping secrets out of reprs, logs, errors and ``config show``."""

from __future__ import annotations

import logging
import re
from typing import Any, Final

_MIN_VISIBLE: Final = 12


def mask(value: str) -> str:
    """``sk-ant-abcdef…`` → ``sk-…wxyz``: enough to recognise, never enough to use."""
    if not value:
        return ""
    if len(value) < _MIN_VISIBLE:
        return "…" * 3
    head = value[:3]
    return f"{head}…{value[-4:]}"


class Secret:
    """A secret string whose ``repr`` and ``str`` are masked; ``reveal()`` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({mask(self._value)!r})"

    def __str__(self) -> str:
        return mask(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


_PATTERNS: Final = [
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{6,})"),
    re.compile(r"(?i)((?:api[_-]?key|key|auth_token|access_token|refresh_token|token|secret)"
               r"[\"']?\s*[=:]\s*[\"']?)([^\s&\"',;]{6,})"),
    re.compile(r"(sk-[A-Za-z0-9_-]{6,}|AIza[0-9A-Za-z_-]{10,}|ya29\.[0-9A-Za-z_.-]{6,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9._-]+)"),
]


def redact_text(text: str) -> str:
    """Mask bearer tokens, ``key=...`` pairs and well-known key shapes in free text."""
    text = _PATTERNS[0].sub(lambda m: m.group(1) + mask(m.group(2)), text)
    text = _PATTERNS[1].sub(lambda m: m.group(1) + mask(m.group(2)), text)
    return _PATTERNS[2].sub(lambda m: mask(m.group(1)), text)


SECRET_KEYS: Final = frozenset(
    {"api-key", "api_key", "secret-key", "upstream-api-key", "access_token", "refresh_token",
     "id_token", "token", "password", "client_secret", "cookie"}
)


def redact_tree(value: Any, *, key: str | None = None) -> Any:
    """A copy of a JSON-like tree with every secret-named value and proxy credential masked."""
    if isinstance(value, dict):
        return {k: redact_tree(v, key=k) for k, v in value.items()}
    if isinstance(value, list):
        if key in {"api-keys", "upstream-api-keys"}:
            return [mask(v) if isinstance(v, str) else redact_tree(v) for v in value]
        return [redact_tree(v) for v in value]
    if isinstance(value, str) and key is not None:
        if key.lower() in SECRET_KEYS:
            return mask(value)
        if key in {"proxy-url", "proxy_url"}:
            return re.sub(r"//([^:@/]+):([^@/]+)@", lambda m: f"//{m.group(1)}:***@", value)
        if key.lower() in {"authorization", "x-api-key", "x-goog-api-key"}:
            return mask(value)
    return value


class RedactingFilter(logging.Filter):
    """Masks secrets in every record that passes through a handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # pragma: no cover - a malformed record; leave it alone
            return True
        cleaned = redact_text(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
