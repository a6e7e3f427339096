"""Selection: round-robin, fill-first, priorities, cooldowns skipped; cooldown durations."""

from __future__ import annotations

from cliproxy_cli.config import parse_config
from cliproxy_cli.errors import ErrorKind
from cliproxy_cli.routing.cooldown import MAX_BACKOFF, MAX_HINT, next_cooldown
from cliproxy_cli.routing.registry import build_registry
from cliproxy_cli.routing.selector import plan_routes
from cliproxy_cli.routing.state import Cooldown, InMemoryState

MODEL = "claude-sonnet-4-6"


def _routes(n: int = 3, priorities: list[int] | None = None):
    entries = [{"api-key": f"key-{i}", "priority": (priorities or [0] * n)[i]} for i in range(n)]
    config, _ = parse_config({"claude-api-key": entries})
    return build_registry(config, []).resolve(MODEL)


def _first_keys(strategy: str, rounds: int, state=None, routes=None) -> list[str]:
    state = state or InMemoryState()
    routes = routes or _routes()
    return [plan_routes(routes, MODEL, strategy=strategy, state=state, now=0).routes[0]
            .credential.api_key for _ in range(rounds)]


def test_round_robin_rotates() -> None:
    keys = _first_keys("round-robin", 6)
    assert keys[:3] != [keys[0]] * 3 and sorted(keys[:3]) == sorted(set(keys))
    assert keys[:3] == keys[3:]


def test_fill_first_sticks() -> None:
    assert len(set(_first_keys("fill-first", 5))) == 1


def test_cooling_skipped_until_it_heals() -> None:
    routes = _routes(2)
    state = InMemoryState()
    state.set_cooldown(routes[0].credential.id, MODEL, Cooldown(until=100, reason="quota", level=0))
    plan = plan_routes(routes, MODEL, strategy="fill-first", state=state, now=50)
    assert [r.credential.id for r in plan.routes] == [routes[1].credential.id]
    assert plan.earliest_recovery == 100
    later = plan_routes(routes, MODEL, strategy="fill-first", state=state, now=101)
    assert len(later.routes) == 2


def test_whole_account_cooldown_applies_to_every_model() -> None:
    routes = _routes(1)
    state = InMemoryState()
    state.set_cooldown(routes[0].credential.id, "*", Cooldown(until=10, reason="auth", level=0))
    assert plan_routes(routes, MODEL, strategy="round-robin", state=state, now=0).routes == ()


def test_higher_priority_first() -> None:
    routes = _routes(3, priorities=[0, 5, 0])
    keys = _first_keys("round-robin", 4, routes=routes)
    assert set(keys) == {"key-1"}


def test_quota_cooldown_uses_hint_capped() -> None:
    cd = next_cooldown(ErrorKind.QUOTA, now=1000, retry_after=30, previous=None)
    assert cd is not None and cd.until == 1030
    absurd = next_cooldown(ErrorKind.QUOTA, now=0, retry_after=5 * 86400, previous=None)
    assert absurd is not None and absurd.until == MAX_HINT


def test_quota_without_hint_escalates_and_caps() -> None:
    previous = None
    durations = []
    for _ in range(15):
        previous = next_cooldown(ErrorKind.QUOTA, now=0, retry_after=None, previous=previous)
        assert previous is not None
        durations.append(previous.until)
    assert durations[:4] == [1, 2, 4, 8]
    assert max(durations) == MAX_BACKOFF


def test_bad_request_never_cools() -> None:
    assert next_cooldown(ErrorKind.BAD_REQUEST, now=0, retry_after=10, previous=None) is None


def test_clear_on_success() -> None:
    state = InMemoryState()
    state.set_cooldown("a", MODEL, Cooldown(until=10, reason="quota", level=3))
    state.clear_cooldowns("a", MODEL)
    assert state.cooldown("a", MODEL) is None
