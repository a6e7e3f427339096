"""The one seam for shared mutable routing state: cooldowns and round-robin cursors.

``InMemoryState`` serves one process; a Redis-backed implementation can share the same
``StateBackend`` between replicas later. Every method takes ``now`` (no clock reads here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Cooldown:
    until: float
    reason: str  # an ErrorKind value, or "manual"
    level: int  # escalation step of the default backoff
    message: str = ""
    since: float = 0.0


class StateBackend(Protocol):
    def cooldown(self, credential_id: str, scope: str) -> Cooldown | None: ...

    def set_cooldown(self, credential_id: str, scope: str, cooldown: Cooldown) -> None: ...

    def clear_cooldowns(self, credential_id: str, scope: str | None = None) -> None: ...

    def cooldowns(self) -> dict[tuple[str, str], Cooldown]: ...

    def next_cursor(self, key: str) -> int: ...

    @property
    def version(self) -> int:
        """Bumped on every cooldown change, so observers can publish snapshots cheaply."""
        ...


class InMemoryState:
    """Cooldowns keyed by (credential id, scope); scope is a model id or ``*`` (whole account)."""

    _MAX_CURSORS = 4096

    def __init__(self) -> None:
        self._cooldowns: dict[tuple[str, str], Cooldown] = {}
        self._cursors: dict[str, int] = {}
        self._version = 0

    @property
    def version(self) -> int:
        return self._version

    def cooldown(self, credential_id: str, scope: str) -> Cooldown | None:
        if not self._cooldowns:
            return None
        return self._cooldowns.get((credential_id, scope)) or self._cooldowns.get(
            (credential_id, "*")
        )

    def set_cooldown(self, credential_id: str, scope: str, cooldown: Cooldown) -> None:
        self._cooldowns[(credential_id, scope)] = cooldown
        self._version += 1

    def clear_cooldowns(self, credential_id: str, scope: str | None = None) -> None:
        if not self._cooldowns:
            return
        if scope is None:
            for key in [k for k in self._cooldowns if k[0] == credential_id]:
                del self._cooldowns[key]
        else:
            self._cooldowns.pop((credential_id, scope), None)
            self._cooldowns.pop((credential_id, "*"), None)
        self._version += 1

    def cooldowns(self) -> dict[tuple[str, str], Cooldown]:
        return dict(self._cooldowns)

    def next_cursor(self, key: str) -> int:
        value = self._cursors.get(key, 0)
        if len(self._cursors) >= self._MAX_CURSORS and key not in self._cursors:
            self._cursors.clear()
        self._cursors[key] = value + 1
        return value
