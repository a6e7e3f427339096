"""What every command needs: the loaded config and the account repository, built lazily."""

from __future__ import annotations

from dataclasses import dataclass, field

from cliproxy_cli.accounts.repo import AccountRepository, open_repository
from cliproxy_cli.cli import render
from cliproxy_cli.config import LoadedConfig, load_config


@dataclass
class AppState:
    config_path: str | None = None
    debug: bool = False
    _loaded: LoadedConfig | None = field(default=None, repr=False)
    _repo: AccountRepository | None = field(default=None, repr=False)

    def reset(self, *, config_path: str | None, debug: bool) -> None:
        """A fresh state for each invocation (tests run many in one process)."""
        self.config_path = config_path
        self.debug = debug
        self._loaded = None
        self._repo = None

    def loaded(self) -> LoadedConfig:
        if self._loaded is None:
            self._loaded = load_config(self.config_path)
            for warning in self._loaded.warnings:
                render.warning(warning)
        return self._loaded

    def repo(self) -> AccountRepository:
        if self._repo is None:
            loaded = self.loaded()
            self._repo = open_repository(
                loaded.paths, loaded.config.credential_store, notice=render.notice
            )
        return self._repo


STATE = AppState()
