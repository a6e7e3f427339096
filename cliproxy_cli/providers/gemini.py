"""Gemini upstreams: ``gemini-api-key`` entries (Gemini API) and Google login accounts
(Gemini CLI's Cloud Code Assist, ``v1internal`` with the ``{model, project, request}`` envelope)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import orjson

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.providers.base import (
    UpstreamCall,
    UpstreamRequest,
    default_classify,
    join_url,
    json_body,
    merge_headers,
    parse_duration,
)

# What the official Gemini CLI sends to Code Assist (anchor §5.1).
CODE_ASSIST_HEADERS: Final = {
    "user-agent": "google-api-nodejs-client/9.15.1",
    "x-goog-api-client": "gl-node/22.17.0",
    "client-metadata": "ideType=IDE_UNSPECIFIED,platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI",
}


class GeminiProvider:
    name = "gemini"

    def wire_format(self, credential: Credential) -> Format:
        return Format.GEMINI

    def can_count_tokens(self, credential: Credential) -> bool:
        return True

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        if call.credential.kind == "api_key":
            return self._build_api_key(call, endpoints)
        return self._build_code_assist(call, endpoints)

    def _build_api_key(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        cred = call.credential
        base = cred.base_url or endpoints.url("gemini.api")
        model = call.upstream_model.removeprefix("models/")
        if call.action == "count_tokens":
            path, stream = f"/v1beta/models/{model}:countTokens", False
        elif call.stream:
            path, stream = f"/v1beta/models/{model}:streamGenerateContent?alt=sse", True
        else:
            path, stream = f"/v1beta/models/{model}:generateContent", False
        body = call.body
        body.pop("model", None)
        headers = {"content-type": "application/json", "x-goog-api-key": cred.api_key}
        merge_headers(headers, cred.headers)
        return UpstreamRequest(url=join_url(base, path), headers=headers,
                               body=orjson.dumps(body), stream=stream)

    def _build_code_assist(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        cred = call.credential
        assert call.secret is not None and cred.account is not None
        base = endpoints.url("gemini.code-assist")
        inner = call.body
        inner.pop("model", None)
        if call.action == "count_tokens":
            inner.pop("safetySettings", None)
            envelope: dict[str, Any] = {
                "request": {"model": f"models/{call.upstream_model}", **inner}
            }
            path, stream = "/v1internal:countTokens", False
        else:
            envelope = {"model": call.upstream_model, "project": cred.account.project_id,
                        "request": inner}
            if call.stream:
                path, stream = "/v1internal:streamGenerateContent?alt=sse", True
            else:
                path, stream = "/v1internal:generateContent", False
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
            "authorization": f"Bearer {call.secret.access_token}",
            **CODE_ASSIST_HEADERS,
        }
        merge_headers(headers, cred.headers)
        return UpstreamRequest(url=join_url(base, path), headers=headers,
                               body=orjson.dumps(envelope), stream=stream, envelope=True)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        err = default_classify(self.name, status, headers, body)
        data = json_body(body)
        if isinstance(data, list) and data:
            data = data[0]
        error = data.get("error") if isinstance(data, dict) else None
        if not isinstance(error, dict):
            return err
        match str(error.get("status", "")):
            case "RESOURCE_EXHAUSTED":
                err.kind = ErrorKind.QUOTA
            case "UNAUTHENTICATED" | "PERMISSION_DENIED":
                err.kind = ErrorKind.AUTH
            case "UNAVAILABLE" | "INTERNAL" | "DEADLINE_EXCEEDED":
                err.kind = ErrorKind.TRANSIENT
            case "INVALID_ARGUMENT" | "NOT_FOUND" | "FAILED_PRECONDITION":
                err.kind = ErrorKind.BAD_REQUEST
        hint = retry_hint(error)
        if hint is not None and err.retry_after is None:
            err.retry_after = hint
        return err


def retry_hint(error: Mapping[str, Any]) -> float | None:
    """Google's structured retry hints: RetryInfo.retryDelay, then ErrorInfo quotaResetDelay."""
    details = error.get("details")
    if not isinstance(details, list):
        return None
    for kind, getter in (
        ("type.googleapis.com/google.rpc.RetryInfo", lambda d: d.get("retryDelay")),
        ("type.googleapis.com/google.rpc.ErrorInfo",
         lambda d: (d.get("metadata") or {}).get("quotaResetDelay")),
    ):
        for d in details:
            if isinstance(d, dict) and d.get("@type") == kind:
                value = getter(d)
                if isinstance(value, str):
                    seconds = parse_duration(value)
                    if seconds is not None:
                        return seconds
    return None
