"""PKCE (RFC 7636, S256 only) and the random ``state`` that guards callbacks against CSRF."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

from cliproxy_cli.redact import mask

# CLIProxyAPI uses 96 random bytes for Claude/Codex (a 128-character verifier, the RFC maximum)
# and 32 for Qwen; 16 random bytes as hex for `state`.
DEFAULT_VERIFIER_BYTES: Final = 96
STATE_BYTES: Final = 16


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def challenge_s256(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding."""
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Pkce:
    """A verifier and its S256 challenge. The repr masks the verifier."""

    verifier: str
    challenge: str
    method: str = "S256"

    def __repr__(self) -> str:
        return f"Pkce(verifier={mask(self.verifier)!r}, challenge={self.challenge!r})"


def make_pkce(nbytes: int = DEFAULT_VERIFIER_BYTES) -> Pkce:
    """A fresh verifier of ``nbytes`` random bytes (base64url, 43..128 characters)."""
    if not 32 <= nbytes <= 96:
        raise ValueError("PKCE verifiers need 32..96 random bytes (43..128 characters)")
    verifier = _b64url(secrets.token_bytes(nbytes))
    return Pkce(verifier, challenge_s256(verifier))


def make_state() -> str:
    """An unguessable ``state`` value (16 random bytes as hex)."""
    return secrets.token_hex(STATE_BYTES)
