"""Where cliproxy keeps its files: platformdirs defaults, or everything under ``CLIPROXY_HOME``.

Secret-bearing files are written 0600 in 0700 folders, atomically (write a temp file, then rename),
so a crash never leaves a half-written token file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

APP_NAME: Final = "cliproxy"


@dataclass(frozen=True, slots=True)
class Paths:
    config_file: Path
    data_dir: Path
    log_dir: Path
    run_dir: Path

    @property
    def index_file(self) -> Path:
        return self.data_dir / "accounts.json"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"


def resolve_paths(environ: os._Environ[str] | dict[str, str] | None = None) -> Paths:
    env = os.environ if environ is None else environ
    home = env.get("CLIPROXY_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "config.yaml", root / "data", root / "logs", root / "run")
    import platformdirs

    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    return Paths(
        Path(dirs.user_config_dir) / "config.yaml",
        Path(dirs.user_data_dir),
        Path(dirs.user_log_dir),
        Path(dirs.user_runtime_dir),
    )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # a foreign-owned folder: reading still works
        os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600."""
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
