"""Reasoning effort ↔ token budget: the one table every format uses (translation-spec §2.1)."""

from __future__ import annotations

from typing import Final

from cliproxy_cli.formats.ir import Effort, ReasoningConfig

LEVEL_TO_BUDGET: Final[dict[str, int]] = {
    "none": 0,
    "auto": -1,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
}


def budget_to_effort(budget: int) -> Effort:
    if budget < 0:
        return "auto"
    if budget == 0:
        return "none"
    if budget <= 512:
        return "minimal"
    if budget <= 1024:
        return "low"
    if budget <= 8192:
        return "medium"
    if budget <= 24576:
        return "high"
    return "xhigh"


def effort_of(config: ReasoningConfig) -> Effort | None:
    """The effort level asked for, derived from the budget when only a budget was given."""
    if config.effort is not None:
        return config.effort
    if config.budget is not None:
        return budget_to_effort(config.budget)
    return None


def budget_of(config: ReasoningConfig) -> int | None:
    """The token budget asked for (-1 = dynamic), derived from the effort when needed."""
    if config.budget is not None:
        return config.budget
    if config.effort is not None:
        return LEVEL_TO_BUDGET[config.effort]
    return None
