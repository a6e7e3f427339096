"""Model registry: built-ins, config models and aliases, exclusions, prefixes, OAuth aliases."""

from __future__ import annotations

from cliproxy_cli.accounts.model import Account, ProviderName
from cliproxy_cli.config import parse_config
from cliproxy_cli.routing.registry import build_registry, matches


def _registry(doc: dict, accounts: list[Account] | None = None):
    config, _ = parse_config(doc)
    return build_registry(config, accounts or [])


def test_api_key_entry_serves_builtins_without_models() -> None:
    reg = _registry({"claude-api-key": [{"api-key": "k1"}]})
    routes = reg.resolve("claude-sonnet-4-6")
    assert len(routes) == 1 and routes[0].upstream_model == "claude-sonnet-4-6"
    assert routes[0].credential.provider == "claude"


def test_config_models_replace_builtins_and_alias_maps_to_name() -> None:
    reg = _registry({"claude-api-key": [{"api-key": "k1", "models": [
        {"name": "claude-opus-4-6", "alias": "big"}]}]})
    assert reg.resolve("claude-sonnet-4-6") == ()
    assert reg.resolve("big")[0].upstream_model == "claude-opus-4-6"
    assert reg.resolve("BIG")[0].upstream_model == "claude-opus-4-6"


def test_excluded_models_wildcards() -> None:
    reg = _registry({"gemini-api-key": [{"api-key": "k", "excluded-models": ["*-lite", "gemini-3*"]}]})
    ids = {m.id for m in reg.models()}
    assert "gemini-2.5-flash" in ids
    assert "gemini-2.5-flash-lite" not in ids and "gemini-3-pro-preview" not in ids
    assert matches(["*FLASH*"], "gemini-2.5-flash")


def test_prefix_pins_and_force_prefix() -> None:
    doc = {"claude-api-key": [{"api-key": "a", "prefix": "team"}, {"api-key": "b"}]}
    reg = _registry(doc)
    assert len(reg.resolve("team/claude-sonnet-4-6")) == 1
    assert len(reg.resolve("claude-sonnet-4-6")) == 2
    forced = _registry({**doc, "force-model-prefix": True})
    assert len(forced.resolve("claude-sonnet-4-6")) == 1
    assert forced.resolve("claude-sonnet-4-6")[0].credential.api_key == "b"


def test_oauth_accounts_aliases_exclusions_and_disabled() -> None:
    accounts = [Account("gemini-a", ProviderName.GEMINI, project_id="p"),
                Account("claude-off", ProviderName.CLAUDE, disabled=True),
                Account("codex-x", ProviderName.CODEX, excluded_models=("gpt-5.1*",))]
    reg = _registry({
        "oauth-model-alias": {"gemini-cli": [{"name": "gemini-2.5-pro", "alias": "g-pro"},
                                             {"name": "gemini-2.5-flash", "alias": "g-flash",
                                              "fork": True}]},
        "oauth-excluded-models": {"codex": ["gpt-5.2*"]},
    }, accounts)
    assert reg.resolve("gemini-2.5-pro") == ()
    assert reg.resolve("g-pro")[0].upstream_model == "gemini-2.5-pro"
    assert reg.resolve("g-flash") and reg.resolve("gemini-2.5-flash")
    assert reg.resolve("claude-sonnet-4-6") == ()
    ids = {m.id for m in reg.models("codex")}
    assert "gpt-5" in ids and "gpt-5.1-codex" not in ids and "gpt-5.2" not in ids


def test_openai_compat_entries_one_credential_per_key() -> None:
    reg = _registry({"openai-compatibility": [{
        "name": "router", "base-url": "http://r", "models": [{"name": "m"}],
        "api-key-entries": [{"api-key": "k1"}, {"api-key": "k2"}]}]})
    routes = reg.resolve("m")
    assert {r.credential.api_key for r in routes} == {"k1", "k2"}
    assert all(r.credential.compat_name == "router" for r in routes)


def test_models_list_names_providers_and_credentials() -> None:
    reg = _registry({"claude-api-key": [{"api-key": "k"}], "openai-compatibility": [
        {"name": "oc", "base-url": "http://x", "models": [{"name": "claude-sonnet-4-6"}]}]})
    info = next(m for m in reg.models() if m.id == "claude-sonnet-4-6")
    assert set(info.providers) == {"claude", "openai_compat"}
    assert len(info.credentials) == 2
