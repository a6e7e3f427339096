"""The routing state a running server publishes for other processes (``<run>/routing-state.json``).

The server writes it (``server/runtime.py``); `cliproxy accounts list` reads it. A snapshot whose
writer process is gone is ignored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from cliproxy_cli.paths import Paths


def state_file(paths: Paths) -> Path:
    return paths.run_dir / "routing-state.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_cooldowns(paths: Paths) -> list[dict[str, Any]]:
    try:
        doc = orjson.loads(state_file(paths).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return []
    if not isinstance(doc, dict) or not _alive(int(doc.get("pid", 0) or 0)):
        return []
    cooldowns = doc.get("cooldowns")
    return [c for c in cooldowns if isinstance(c, dict)] if isinstance(cooldowns, list) else []
