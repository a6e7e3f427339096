"""Config loading, validation messages, defaults, endpoint overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from cliproxy_cli.config import Config, ConfigWatcher, load_config, parse_config
from cliproxy_cli.endpoints import ENDPOINTS, env_var, resolve_endpoints
from cliproxy_cli.errors import ConfigError


def test_defaults_when_no_file(cliproxy_home: Path) -> None:
    loaded = load_config()
    assert not loaded.exists
    assert loaded.path == cliproxy_home / "config.yaml"
    assert loaded.config == Config()
    assert (loaded.config.host, loaded.config.port) == ("127.0.0.1", 8317)
    assert loaded.config.request_retry == 3 and loaded.config.max_retry_interval == 30
    assert loaded.paths.data_dir == cliproxy_home / "data"
    assert loaded.paths.log_dir == cliproxy_home / "logs"
    assert loaded.paths.run_dir == cliproxy_home / "run"


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "nope.yaml"))


def test_cliproxy_config_env_selects_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "other.yaml"
    f.write_text("port: 9999\n")
    monkeypatch.setenv("CLIPROXY_CONFIG", str(f))
    assert load_config().config.port == 9999


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"routing": {"strategy": "rr2"}},
         "routing.strategy: expected 'round-robin' or 'fill-first', got 'rr2'"),
        ({"port": "eighty"}, "port: expected an integer"),
        ({"port": 70000}, "port: expected an integer from 1 to 65535"),
        ({"debug": "yes"}, "debug: expected true or false"),
        ({"api-keys": "abc"}, "api-keys: expected a list of strings"),
        ({"claude-api-key": [{"api-key": "k", "headers": ["x"]}]},
         "claude-api-key[0].headers: expected a mapping"),
        ({"openai-compatibility": [{"name": "x"}]},
         "openai-compatibility[0].base-url: expected a URL"),
        ({"credential-store": "vault"}, "credential-store: expected 'auto' or 'keyring' or 'file'"),
        ({"max-retry-interval": -1}, "max-retry-interval: expected a number >= 0"),
        ({"proxy-url": "ftp://x"}, "proxy-url: expected an http://, https:// or socks5:// URL"),
        ({"endpoints": {"claude.api": "not a url"}}, "endpoints.claude.api: expected an http(s) URL"),
        ({"gemini-api-key": [{"api-key": "k", "prefix": "a/b"}]},
         "gemini-api-key[0].prefix: expected a single path segment"),
    ],
)
def test_validation_names_the_key(doc: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert message in str(info.value)


def test_unknown_keys_warn_not_fail() -> None:
    config, warnings = parse_config({"porrt": 1, "routing": {"stratgy": "x"}, "tls": {}})
    assert config == Config()
    assert "porrt: unknown key, ignored" in warnings
    assert "routing.stratgy: unknown key, ignored" in warnings
    assert any(w.startswith("tls: a CLIProxyAPI key") for w in warnings)


def test_compat_config_parses() -> None:
    doc = {
        "port": 8317, "api-keys": ["a", "a", "b"], "request-retry": 2,
        "routing": {"strategy": "fill-first"},
        "claude-api-key": [{"api-key": "sk-x", "base-url": "https://relay.example",
                            "models": [{"name": "claude-sonnet-4-6", "alias": "sonnet"}],
                            "excluded-models": ["*haiku*"], "headers": {"X-A": " b "}}],
        "oauth-model-alias": {"gemini-cli": [{"name": "gemini-2.5-pro", "alias": "g-pro",
                                              "fork": True}]},
        "oauth-excluded-models": {"Claude": ["Claude-3*"]},
    }
    config, warnings = parse_config(doc)
    assert warnings == []
    assert config.api_keys == ("a", "b")
    assert config.routing_strategy == "fill-first"
    entry = config.claude_api_key[0]
    assert entry.models[0].alias == "sonnet" and entry.headers == {"X-A": "b"}
    assert config.oauth_model_alias["gemini"][0].fork is True
    assert config.oauth_excluded_models["claude"] == ("claude-3*",)


def test_repr_hides_secrets() -> None:
    config, _ = parse_config({"api-keys": ["client-secret-1"],
                              "claude-api-key": [{"api-key": "sk-ant-secret-value"}],
                              "remote-management": {"secret-key": "mgmt-secret"}})
    text = repr(config)
    for secret in ("client-secret-1", "sk-ant-secret-value", "mgmt-secret"):
        assert secret not in text


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("port: 1\nrouting: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(str(f))


def test_endpoint_overrides_env_wins() -> None:
    table = resolve_endpoints({"claude.api": "http://config.example"},
                              {env_var("claude.api"): "http://env.example",
                               "CLIPROXY_ENDPOINT_QWEN_DEVICE_CODE": "http://q.example"})
    assert table.url("claude.api") == "http://env.example"
    assert table.url("qwen.device-code") == "http://q.example"
    assert table.is_overridden("claude.api") and not table.is_overridden("codex.api")
    assert table.url("gemini.api") == "https://generativelanguage.googleapis.com"


def test_every_spec_endpoint_is_named() -> None:
    names = {e.name for e in ENDPOINTS}
    assert len(names) == 18
    assert env_var("claude.token") == "CLIPROXY_ENDPOINT_CLAUDE_TOKEN"
    assert env_var("gemini.code-assist") == "CLIPROXY_ENDPOINT_GEMINI_CODE_ASSIST"


def test_unknown_endpoint_name_warns() -> None:
    _, warnings = parse_config({"endpoints": {"claude.apii": "http://x"}})
    assert warnings == ["endpoints.claude.apii: unknown endpoint name, ignored"]


def test_watcher_notices_content_changes(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("port: 1\n")
    w = ConfigWatcher(f)
    assert not w.changed()
    f.write_text("port: 2\n")
    assert w.changed()
    assert not w.changed()
