"""Logging setup, done once by the CLI entry (and the daemon): console or file, --debug."""

from __future__ import annotations

import logging
import logging.config
from pathlib import Path

from cliproxy_cli.redact import RedactingFilter


def setup(*, debug: bool = False, log_file: Path | None = None, level: str = "INFO") -> None:
    """Console (stderr) and optional file logging; ``debug`` overrides ``level``."""
    handlers: dict[str, dict[str, object]] = {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "plain",
            "filters": ["redact"],
        }
    }
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers["file"] = {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": str(log_file),
            "formatter": "plain",
            "filters": ["redact"],
        }
    level = "DEBUG" if debug else level
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {"redact": {"()": RedactingFilter}},
            "formatters": {
                "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
            },
            "handlers": handlers,
            "loggers": {
                "cliproxy_cli": {"level": level, "handlers": list(handlers), "propagate": False},
                "httpx": {"level": "DEBUG" if debug else "WARNING"},
                "httpcore": {"level": "DEBUG" if debug else "WARNING"},
            },
        }
    )
