"""Identity hints read from tokens: a JWT's claims (unverified) and a Codex id_token's
email / ChatGPT account id / plan. One place for the login, the refresh and the importer."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cliproxy_cli import jsonio

OPENAI_AUTH_CLAIM = "https://api.openai.com/auth"


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified; ``{}`` for anything that is not one."""
    parts = token.split(".")
    if len(parts) < 2:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = jsonio.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError, jsonio.JSONDecodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def codex_identity(id_token: str) -> dict[str, str]:
    """``email``, ``account_id`` (chatgpt_account_id) and ``plan`` from a Codex id_token."""
    claims = jwt_claims(id_token)
    auth = claims.get(OPENAI_AUTH_CLAIM)
    auth = auth if isinstance(auth, dict) else {}
    return {
        "email": str(claims.get("email") or ""),
        "account_id": str(auth.get("chatgpt_account_id") or ""),
        "plan": str(auth.get("chatgpt_plan_type") or ""),
    }
