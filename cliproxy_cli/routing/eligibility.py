"""Why an account is or is not eligible right now (shown by `cliproxy accounts list`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cliproxy_cli.accounts.model import Account, AccountStatus


@dataclass(frozen=True, slots=True)
class Eligibility:
    status: AccountStatus
    reason: str = ""
    until: float | None = None


def _clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def eligibility(
    account: Account, cooldowns: Iterable[Mapping[str, Any]], now: float
) -> Eligibility:
    """Disabled, expired, cooling (until when, why, for which model), error, or active."""
    if account.disabled:
        return Eligibility(AccountStatus.DISABLED,
                           "disabled by the user; `cliproxy accounts enable` turns it back on")
    if account.expired:
        return Eligibility(AccountStatus.EXPIRED,
                           account.last_error or f"run `cliproxy login {account.provider}`")
    mine = [c for c in cooldowns
            if c.get("credential") == account.id and float(c.get("until", 0)) > now]
    if mine:
        whole = [c for c in mine if c.get("scope") == "*"]
        chosen = max(whole or mine, key=lambda c: float(c["until"]))
        scope = "" if chosen.get("scope") == "*" else f" for {chosen['scope']}"
        until = float(chosen["until"])
        detail = f": {chosen['message']}" if chosen.get("message") else ""
        more = f" (+{len(mine) - 1} more models)" if not whole and len(mine) > 1 else ""
        return Eligibility(AccountStatus.COOLING,
                           f"cooling until {_clock(until)}{scope} ({chosen.get('reason')}{detail})"
                           f"{more}", until)
    if account.last_error:
        return Eligibility(AccountStatus.ERROR, account.last_error)
    if account.excluded_models:
        return Eligibility(AccountStatus.ACTIVE,
                           "excludes models " + ", ".join(account.excluded_models))
    return Eligibility(AccountStatus.ACTIVE)
