"""The configuration: frozen dataclasses, loaded from YAML with kebab-case keys (SPEC §4).

Validation is hand-written and names the key (``routing.strategy: expected 'round-robin' or
'fill-first', got 'rr'``). Unknown keys are warned about, never fatal. ``load_config`` is the only
entry; ``ConfigWatcher`` notices changes to the file for hot reload.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeVar

import yaml

from cliproxy_cli.endpoints import ENDPOINT_NAMES, EndpointTable, resolve_endpoints
from cliproxy_cli.errors import ConfigError
from cliproxy_cli.paths import Paths, resolve_paths

T = TypeVar("T")

RoutingStrategy = Literal["round-robin", "fill-first"]
CredentialStoreKind = Literal["auto", "keyring", "file"]
OAUTH_CHANNELS: Final = ("gemini", "gemini-cli", "claude", "codex", "qwen", "iflow")


@dataclass(frozen=True, slots=True)
class ModelAlias:
    name: str
    alias: str = ""
    fork: bool = False


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    """One entry of ``gemini-api-key`` / ``claude-api-key`` / ``codex-api-key``."""

    api_key: str = field(repr=False)
    base_url: str = ""
    prefix: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    proxy_url: str = ""
    models: tuple[ModelAlias, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True, slots=True)
class CompatKey:
    api_key: str = field(repr=False)
    proxy_url: str = ""


@dataclass(frozen=True, slots=True)
class OpenAICompat:
    """One entry of ``openai-compatibility``: an OpenAI Chat upstream with its own name."""

    name: str
    base_url: str
    prefix: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    api_key_entries: tuple[CompatKey, ...] = ()
    models: tuple[ModelAlias, ...] = ()
    excluded_models: tuple[str, ...] = ()
    priority: int = 0


@dataclass(frozen=True, slots=True)
class StreamingConfig:
    keepalive_seconds: float = 0
    bootstrap_retries: int = 0


@dataclass(frozen=True, slots=True)
class RemoteManagement:
    allow_remote: bool = False
    secret_key: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class QuotaExceeded:
    switch_project: bool = False
    switch_preview_model: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8317
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    auth_dir: str = ""
    debug: bool = False
    proxy_url: str = ""
    request_retry: int = 3
    max_retry_interval: float = 30
    routing_strategy: RoutingStrategy = "round-robin"
    quota_exceeded: QuotaExceeded = QuotaExceeded()
    request_log: bool = False
    usage_statistics_enabled: bool = False
    streaming: StreamingConfig = StreamingConfig()
    remote_management: RemoteManagement = RemoteManagement()
    gemini_api_key: tuple[ApiKeyEntry, ...] = ()
    claude_api_key: tuple[ApiKeyEntry, ...] = ()
    codex_api_key: tuple[ApiKeyEntry, ...] = ()
    openai_compatibility: tuple[OpenAICompat, ...] = ()
    oauth_model_alias: Mapping[str, tuple[ModelAlias, ...]] = field(default_factory=dict)
    oauth_excluded_models: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    force_model_prefix: bool = False
    credential_store: CredentialStoreKind = "auto"
    endpoints: Mapping[str, str] = field(default_factory=dict)
    max_body_mb: float = 20
    cors_allow_origins: tuple[str, ...] = ()
    usage_retention_days: int = 90
    metrics_public: bool = False
    ampcode: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    config: Config
    path: Path
    exists: bool
    warnings: tuple[str, ...]
    endpoints: EndpointTable
    paths: Paths


# ---------------------------------------------------------------------------------------------
# Validation helpers: each names the full key path in its error.


class _Reader:
    def __init__(self) -> None:
        self.warnings: list[str] = []

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {_describe(value)}")
        return value

    def string(self, value: Any, key: str) -> str:
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ConfigError(f"{key}: expected a string, got {_describe(value)}")
        return str(value).strip()

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {_describe(value)}")
        return value

    def integer(self, value: Any, key: str, *, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {_describe(value)}")
        if value < minimum:
            raise ConfigError(f"{key}: expected an integer >= {minimum}, got {value}")
        return value

    def number(self, value: Any, key: str, *, minimum: float = 0) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {_describe(value)}")
        if value < minimum:
            raise ConfigError(f"{key}: expected a number >= {minimum:g}, got {value}")
        return float(value)

    def strings(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list of strings, got {_describe(value)}")
        out: list[str] = []
        for i, item in enumerate(value):
            text = self.string(item, f"{key}[{i}]")
            if text and text not in out:
                out.append(text)
        return tuple(out)

    def headers(self, value: Any, key: str) -> dict[str, str]:
        raw = self.mapping(value, key)
        out: dict[str, str] = {}
        for name, val in raw.items():
            k = str(name).strip()
            v = self.string(val, f"{key}.{name}")
            if k and v:
                out[k] = v
        return out

    def choice(self, value: Any, key: str, choices: Mapping[str, T]) -> T:
        if isinstance(value, str) and value.strip().lower() in choices:
            return choices[value.strip().lower()]
        shown = " or ".join(repr(c) for c in dict.fromkeys(map(str, choices.values())))
        raise ConfigError(f"{key}: expected {shown}, got {value!r}")

    def warn_unknown(self, raw: Mapping[str, Any], known: set[str], where: str) -> None:
        for k in raw:
            if k in _IGNORED_COMPAT_KEYS and not where:
                self.warnings.append(
                    f"{k}: a CLIProxyAPI key that cliproxy does not use; ignored"
                )
            elif k not in known:
                self.warnings.append(f"{where}{k}: unknown key, ignored")

    def prefix(self, value: Any, key: str) -> str:
        text = self.string(value, key).strip("/ ")
        if "/" in text:
            # CLIProxyAPI drops a prefix that still contains '/'; we say so instead of guessing.
            raise ConfigError(f"{key}: expected a single path segment, got {text!r}")
        return text

    def models(self, value: Any, key: str) -> tuple[ModelAlias, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list of {{name, alias}}, got {_describe(value)}")
        out: list[ModelAlias] = []
        for i, item in enumerate(value):
            where = f"{key}[{i}]"
            if isinstance(item, str):
                out.append(ModelAlias(item.strip()))
                continue
            m = self.mapping(item, where)
            self.warn_unknown(m, {"name", "alias", "fork"}, where + ".")
            name = self.string(m.get("name"), where + ".name")
            if not name:
                raise ConfigError(f"{where}.name: expected a model name, got nothing")
            fork = self.boolean(m["fork"], where + ".fork") if "fork" in m else False
            out.append(ModelAlias(name, self.string(m.get("alias"), where + ".alias"), fork))
        return tuple(out)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value!r} ({type(value).__name__})"


_IGNORED_COMPAT_KEYS: Final = frozenset(
    {"tls", "pprof", "commercial-mode", "logging-to-file", "logs-max-total-size-mb",
     "error-logs-max-files", "disable-cooling", "ws-auth", "nonstream-keepalive-interval",
     "payload", "vertex-api-key", "kimi", "antigravity"}
)

_API_KEY_FIELDS: Final = {"api-key", "base-url", "prefix", "headers", "proxy-url", "models",
                          "excluded-models", "priority", "cloak", "websockets"}


def _api_key_entries(r: _Reader, value: Any, key: str) -> tuple[ApiKeyEntry, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of entries, got {_describe(value)}")
    out: list[ApiKeyEntry] = []
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        m = r.mapping(item, where)
        r.warn_unknown(m, _API_KEY_FIELDS, where + ".")
        api_key = r.string(m.get("api-key"), where + ".api-key")
        if not api_key:
            r.warnings.append(f"{where}.api-key: empty, entry ignored")
            continue
        base_url = r.string(m.get("base-url"), where + ".base-url")
        if (api_key, base_url) in seen:
            continue
        seen.add((api_key, base_url))
        out.append(
            ApiKeyEntry(
                api_key=api_key,
                base_url=base_url,
                prefix=r.prefix(m.get("prefix"), where + ".prefix"),
                headers=r.headers(m.get("headers"), where + ".headers"),
                proxy_url=_proxy_url(r, m.get("proxy-url"), where + ".proxy-url"),
                models=r.models(m.get("models"), where + ".models"),
                excluded_models=r.strings(m.get("excluded-models"), where + ".excluded-models"),
                priority=r.integer(m.get("priority", 0), where + ".priority", minimum=-(10**9)),
            )
        )
    return tuple(out)


def _openai_compat(r: _Reader, value: Any, key: str) -> tuple[OpenAICompat, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{key}: expected a list of entries, got {_describe(value)}")
    out: list[OpenAICompat] = []
    for i, item in enumerate(value):
        where = f"{key}[{i}]"
        m = r.mapping(item, where)
        r.warn_unknown(
            m, {"name", "base-url", "prefix", "headers", "api-key-entries", "models",
                "excluded-models", "priority", "api-keys"}, where + ".",
        )
        name = r.string(m.get("name"), where + ".name")
        if not name:
            raise ConfigError(f"{where}.name: expected a provider name, got nothing")
        base_url = r.string(m.get("base-url"), where + ".base-url")
        if not base_url:
            raise ConfigError(f"{where}.base-url: expected a URL, got nothing")
        keys: list[CompatKey] = []
        raw_keys = m.get("api-key-entries")
        if raw_keys is not None and not isinstance(raw_keys, list):
            raise ConfigError(f"{where}.api-key-entries: expected a list, got {_describe(raw_keys)}")
        for j, k in enumerate(raw_keys or []):
            kw = f"{where}.api-key-entries[{j}]"
            km = r.mapping(k, kw)
            r.warn_unknown(km, {"api-key", "proxy-url"}, kw + ".")
            keys.append(CompatKey(r.string(km.get("api-key"), kw + ".api-key"),
                                  _proxy_url(r, km.get("proxy-url"), kw + ".proxy-url")))
        out.append(
            OpenAICompat(
                name=name,
                base_url=base_url,
                prefix=r.prefix(m.get("prefix"), where + ".prefix"),
                headers=r.headers(m.get("headers"), where + ".headers"),
                api_key_entries=tuple(keys),
                models=r.models(m.get("models"), where + ".models"),
                excluded_models=r.strings(m.get("excluded-models"), where + ".excluded-models"),
                priority=r.integer(m.get("priority", 0), where + ".priority", minimum=-(10**9)),
            )
        )
    return tuple(out)


def _proxy_url(r: _Reader, value: Any, key: str) -> str:
    url = r.string(value, key)
    if url and url.split("://", 1)[0].lower() not in {"http", "https", "socks5", "socks5h"}:
        raise ConfigError(f"{key}: expected an http://, https:// or socks5:// URL, got {url!r}")
    return url


_TOP_KEYS: Final = {
    "host", "port", "api-keys", "auth-dir", "debug", "proxy-url", "request-retry",
    "max-retry-interval", "routing", "quota-exceeded", "request-log", "usage-statistics-enabled",
    "streaming", "remote-management", "gemini-api-key", "claude-api-key", "codex-api-key",
    "openai-compatibility", "oauth-model-alias", "oauth-excluded-models", "force-model-prefix",
    "credential-store", "endpoints", "max-body-mb", "cors-allow-origins", "usage", "metrics",
    "ampcode",
}


def parse_config(raw: Any) -> tuple[Config, list[str]]:
    """Validate a parsed YAML document into a ``Config``; returns it with the warnings."""
    r = _Reader()
    doc = r.mapping(raw, "config")
    r.warn_unknown(doc, _TOP_KEYS, "")
    d = Config()
    routing = r.mapping(doc.get("routing"), "routing")
    r.warn_unknown(routing, {"strategy"}, "routing.")
    streaming = r.mapping(doc.get("streaming"), "streaming")
    r.warn_unknown(streaming, {"keepalive-seconds", "bootstrap-retries"}, "streaming.")
    remote = r.mapping(doc.get("remote-management"), "remote-management")
    r.warn_unknown(remote, {"allow-remote", "secret-key", "disable-control-panel",
                            "panel-github-repository"}, "remote-management.")
    quota = r.mapping(doc.get("quota-exceeded"), "quota-exceeded")
    r.warn_unknown(quota, {"switch-project", "switch-preview-model"}, "quota-exceeded.")
    usage = r.mapping(doc.get("usage"), "usage")
    r.warn_unknown(usage, {"retention-days"}, "usage.")
    metrics = r.mapping(doc.get("metrics"), "metrics")
    r.warn_unknown(metrics, {"public"}, "metrics.")

    def get(src: Mapping[str, Any], key: str, conv: Callable[[Any, str], T], full: str, dflt: T) -> T:
        return conv(src[key], full) if key in src and src[key] is not None else dflt

    endpoints_raw = r.mapping(doc.get("endpoints"), "endpoints")
    endpoints: dict[str, str] = {}
    for name, url in endpoints_raw.items():
        if name not in ENDPOINT_NAMES:
            r.warnings.append(f"endpoints.{name}: unknown endpoint name, ignored")
            continue
        text = r.string(url, f"endpoints.{name}")
        if not text.startswith(("http://", "https://")):
            raise ConfigError(f"endpoints.{name}: expected an http(s) URL, got {text!r}")
        endpoints[name] = text

    port = get(doc, "port", r.integer, "port", d.port)
    if not 0 < port < 65536:
        raise ConfigError(f"port: expected an integer from 1 to 65535, got {port}")
    config = Config(
        host=get(doc, "host", r.string, "host", d.host) or d.host,
        port=port,
        api_keys=r.strings(doc.get("api-keys"), "api-keys"),
        auth_dir=get(doc, "auth-dir", r.string, "auth-dir", ""),
        debug=get(doc, "debug", r.boolean, "debug", False),
        proxy_url=_proxy_url(r, doc.get("proxy-url"), "proxy-url"),
        request_retry=get(doc, "request-retry", r.integer, "request-retry", d.request_retry),
        max_retry_interval=get(doc, "max-retry-interval", r.number, "max-retry-interval",
                               d.max_retry_interval),
        routing_strategy=get(routing, "strategy", lambda v, k: r.choice(v, k, _STRATEGIES),
                             "routing.strategy", d.routing_strategy),
        quota_exceeded=QuotaExceeded(
            get(quota, "switch-project", r.boolean, "quota-exceeded.switch-project", False),
            get(quota, "switch-preview-model", r.boolean,
                "quota-exceeded.switch-preview-model", False),
        ),
        request_log=get(doc, "request-log", r.boolean, "request-log", False),
        usage_statistics_enabled=get(doc, "usage-statistics-enabled", r.boolean,
                                     "usage-statistics-enabled", False),
        streaming=StreamingConfig(
            get(streaming, "keepalive-seconds", r.number, "streaming.keepalive-seconds", 0.0),
            get(streaming, "bootstrap-retries", r.integer, "streaming.bootstrap-retries", 0),
        ),
        remote_management=RemoteManagement(
            get(remote, "allow-remote", r.boolean, "remote-management.allow-remote", False),
            get(remote, "secret-key", r.string, "remote-management.secret-key", ""),
        ),
        gemini_api_key=_api_key_entries(r, doc.get("gemini-api-key"), "gemini-api-key"),
        claude_api_key=_api_key_entries(r, doc.get("claude-api-key"), "claude-api-key"),
        codex_api_key=_api_key_entries(r, doc.get("codex-api-key"), "codex-api-key"),
        openai_compatibility=_openai_compat(r, doc.get("openai-compatibility"),
                                            "openai-compatibility"),
        oauth_model_alias=_oauth_aliases(r, doc.get("oauth-model-alias")),
        oauth_excluded_models=_oauth_excluded(r, doc.get("oauth-excluded-models")),
        force_model_prefix=get(doc, "force-model-prefix", r.boolean, "force-model-prefix", False),
        credential_store=get(doc, "credential-store",
                             lambda v, k: r.choice(v, k, _STORES), "credential-store", "auto"),
        endpoints=endpoints,
        max_body_mb=get(doc, "max-body-mb", r.number, "max-body-mb", d.max_body_mb),
        cors_allow_origins=r.strings(doc.get("cors-allow-origins"), "cors-allow-origins"),
        usage_retention_days=get(usage, "retention-days", r.integer, "usage.retention-days", 90),
        metrics_public=get(metrics, "public", r.boolean, "metrics.public", False),
        ampcode=r.mapping(doc.get("ampcode"), "ampcode"),
    )
    if config.max_body_mb <= 0:
        raise ConfigError(f"max-body-mb: expected a number > 0, got {config.max_body_mb:g}")
    return config, r.warnings


_STRATEGIES: Final[dict[str, RoutingStrategy]] = {
    "round-robin": "round-robin", "roundrobin": "round-robin", "rr": "round-robin",
    "fill-first": "fill-first", "fillfirst": "fill-first", "ff": "fill-first",
}
_STORES: Final[dict[str, CredentialStoreKind]] = {"auto": "auto", "keyring": "keyring", "file": "file"}


def _oauth_aliases(r: _Reader, value: Any) -> dict[str, tuple[ModelAlias, ...]]:
    raw = r.mapping(value, "oauth-model-alias")
    out: dict[str, tuple[ModelAlias, ...]] = {}
    for channel, entries in raw.items():
        key = f"oauth-model-alias.{channel}"
        models = [m for m in r.models(entries, key) if m.alias and m.alias != m.name]
        out[_channel(str(channel))] = tuple(models)
    return out


def _oauth_excluded(r: _Reader, value: Any) -> dict[str, tuple[str, ...]]:
    raw = r.mapping(value, "oauth-excluded-models")
    return {
        _channel(str(ch)): tuple(p.lower() for p in r.strings(v, f"oauth-excluded-models.{ch}"))
        for ch, v in raw.items()
    }


def _channel(name: str) -> str:
    # CLIProxyAPI calls the Gemini CLI channel "gemini-cli"; our provider is "gemini".
    key = name.strip().lower()
    return "gemini" if key == "gemini-cli" else key


def config_path(paths: Paths, explicit: str | None, environ: Mapping[str, str]) -> tuple[Path, bool]:
    """The config file to read, and whether it was chosen explicitly (then it must exist)."""
    if explicit:
        return Path(explicit).expanduser(), True
    env_path = environ.get("CLIPROXY_CONFIG")
    if env_path:
        return Path(env_path).expanduser(), True
    return paths.config_file, False


def load_config(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    env: Mapping[str, str] = os.environ if environ is None else environ
    paths = resolve_paths(dict(env))
    path, is_explicit = config_path(paths, explicit, env)
    if not path.exists():
        if is_explicit:
            raise ConfigError(f"config file {path} does not exist",
                              hint="run `cliproxy config init` to write a starter file")
        config, warnings = Config(), list[str]()
        exists = False
    else:
        config, warnings = parse_config(_read_yaml(path))
        exists = True
    return LoadedConfig(config, path, exists, tuple(warnings),
                        resolve_endpoints(config.endpoints, env), paths)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{path}: invalid YAML{where}") from exc


def config_to_dict(config: Config) -> dict[str, Any]:
    """The effective config in the file's own shape (kebab-case keys); secrets not redacted."""

    def entry(e: ApiKeyEntry) -> dict[str, Any]:
        return {"api-key": e.api_key, "base-url": e.base_url, "prefix": e.prefix,
                "headers": dict(e.headers), "proxy-url": e.proxy_url,
                "models": [_alias_dict(m) for m in e.models],
                "excluded-models": list(e.excluded_models), "priority": e.priority}

    return {
        "host": config.host, "port": config.port, "api-keys": list(config.api_keys),
        "auth-dir": config.auth_dir, "debug": config.debug, "proxy-url": config.proxy_url,
        "request-retry": config.request_retry, "max-retry-interval": config.max_retry_interval,
        "routing": {"strategy": config.routing_strategy},
        "quota-exceeded": {"switch-project": config.quota_exceeded.switch_project,
                           "switch-preview-model": config.quota_exceeded.switch_preview_model},
        "request-log": config.request_log,
        "usage-statistics-enabled": config.usage_statistics_enabled,
        "streaming": {"keepalive-seconds": config.streaming.keepalive_seconds,
                      "bootstrap-retries": config.streaming.bootstrap_retries},
        "remote-management": {"allow-remote": config.remote_management.allow_remote,
                              "secret-key": config.remote_management.secret_key},
        "gemini-api-key": [entry(e) for e in config.gemini_api_key],
        "claude-api-key": [entry(e) for e in config.claude_api_key],
        "codex-api-key": [entry(e) for e in config.codex_api_key],
        "openai-compatibility": [
            {"name": c.name, "base-url": c.base_url, "prefix": c.prefix,
             "headers": dict(c.headers),
             "api-key-entries": [{"api-key": k.api_key, "proxy-url": k.proxy_url}
                                 for k in c.api_key_entries],
             "models": [_alias_dict(m) for m in c.models],
             "excluded-models": list(c.excluded_models)}
            for c in config.openai_compatibility
        ],
        "oauth-model-alias": {ch: [_alias_dict(m) for m in ms]
                              for ch, ms in config.oauth_model_alias.items()},
        "oauth-excluded-models": {ch: list(v) for ch, v in config.oauth_excluded_models.items()},
        "force-model-prefix": config.force_model_prefix,
        "credential-store": config.credential_store,
        "max-body-mb": config.max_body_mb,
        "cors-allow-origins": list(config.cors_allow_origins),
        "usage": {"retention-days": config.usage_retention_days},
        "metrics": {"public": config.metrics_public},
    }


def _alias_dict(m: ModelAlias) -> dict[str, Any]:
    out: dict[str, Any] = {"name": m.name}
    if m.alias:
        out["alias"] = m.alias
    if m.fork:
        out["fork"] = True
    return out


class ConfigWatcher:
    """Notices when the config file changed (mtime, size, then content) for hot reload."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._read_stamp()

    def _read_stamp(self) -> tuple[int, int, bytes] | None:
        try:
            st = self.path.stat()
            return (st.st_mtime_ns, st.st_size, self.path.read_bytes())
        except OSError:
            return None

    def changed(self) -> bool:
        try:
            st = self.path.stat()
            quick = (st.st_mtime_ns, st.st_size)
        except OSError:
            quick = None
        if self._stamp is not None and quick == self._stamp[:2]:
            return False
        new = self._read_stamp()
        old, self._stamp = self._stamp, new
        if old is None or new is None:
            return old != new
        return old[2] != new[2]


STARTER_CONFIG: Final = """\
# cliproxy configuration. Every key is optional; delete what you do not need.
# Docs: `cliproxy config show` prints the effective values (secrets redacted).

host: 127.0.0.1            # bind address; a non-loopback host needs api-keys
port: 8317

# Keys clients must send (Authorization: Bearer, x-api-key, x-goog-api-key, ?key=).
# Empty = no key needed (only safe on loopback).
api-keys: []

routing:
  strategy: round-robin    # or fill-first
request-retry: 3           # retries on another account for 408/5xx/connection errors
max-retry-interval: 30     # seconds to wait for a cooling account before answering 429

credential-store: auto     # auto | keyring | file

streaming:
  keepalive-seconds: 0     # 0 = off
  bootstrap-retries: 0

# API-key upstreams (examples):
# claude-api-key:
#   - api-key: sk-ant-your-key
# gemini-api-key:
#   - api-key: your-gemini-key
# codex-api-key:
#   - api-key: sk-your-key
#     base-url: https://api.openai.com/v1
# openai-compatibility:
#   - name: openrouter
#     base-url: https://openrouter.ai/api/v1
#     api-key-entries:
#       - api-key: sk-or-your-key
#     models:
#       - name: moonshotai/kimi-k2
#         alias: kimi-k2
"""
