"""One module per upstream; ``PROVIDERS`` is the registry and ``register_provider`` its seam."""

from __future__ import annotations

from typing import Final

from cliproxy_cli.providers.base import Provider
from cliproxy_cli.providers.claude import ClaudeProvider
from cliproxy_cli.providers.codex import CodexProvider
from cliproxy_cli.providers.gemini import GeminiProvider
from cliproxy_cli.providers.iflow import IFlowProvider
from cliproxy_cli.providers.openai_compat import OpenAICompatProvider
from cliproxy_cli.providers.qwen import QwenProvider

PROVIDERS: Final[dict[str, Provider]] = {}


def register_provider(provider: Provider) -> None:
    PROVIDERS[provider.name] = provider


for _p in (GeminiProvider(), ClaudeProvider(), CodexProvider(), OpenAICompatProvider()):
    register_provider(_p)
register_provider(QwenProvider())
register_provider(IFlowProvider())

__all__ = ["PROVIDERS", "Provider", "register_provider"]
