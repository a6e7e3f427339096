"""The refresh-lock seam: at most one token refresh in flight per account, across processes.

``RefreshLocks`` is the interface (a shared state backend for several replicas implements it
beside routing's ``StateBackend``); ``FileLocks`` is the one in use: an ``flock`` on
``<data>/locks/<account id>.lock``, which serialises every cliproxy process on the host (the CLI
and a running server share the store).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import re
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Final, Protocol

from cliproxy_cli.errors import OAuthError
from cliproxy_cli.paths import ensure_private_dir

_POLL_SECONDS: Final = 0.05


class RefreshLocks(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]: ...


class FileLocks:
    def __init__(self, folder: Path, *, timeout: float = 30.0) -> None:
        self.folder = folder
        self.timeout = timeout

    def path(self, key: str) -> Path:
        return self.folder / (re.sub(r"[^A-Za-z0-9._@+-]", "_", key) + ".lock")

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Polled without blocking the event loop, so a waiter can be cancelled."""
        ensure_private_dir(self.folder)
        with open(self.path(key), "a+b") as fh:
            deadline = time.monotonic() + self.timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise OAuthError(
                            f"another cliproxy process has been refreshing {key} for "
                            f"{self.timeout:g} s", hint="try again in a moment",
                        ) from None
                    await asyncio.sleep(_POLL_SECONDS)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
