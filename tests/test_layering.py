"""DESIGN.md's import rules, checked by walking every module's imports with ast."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "cliproxy_cli"

# package → the cliproxy packages it may import (besides itself)
ALLOWED = {
    "cli": {"*"},
    "sdk": {"*"},
    "server": {"formats", "routing", "providers", "accounts", "config", "errors", "redact",
               "jsonio", "endpoints", "paths", "log", "__version__", "server_state"},
    "formats": set(),
    "providers": {"formats", "accounts", "config", "errors", "endpoints", "redact", "jsonio"},
    "routing": {"accounts", "config", "errors"},
    "oauth": {"accounts", "config", "errors", "endpoints", "paths", "redact", "jsonio"},
    "accounts": {"config", "errors", "paths", "redact", "jsonio", "endpoints"},
}
THIRD_PARTY = {
    "rich": {"cli"},
    "typer": {"cli"},
    "starlette": {"server"},
    "uvicorn": {"server", "cli"},
}


def _package(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "cliproxy_cli":
                names.update(f"cliproxy_cli.{a.name}" for a in node.names)
            else:
                names.add(node.module)
    return names


def test_imports_follow_the_layers() -> None:
    problems = []
    for path in ROOT.rglob("*.py"):
        pkg = _package(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if top == "cliproxy_cli":
                parts = name.split(".")
                target = parts[1] if len(parts) > 1 else "__init__"
                allowed = ALLOWED.get(pkg)
                if allowed is None or "*" in allowed or target == pkg:
                    continue
                if target not in allowed:
                    problems.append(f"{path.relative_to(ROOT)} imports {name}")
            elif top in THIRD_PARTY and pkg not in THIRD_PARTY[top]:
                problems.append(f"{path.relative_to(ROOT)} imports {top}")
    assert problems == []


def test_only_network_packages_import_httpx() -> None:
    offenders = []
    for path in ROOT.rglob("*.py"):
        pkg = _package(path)
        rel = path.relative_to(ROOT).as_posix()
        if "httpx" in {n.split(".")[0] for n in _imports(path)} and pkg not in (
            "providers", "oauth", "cli", "sdk"
        ) and rel != "server/app.py":
            offenders.append(rel)
    assert offenders == []


def test_cli_help_does_not_import_the_server() -> None:
    import subprocess
    import sys

    code = ("import sys, cliproxy_cli.cli.app; "
            "print(any(m.startswith(('cliproxy_cli.server', 'starlette', 'uvicorn', 'aiohttp')) "
            "for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
