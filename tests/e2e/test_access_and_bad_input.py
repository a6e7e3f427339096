"""Access control (five key locations, refusals in each caller's shape) and bad input."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import CLIENT_KEY, Stack

CHAT = ("/v1/chat/completions", {"model": "fake-chat-model",
                                  "messages": [{"role": "user", "content": "x"}]})
MESSAGES = ("/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 8,
                             "messages": [{"role": "user", "content": "x"}]})
GEMINI = ("/v1beta/models/gemini-2.5-flash:generateContent",
          {"contents": [{"role": "user", "parts": [{"text": "x"}]}]})
RESPONSES = ("/v1/responses", {"model": "gpt-5", "input": "x"})


def _assert_shape(path: str, body: dict, status: int) -> None:
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and body["error"]["message"]
        assert body["error"]["type"]
    elif path.startswith("/v1beta"):
        assert body["error"]["code"] == status and body["error"]["status"]
        assert body["error"]["message"]
    else:
        assert body["error"]["message"] and body["error"]["type"]


@pytest.mark.parametrize(
    ("where", "make"),
    [
        ("bearer", lambda k: ({"authorization": f"Bearer {k}"}, {})),
        ("x-api-key", lambda k: ({"x-api-key": k}, {})),
        ("x-goog-api-key", lambda k: ({"x-goog-api-key": k}, {})),
        ("query key", lambda k: ({}, {"key": k})),
        ("query auth_token", lambda k: ({}, {"auth_token": k})),
    ],
)
@pytest.mark.parametrize("route", [CHAT, MESSAGES, GEMINI, RESPONSES], ids=lambda r: r[0])
def test_key_accepted_in_each_location(stack: Stack, where, make, route) -> None:
    headers, params = make(CLIENT_KEY)
    r = httpx.post(stack.proxy + route[0], json=route[1], headers=headers, params=params)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("route", [CHAT, MESSAGES, GEMINI, RESPONSES], ids=lambda r: r[0])
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_refused_without_valid_key_in_callers_shape(stack: Stack, route, key) -> None:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    r = httpx.post(stack.proxy + route[0], json=route[1], headers=headers)
    assert r.status_code == 401
    _assert_shape(route[0], r.json(), 401)
    assert stack.fake.requests == []


def test_healthz_needs_no_key(stack: Stack) -> None:
    assert httpx.get(stack.proxy + "/healthz").json() == {"status": "ok"}
    assert httpx.head(stack.proxy + "/").status_code == 200


def test_models_need_a_key(stack: Stack) -> None:
    assert httpx.get(stack.proxy + "/v1/models").status_code == 401


def _post(stack: Stack, path: str, content: bytes, ctype: str = "application/json"):
    return httpx.post(stack.proxy + path, content=content,
                      headers={"authorization": f"Bearer {CLIENT_KEY}", "content-type": ctype})


@pytest.mark.parametrize("route", [CHAT, MESSAGES, GEMINI, RESPONSES], ids=lambda r: r[0])
@pytest.mark.parametrize(
    ("content", "status"),
    [(b"{not json", 400), (b"[1, 2]", 400), (b"", 400), (b'"text"', 400)],
)
def test_malformed_bodies_are_4xx(stack: Stack, route, content, status) -> None:
    r = _post(stack, route[0], content)
    assert r.status_code == status
    _assert_shape(route[0], r.json(), status)


@pytest.mark.parametrize("route", [CHAT, MESSAGES, RESPONSES], ids=lambda r: r[0])
def test_missing_and_wrong_model(stack: Stack, route) -> None:
    body = dict(route[1])
    body.pop("model")
    r = httpx.post(stack.proxy + route[0], json=body, headers={"x-api-key": CLIENT_KEY})
    assert r.status_code == 400
    assert "model" in r.text
    body["model"] = 42
    r = httpx.post(stack.proxy + route[0], json=body, headers={"x-api-key": CLIENT_KEY})
    assert r.status_code == 400


@pytest.mark.parametrize("route", [CHAT, MESSAGES, RESPONSES], ids=lambda r: r[0])
def test_unknown_model_is_404_with_hint(stack: Stack, route) -> None:
    body = dict(route[1], model="no-such-model")
    r = httpx.post(stack.proxy + route[0], json=body, headers={"x-api-key": CLIENT_KEY})
    assert r.status_code == 404
    _assert_shape(route[0], r.json(), 404)
    assert "/v1/models" in r.text


def test_unknown_gemini_model_is_404(stack: Stack) -> None:
    r = httpx.post(stack.proxy + "/v1beta/models/nope:generateContent", json=GEMINI[1],
                   headers={"x-goog-api-key": CLIENT_KEY})
    assert r.status_code == 404
    _assert_shape("/v1beta", r.json(), 404)


def test_wrong_stream_type_is_400(stack: Stack) -> None:
    r = httpx.post(stack.proxy + CHAT[0], json=dict(CHAT[1], stream="yes"),
                   headers={"x-api-key": CLIENT_KEY})
    assert r.status_code == 400


def test_non_json_content_type_is_415(stack: Stack) -> None:
    r = _post(stack, CHAT[0], b"model=x", "application/x-www-form-urlencoded")
    assert r.status_code == 415
    r = _post(stack, MESSAGES[0], b"{}", "text/plain")
    assert r.status_code == 415
    _assert_shape(MESSAGES[0], r.json(), 415)


def test_body_over_limit_is_413(stack: Stack) -> None:
    big = b'{"model": "fake-chat-model", "messages": [], "pad": "' + b"x" * (21 * 1024 * 1024) + b'"}'
    r = _post(stack, CHAT[0], big)
    assert r.status_code == 413
    assert stack.fake.requests == []


def test_foreign_host_header_refused(stack: Stack) -> None:
    r = httpx.post(stack.proxy + CHAT[0], json=CHAT[1],
                   headers={"x-api-key": CLIENT_KEY, "host": "evil.example.com"})
    assert r.status_code == 403


def test_no_cors_headers_by_default(stack: Stack) -> None:
    r = httpx.post(stack.proxy + CHAT[0], json=CHAT[1],
                   headers={"x-api-key": CLIENT_KEY, "origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in r.headers


def test_unknown_route_is_404_in_callers_shape(stack: Stack) -> None:
    r = httpx.post(stack.proxy + "/v1/messages/nope", json={}, headers={"x-api-key": CLIENT_KEY})
    assert r.status_code in (404, 405)
    _assert_shape("/v1/messages", r.json(), r.status_code)


def test_upstream_error_passes_through_same_format(stack: Stack) -> None:
    stack.fake.fault_plan.extend(["fault-500"] * 10)
    r = httpx.post(stack.proxy + MESSAGES[0], json=MESSAGES[1], headers={"x-api-key": CLIENT_KEY})
    assert r.status_code >= 500
    _assert_shape(MESSAGES[0], r.json(), r.status_code)
