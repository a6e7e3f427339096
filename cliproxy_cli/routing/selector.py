"""Which route to try first: ``round-robin`` or ``fill-first`` over the eligible routes.

Eligible = not cooling for this model (or as a whole account). Routes in the highest priority
group come first; the rest follow as fallbacks, so a request is never refused while some route
might work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cliproxy_cli.routing.registry import Route
from cliproxy_cli.routing.state import Cooldown, StateBackend


@dataclass(frozen=True, slots=True)
class Plan:
    """The routes to try in order, and (when all rest) the earliest recovery time."""

    routes: tuple[Route, ...]
    cooling: tuple[tuple[Route, Cooldown], ...]

    @property
    def earliest_recovery(self) -> float | None:
        return min((c.until for _, c in self.cooling), default=None)


def plan_routes(
    routes: Sequence[Route],
    model: str,
    *,
    strategy: str,
    state: StateBackend,
    now: float,
) -> Plan:
    ready: list[Route] = []
    cooling: list[tuple[Route, Cooldown]] = []
    for r in routes:
        cd = state.cooldown(r.credential.id, model)
        if cd is not None and cd.until > now:
            cooling.append((r, cd))
        else:
            ready.append(r)
    if len(ready) > 1:
        top = max(r.credential.priority for r in ready)
        first = [r for r in ready if r.credential.priority == top]
        rest = [r for r in ready if r.credential.priority != top]
        if strategy == "round-robin" and len(first) > 1:
            k = state.next_cursor(model) % len(first)
            first = first[k:] + first[:k]
        rest.sort(key=lambda r: -r.credential.priority)
        ready = first + rest
    cooling.sort(key=lambda rc: rc[1].until)
    return Plan(tuple(ready), tuple(cooling))
