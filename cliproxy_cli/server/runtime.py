"""The Runtime: everything a request needs, built once by ``create_app`` and swapped in place on
hot reload (a request keeps the registry it started with)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson

from cliproxy_cli.accounts.credential import TokenSource
from cliproxy_cli.accounts.repo import AccountRepository
from cliproxy_cli.config import Config, ConfigWatcher, LoadedConfig, load_config
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import CliproxyError
from cliproxy_cli.paths import write_private
from cliproxy_cli.providers.http import UpstreamClient
from cliproxy_cli.redact import redact_text
from cliproxy_cli.routing.registry import ModelRegistry, build_registry
from cliproxy_cli.routing.state import StateBackend
from cliproxy_cli.server_state import state_file

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    loaded: LoadedConfig
    repo: AccountRepository
    client: UpstreamClient
    tokens: TokenSource
    state: StateBackend
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    registry: ModelRegistry = field(init=False)
    _watcher: ConfigWatcher | None = field(init=False, default=None)
    _repo_version: object = field(init=False, default=None)
    _account_stamps: dict[str, float | None] = field(init=False, default_factory=dict)
    _published: int = field(init=False, default=-1)
    _used: dict[str, float] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._repo_version = self.repo.version()
        self.registry = self._build_registry(self.loaded.config)
        if self.loaded.exists:
            self._watcher = ConfigWatcher(self.loaded.path)

    @property
    def config(self) -> Config:
        return self.loaded.config

    @property
    def endpoints(self) -> EndpointTable:
        return self.loaded.endpoints

    def _build_registry(self, config: Config) -> ModelRegistry:
        accounts = self.repo.list()
        for account in accounts:
            # `cliproxy accounts enable` stamps reset_at: its cooldowns end now.
            if self._account_stamps.get(account.id, account.reset_at) != account.reset_at:
                self.state.clear_cooldowns(account.id)
            self._account_stamps[account.id] = account.reset_at
        return build_registry(config, accounts)

    def reload_if_changed(self) -> bool:
        """Pick up config-file and account changes; True when something was reloaded."""
        config_changed = self._watcher is not None and self._watcher.changed()
        version = self.repo.version()
        accounts_changed = version != self._repo_version
        if not (config_changed or accounts_changed):
            return False
        if config_changed:
            try:
                fresh = load_config(str(self.loaded.path))
            except CliproxyError as exc:
                logger.error("config reload failed, keeping the previous config: %s", exc)
                return False
            for warning in fresh.warnings:
                logger.warning("config: %s", warning)
            # host and port are bound once; everything else applies live.
            self.loaded = fresh
        self._repo_version = version
        self.registry = self._build_registry(self.loaded.config)
        logger.info("reloaded config=%s accounts=%s credentials=%d", config_changed,
                    accounts_changed, len(self.registry.credentials))
        return True

    def mark_used(self, account_id: str) -> None:
        self._used[account_id] = self.clock()

    def flush_usage(self) -> None:
        """Write the accounts' last-used times to the index in one batch (not per request)."""
        if not self._used:
            return
        used, self._used = self._used, {}
        unchanged = self.repo.version() == self._repo_version
        try:
            self.repo.update_many({aid: {"last_used_at": t} for aid, t in used.items()})
        except CliproxyError as exc:
            logger.warning("cannot record last-used times: %s", exc)
            return
        if unchanged:  # only our own write happened since the last reload: nothing to reload
            self._repo_version = self.repo.version()

    def publish_state(self) -> None:
        """Write the cooldowns to ``<run>/routing-state.json`` when they changed, so
        `cliproxy accounts list` in another process can say why an account rests."""
        version = self.state.version
        if version == self._published:
            return
        self._published = version
        now = self.clock()
        doc = {
            "pid": os.getpid(),
            "written_at": now,
            "cooldowns": [
                {"credential": cid, "scope": scope, "until": cd.until, "reason": cd.reason,
                 "message": redact_text(cd.message)[:300], "since": cd.since}
                for (cid, scope), cd in self.state.cooldowns().items() if cd.until > now
            ],
        }
        try:
            write_private(state_file(self.loaded.paths), orjson.dumps(doc))
        except OSError as exc:
            logger.warning("cannot write the routing state file: %s", exc)
