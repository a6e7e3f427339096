"""The OAuth clients of each vendor CLI (public installed-app clients), as data rows.

These are the identifiers the official CLIs ship with (facts from CLIProxyAPI v6.8.20,
research/anchor-cliproxyapi.md §4); URLs are not here but in ``endpoints.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class OAuthClient:
    provider: str
    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = ()
    callback_port: int = 0
    callback_path: str = ""
    # When True the vendor only accepts its registered redirect URI, so --callback-port moves the
    # listener but not the redirect_uri (useful behind a port forward).
    fixed_redirect: bool = False
    refresh_lead_seconds: float = 0  # refresh this long before expiry (0 = only when expired)

    def redirect_uri(self, port: int | None = None) -> str:
        chosen = self.callback_port if self.fixed_redirect or port is None else port
        return f"http://localhost:{chosen}{self.callback_path}"


GOOGLE: Final = OAuthClient(
    provider="gemini",
    client_id="681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
    client_secret="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",
    scopes=(
        "https://www.googleapis.com/auth/cloud-platform",
        "https://www.googleapis.com/auth/userinfo.email",
        "https://www.googleapis.com/auth/userinfo.profile",
    ),
    callback_port=8085,
    callback_path="/oauth2callback",
    refresh_lead_seconds=300,
)

CLAUDE: Final = OAuthClient(
    provider="claude",
    client_id="9d1c250a-e61b-44d9-88ed-5944d1962f5e",
    scopes=("org:create_api_key", "user:profile", "user:inference"),
    callback_port=54545,
    callback_path="/callback",
    fixed_redirect=True,
    refresh_lead_seconds=4 * 3600,
)

CODEX: Final = OAuthClient(
    provider="codex",
    client_id="app_EMoamEEZ73f0CkXaXp7hrann",
    scopes=("openid", "email", "profile", "offline_access"),
    callback_port=1455,
    callback_path="/auth/callback",
    fixed_redirect=True,
    refresh_lead_seconds=5 * 86400,
)

QWEN: Final = OAuthClient(
    provider="qwen",
    client_id="f0304373b74a44d2b584a3fb70ca9e56",
    scopes=("openid", "profile", "email", "model.completion"),
    refresh_lead_seconds=3 * 3600,
)

IFLOW: Final = OAuthClient(
    provider="iflow",
    client_id="10009311001",
    client_secret="4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW",
    callback_port=11451,
    callback_path="/oauth2callback",
    refresh_lead_seconds=24 * 3600,
)

CLIENTS: Final[dict[str, OAuthClient]] = {
    c.provider: c for c in (GOOGLE, CLAUDE, CODEX, QWEN, IFLOW)
}
