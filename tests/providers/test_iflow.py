"""iFlow provider: the API key as Bearer, the signed iFlow CLI headers, the empty-tools quirk,
and classification."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.accounts.model import Account, ProviderName, TokenBundle
from cliproxy_cli.endpoints import resolve_endpoints
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.providers.base import UpstreamCall
from cliproxy_cli.providers.iflow import IFlowProvider, sign

NOW = 1_760_000_000.123
ENDPOINTS = resolve_endpoints({}, environ={})
PROVIDER = IFlowProvider(clock=lambda: NOW)
OAUTH = Credential("iflow-1380", "iflow", "oauth",
                   account=Account("iflow-1380", ProviderName.IFLOW, label="13800000000"))
SECRET = TokenBundle(access_token="oauth-access", refresh_token="r", api_key="sk-iflow-key")


def _build(body: dict[str, Any], *, stream: bool = False,
           secret: TokenBundle = SECRET) -> tuple[Any, dict[str, Any]]:
    req = PROVIDER.build(UpstreamCall(OAUTH, body, "glm-4.6", stream, {}, secret), ENDPOINTS)
    return req, json.loads(req.body)


def _messages(**extra: Any) -> dict[str, Any]:
    return {"model": "x", "messages": [{"role": "user", "content": "hi"}], **extra}


def test_request_uses_the_api_key_and_signed_headers() -> None:
    req, body = _build(_messages())
    assert req.url == "https://apis.iflow.cn/v1/chat/completions"
    h = req.headers
    assert h["authorization"] == "Bearer sk-iflow-key"
    assert h["user-agent"] == "iFlow-Cli"
    assert h["session-id"].startswith("session-") and len(h["session-id"]) == 8 + 36
    assert h["x-iflow-timestamp"] == "1760000000123"
    expected = hmac.new(b"sk-iflow-key",
                        f"iFlow-Cli:{h['session-id']}:1760000000123".encode(),
                        hashlib.sha256).hexdigest()
    assert h["x-iflow-signature"] == expected
    assert body["model"] == "glm-4.6"


def test_each_request_has_its_own_session() -> None:
    first, _ = _build(_messages())
    second, _ = _build(_messages())
    assert first.headers["session-id"] != second.headers["session-id"]


def test_sign_matches_the_documented_payload() -> None:
    assert sign("k", "session-x", "1") == hmac.new(b"k", b"iFlow-Cli:session-x:1",
                                                   hashlib.sha256).hexdigest()


def test_empty_tools_in_a_stream_get_a_placeholder() -> None:
    _, body = _build(_messages(tools=[]), stream=True)
    assert [t["function"]["name"] for t in body["tools"]] == ["noop"]
    assert body["stream_options"] == {"include_usage": True}
    _, absent = _build(_messages(), stream=True)
    assert "tools" not in absent


def test_missing_api_key_is_an_auth_failure_with_the_login_hint() -> None:
    with pytest.raises(UpstreamError) as caught:
        _build(_messages(), secret=TokenBundle(access_token="a"))
    assert caught.value.kind is ErrorKind.AUTH
    assert caught.value.hint is not None and "login iflow" in caught.value.hint


def test_iflow_api_endpoint_override() -> None:
    endpoints = resolve_endpoints({}, environ={"CLIPROXY_ENDPOINT_IFLOW_API": "http://f/iflow/v1"})
    req = PROVIDER.build(UpstreamCall(OAUTH, _messages(), "glm-4.6", False, {}, SECRET), endpoints)
    assert req.url == "http://f/iflow/v1/chat/completions"


@pytest.mark.parametrize(("status", "headers", "error", "kind", "retry"), [
    (429, {"retry-after": "30"}, {"code": "rate_limit_exceeded"}, ErrorKind.QUOTA, 30),
    (403, {}, {"code": "insufficient_quota"}, ErrorKind.QUOTA, None),
    (401, {}, {"code": "invalid_api_key"}, ErrorKind.AUTH, None),
    (400, {}, {"code": "invalid_request_error"}, ErrorKind.BAD_REQUEST, None),
    (502, {}, {"message": "bad gateway"}, ErrorKind.TRANSIENT, None),
])
def test_classification(status: int, headers: dict[str, str], error: dict[str, Any],
                        kind: ErrorKind, retry: float | None) -> None:
    err = PROVIDER.classify(status, headers, json.dumps({"error": error}).encode())
    assert err.kind is kind and err.retry_after == retry
