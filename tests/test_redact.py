"""Secrets never leak through reprs, logs or `config show`."""

from __future__ import annotations

import logging

from cliproxy_cli.redact import RedactingFilter, Secret, mask, redact_text, redact_tree


def test_secret_hides_in_repr_and_str() -> None:
    s = Secret("sk-FAKE-verysecret-abcd")
    assert "verysecret" not in repr(s) and "verysecret" not in str(s) and "verysecret" not in f"{s}"
    assert s.reveal().endswith("abcd")


def test_mask_short_values_fully() -> None:
    assert mask("short") == "………"
    assert mask("sk-ant-0123456789") == "sk-…6789"


def test_redact_text_shapes() -> None:
    text = ("Authorization: Bearer ya29.FAKEsecretsecret key=AIzaSyA-secretsecretsecret "
            "api_key=abcdef123456 sk-FAKE-abcdefghijklmnop")
    out = redact_text(text)
    for leaked in ("FAKEsecretsecret", "secretsecretsecret", "abcdef123456",
                   "abcdefghijklmnop"):
        assert leaked not in out


def test_redact_tree_masks_secret_keys() -> None:
    tree = {"api-keys": ["client-key-123456"], "claude-api-key": [{"api-key": "sk-ant-xxxxxxxx1"}],
            "proxy-url": "http://user:pw123@proxy:8080", "port": 8317,
            "remote-management": {"secret-key": "mgmt-secret-value"}}
    out = str(redact_tree(tree))
    for leaked in ("client-key-123456", "sk-ant-xxxxxxxx1", "pw123", "mgmt-secret-value"):
        assert leaked not in out
    assert "8317" in out


def test_redacting_filter_masks_log_records(caplog) -> None:
    logger = logging.getLogger("cliproxy_cli.test")
    handler_filter = RedactingFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1,
                               "token refresh Bearer %s", ("sk-live-secret-token-1234",), None)
    handler_filter.filter(record)
    assert "secret-token" not in record.getMessage()
    assert logger is not None
