"""The models each provider serves out of the box (CLIProxyAPI v6.8.20's static lists, anchor §7.1).

One row per model; ``owned_by`` is what model lists report. API-key entries with their own
``models`` replace these; OAuth accounts are filtered by ``oauth-excluded-models`` and renamed by
``oauth-model-alias``.
"""

from __future__ import annotations

from typing import Final

_GEMINI_CLI: Final = (
    "gemini-2.5-pro",
    "gemini-2.5-flash",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3-flash-preview",
)

BUILTIN_MODELS: Final[dict[str, tuple[str, ...]]] = {
    # Gemini CLI (Code Assist) accounts
    "gemini": _GEMINI_CLI,
    # gemini-api-key entries (AI Studio)
    "gemini_api": (*_GEMINI_CLI, "gemini-3-pro-image-preview"),
    "claude": (
        "claude-haiku-4-5-20251001",
        "claude-sonnet-4-5-20250929",
        "claude-sonnet-4-6",
        "claude-opus-4-6",
        "claude-opus-4-5-20251101",
        "claude-opus-4-1-20250805",
        "claude-opus-4-20250514",
        "claude-sonnet-4-20250514",
        "claude-3-7-sonnet-20250219",
        "claude-3-5-haiku-20241022",
    ),
    "codex": (
        "gpt-5",
        "gpt-5-codex",
        "gpt-5-codex-mini",
        "gpt-5.1",
        "gpt-5.1-codex",
        "gpt-5.1-codex-mini",
        "gpt-5.1-codex-max",
        "gpt-5.2",
        "gpt-5.2-codex",
        "gpt-5.3-codex",
        "gpt-5.3-codex-spark",
    ),
    "qwen": ("qwen3-coder-plus", "qwen3-coder-flash", "coder-model", "vision-model"),
    "iflow": (
        "tstars2.0", "qwen3-coder-plus", "qwen3-max", "qwen3-vl-plus", "qwen3-max-preview",
        "kimi-k2-0905", "glm-4.6", "glm-4.7", "glm-5", "kimi-k2", "kimi-k2-thinking",
        "deepseek-v3.2-chat", "deepseek-v3.2-reasoner", "deepseek-v3.2", "deepseek-v3.1",
        "deepseek-r1", "deepseek-v3", "qwen3-32b", "qwen3-235b-a22b-thinking-2507",
        "qwen3-235b-a22b-instruct", "qwen3-235b", "minimax-m2", "minimax-m2.1", "minimax-m2.5",
        "iflow-rome-30ba3b", "kimi-k2.5",
    ),
}

OWNED_BY: Final[dict[str, str]] = {
    "gemini": "google",
    "gemini_api": "google",
    "claude": "anthropic",
    "codex": "openai",
    "qwen": "qwen",
    "iflow": "iflow",
}
