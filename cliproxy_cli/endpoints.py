"""Every external URL cliproxy calls, by name (SPEC §5).

``endpoints: {NAME: URL}`` in the config, or ``CLIPROXY_ENDPOINT_<NAME>`` in the environment
(upper-cased, ``.`` and ``-`` as ``_``), replaces a default; the environment wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    default: str
    purpose: str


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint("google.authorize", "https://accounts.google.com/o/oauth2/v2/auth", "Google OAuth consent"),
    Endpoint("google.token", "https://oauth2.googleapis.com/token", "Google OAuth token exchange/refresh"),
    Endpoint("google.userinfo", "https://www.googleapis.com/oauth2/v1/userinfo", "Google account email"),
    Endpoint("gemini.code-assist", "https://cloudcode-pa.googleapis.com", "Gemini CLI Code Assist API"),
    Endpoint("gemini.api", "https://generativelanguage.googleapis.com", "Gemini API (API keys)"),
    Endpoint("claude.authorize", "https://claude.ai/oauth/authorize", "Claude OAuth consent"),
    Endpoint("claude.token", "https://console.anthropic.com/v1/oauth/token", "Claude OAuth token"),
    Endpoint("claude.api", "https://api.anthropic.com", "Anthropic Messages API"),
    Endpoint("codex.authorize", "https://auth.openai.com/oauth/authorize", "OpenAI OAuth consent"),
    Endpoint("codex.token", "https://auth.openai.com/oauth/token", "OpenAI OAuth token"),
    Endpoint("codex.api", "https://chatgpt.com/backend-api/codex", "ChatGPT Codex Responses API"),
    Endpoint("qwen.device-code", "https://chat.qwen.ai/api/v1/oauth2/device/code", "Qwen device code"),
    Endpoint("qwen.token", "https://chat.qwen.ai/api/v1/oauth2/token", "Qwen OAuth token"),
    Endpoint("qwen.api", "https://portal.qwen.ai/v1", "Qwen OpenAI-compatible API"),
    Endpoint("iflow.authorize", "https://iflow.cn/oauth", "iFlow OAuth consent"),
    Endpoint("iflow.token", "https://iflow.cn/oauth/token", "iFlow OAuth token"),
    Endpoint("iflow.userinfo", "https://iflow.cn/api/oauth/getUserInfo", "iFlow user info / API key"),
    Endpoint("iflow.api", "https://apis.iflow.cn/v1", "iFlow OpenAI-compatible API"),
)

ENDPOINT_NAMES: Final = frozenset(e.name for e in ENDPOINTS)
_DEFAULTS: Final = {e.name: e.default for e in ENDPOINTS}


def env_var(name: str) -> str:
    """``claude.token`` → ``CLIPROXY_ENDPOINT_CLAUDE_TOKEN``."""
    return "CLIPROXY_ENDPOINT_" + name.upper().replace(".", "_").replace("-", "_")


@dataclass(frozen=True, slots=True)
class EndpointTable:
    """The effective URL of every named endpoint, and which ones were overridden."""

    urls: Mapping[str, str]
    overridden: frozenset[str]

    def url(self, name: str) -> str:
        return self.urls[name].rstrip("/")

    def is_overridden(self, name: str) -> bool:
        return name in self.overridden


def resolve_endpoints(
    configured: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> EndpointTable:
    env = os.environ if environ is None else environ
    urls = dict(_DEFAULTS)
    overridden: set[str] = set()
    for name, url in configured.items():
        urls[name] = url
        overridden.add(name)
    for name in _DEFAULTS:
        value = env.get(env_var(name))
        if value:
            urls[name] = value
            overridden.add(name)
    return EndpointTable(urls, frozenset(overridden))
