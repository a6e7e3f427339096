"""The Provider seam and the error classification every provider starts from.

A provider knows one upstream: its URL, headers, auth injection, body envelope and how its
errors read. It never knows the inbound format (the server translates before and after).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import orjson

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import TokenBundle
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format

Action = Literal["generate", "count_tokens"]


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """Everything a provider needs to build one upstream HTTP request."""

    credential: Credential
    body: dict[str, Any]  # already in the provider's wire format
    upstream_model: str
    stream: bool  # the client wants a stream
    client_headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    secret: TokenBundle | None = None  # OAuth accounts
    action: Action = "generate"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"
    stream: bool = False  # the upstream answers with SSE
    envelope: bool = False  # Gemini Code Assist wraps bodies in {"response": ...}


class Provider(Protocol):
    name: str

    def wire_format(self, credential: Credential) -> Format: ...

    def can_count_tokens(self, credential: Credential) -> bool: ...

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest: ...

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError: ...


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_duration(text: str) -> float | None:
    """``"0.847s"``, ``"373.8ms"``, ``"1m30s"``, ``"2h"`` → seconds (Google's duration shapes)."""
    text = text.strip()
    if not text:
        return None
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total, num = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = text[i : i + 2] if text[i : i + 2] in units else ch
        if unit not in units or not num:
            return None
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        total += float(num)
    return total


def json_body(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def error_message(data: Any, body: bytes) -> str:
    """The most specific message in an error body, whatever its family's shape."""
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("error_description") or err.get("detail")
            if isinstance(msg, str) and msg:
                return msg
        elif isinstance(err, str):
            return err
        msg = data.get("message") or data.get("detail")
        if isinstance(msg, str) and msg:
            return msg
    text = body.decode("utf-8", "replace").strip()
    return text[:300] or "no details"


def classify_status(status: int) -> ErrorKind:
    """The default mapping from HTTP status; providers refine it with structured body fields."""
    if status == 429:
        return ErrorKind.QUOTA
    if status in (401, 403):
        return ErrorKind.AUTH
    if status in (408, 409, 425, 529) or status >= 500:
        return ErrorKind.TRANSIENT
    return ErrorKind.BAD_REQUEST


def default_classify(
    provider: str, status: int, headers: Mapping[str, str], body: bytes
) -> UpstreamError:
    data = json_body(body)
    kind = classify_status(status)
    return UpstreamError(
        f"{provider} answered {status}: {error_message(data, body)}",
        kind=kind, status=status, provider=provider,
        retry_after=parse_retry_after(headers.get("retry-after")),
        body=body, content_type=headers.get("content-type"),
    )


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + path


def merge_headers(base: dict[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """Config ``headers`` apply last and override (case-insensitively)."""
    if not extra:
        return base
    lowered = {k.lower(): k for k in base}
    for k, v in extra.items():
        old = lowered.get(k.lower())
        if old is not None:
            del base[old]
        base[k] = v
    return base


def forward(client_headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """Client headers that the upstream understands (e.g. ``anthropic-beta``), passed as sent."""
    return {n: client_headers[n] for n in names if n in client_headers}
