"""How long a credential rests after a failure (SPEC §8, issue "cooldowns that heal").

- ``quota``: the upstream's hint (Retry-After / body reset time) when given, capped at
  ``MAX_HINT`` (a multi-day hint is capped and re-probed, never trusted blindly); else an
  escalating backoff 1 s · 2^level up to ``MAX_BACKOFF``.
- ``auth``: the account rests ``AUTH_REST`` (a refresh is attempted before this is decided).
- ``transient``: a short ``TRANSIENT_REST``.
- ``bad_request``: never cools anything (the client's fault).
Scope: quota is per model where the upstream's quota is per model, else the whole account.
"""

from __future__ import annotations

from typing import Final

from cliproxy_cli.errors import ErrorKind
from cliproxy_cli.routing.state import Cooldown

MAX_HINT: Final = 6 * 3600.0
MAX_BACKOFF: Final = 30 * 60.0
AUTH_REST: Final = 5 * 60.0
TRANSIENT_REST: Final = 10.0
WHOLE_ACCOUNT: Final = "*"


def next_cooldown(
    kind: ErrorKind,
    *,
    now: float,
    retry_after: float | None,
    previous: Cooldown | None,
    message: str = "",
) -> Cooldown | None:
    """The cooldown to apply after a failure of ``kind``, or None when nothing should rest."""
    level = previous.level + 1 if previous is not None and previous.reason == kind else 0
    match kind:
        case ErrorKind.BAD_REQUEST:
            return None
        case ErrorKind.QUOTA:
            if retry_after is not None and retry_after >= 0:
                duration = min(retry_after, MAX_HINT)
            else:
                duration = min(2.0**level, MAX_BACKOFF)
        case ErrorKind.AUTH:
            duration = AUTH_REST
        case ErrorKind.TRANSIENT:
            duration = min(TRANSIENT_REST * (2**level), 120.0)
    return Cooldown(until=now + duration, reason=str(kind), level=level, message=message,
                    since=now)
