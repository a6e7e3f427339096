"""Gemini upstreams: ``gemini-api-key`` entries (Gemini API) and Google login accounts
(Gemini CLI's Cloud Code Assist, ``v1internal`` with the ``{model, project, request}`` envelope).

Code Assist (anchor §5.1): ``POST <gemini.code-assist>/v1internal:generateContent``,
``:streamGenerateContent?alt=sse`` and ``:countTokens`` with the Gemini CLI's headers and the
account's Cloud project; every answer is ``{"response": {…}, "traceId": …}`` (countTokens answers
plainly), which the pipeline unwraps.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import orjson

from cliproxy_cli.accounts.credential import Credential
from cliproxy_cli.endpoints import EndpointTable
from cliproxy_cli.errors import ErrorKind, UpstreamError
from cliproxy_cli.formats.ir import Format
from cliproxy_cli.formats.reasoning import LEVEL_TO_BUDGET
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


# Google's structured reasons inside ``google.rpc.ErrorInfo``.
_CAPACITY_REASONS: Final = frozenset({"MODEL_CAPACITY_EXHAUSTED"})
_QUOTA_REASONS: Final = frozenset({"RATE_LIMIT_EXCEEDED", "QUOTA_EXHAUSTED",
                                   "RESOURCE_PROJECT_INVALID_QUOTA"})
_ERROR_INFO: Final = "type.googleapis.com/google.rpc.ErrorInfo"
_RETRY_INFO: Final = "type.googleapis.com/google.rpc.RetryInfo"
# Last resort only, after the structured fields: "Your quota will reset after 17s."
_AFTER_SECONDS: Final = re.compile(r"after\s+(\d+(?:\.\d+)?)s\b")


class GeminiProvider:
    name = "gemini"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

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
        body.pop("session_id", None)  # a Gemini CLI envelope field the public API rejects
        _fit_thinking(body, model)
        headers = {"content-type": "application/json", "x-goog-api-key": cred.api_key}
        merge_headers(headers, cred.headers)
        return UpstreamRequest(url=join_url(base, path), headers=headers,
                               body=orjson.dumps(body), stream=stream)

    def _build_code_assist(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        cred = call.credential
        if call.secret is None or cred.account is None:
            raise UpstreamError("gemini OAuth account has no token", kind=ErrorKind.AUTH,
                                status=401, provider=self.name, hint="run `cliproxy login gemini`")
        project = cred.account.project_id
        if not project and call.action != "count_tokens":
            raise UpstreamError(
                f"gemini account {cred.account.id} has no Cloud project for Code Assist",
                kind=ErrorKind.AUTH, status=401, provider=self.name,
                hint="run `cliproxy login gemini` (or `--project-id ID`) to pick one")
        base = endpoints.url("gemini.code-assist")
        inner = call.body
        inner.pop("model", None)
        _fit_thinking(inner, call.upstream_model)
        if call.action == "count_tokens":
            inner.pop("safetySettings", None)
            envelope: dict[str, Any] = {
                "request": {"model": f"models/{call.upstream_model}", **inner}
            }
            path, stream = "/v1internal:countTokens", False
        else:
            envelope = {"model": call.upstream_model, "project": project, "request": inner}
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
                if status < 500 and status not in (401, 403, 429):
                    err.kind = ErrorKind.BAD_REQUEST
        reasons = _reasons(error)
        if reasons & _CAPACITY_REASONS:
            # The server has no capacity for the model: not this account's quota.
            err.kind = ErrorKind.TRANSIENT
        elif reasons & _QUOTA_REASONS:
            err.kind = ErrorKind.QUOTA
        if err.retry_after is None:
            err.retry_after = retry_hint(error, now=self._clock())
        if err.retry_after is None and err.kind is ErrorKind.QUOTA:
            found = _AFTER_SECONDS.search(str(error.get("message", "")))
            if found:
                err.retry_after = float(found.group(1))
        if err.kind is ErrorKind.AUTH:
            err.hint = "run `cliproxy login gemini` if this account keeps failing"
        return err


def _reasons(error: Mapping[str, Any]) -> set[str]:
    details = error.get("details")
    if not isinstance(details, list):
        return set()
    return {str(d.get("reason")) for d in details
            if isinstance(d, dict) and d.get("@type") == _ERROR_INFO and d.get("reason")}


def retry_hint(error: Mapping[str, Any], *, now: float | None = None) -> float | None:
    """Google's structured retry hints: RetryInfo.retryDelay, then ErrorInfo quotaResetDelay,
    then ErrorInfo quotaResetTimeStamp (an RFC 3339 instant)."""
    details = error.get("details")
    if not isinstance(details, list):
        return None
    infos = [d for d in details if isinstance(d, dict)]
    for d in infos:
        if d.get("@type") == _RETRY_INFO and isinstance(d.get("retryDelay"), str):
            seconds = parse_duration(d["retryDelay"])
            if seconds is not None:
                return seconds
    for d in infos:
        metadata = d.get("metadata")
        if d.get("@type") != _ERROR_INFO or not isinstance(metadata, dict):
            continue
        delay = metadata.get("quotaResetDelay")
        if isinstance(delay, str) and (seconds := parse_duration(delay)) is not None:
            return seconds
        stamp = metadata.get("quotaResetTimeStamp")
        if isinstance(stamp, str):
            try:
                when = datetime.fromisoformat(stamp).timestamp()
            except ValueError:
                continue
            return max(0.0, when - (time.time() if now is None else now))
    return None


def _fit_thinking(body: dict[str, Any], model: str) -> None:
    """Gemini 2.x takes only ``thinkingBudget``; ``thinkingLevel`` is a Gemini 3 field. Convert
    a level to the budget of the one effort table (copying, never editing the client's dict)."""
    config = body.get("generationConfig")
    if not isinstance(config, dict):
        return
    thinking = config.get("thinkingConfig")
    if not isinstance(thinking, dict) or "thinkingLevel" not in thinking:
        return
    if model.removeprefix("models/").startswith("gemini-3"):
        return
    level = str(thinking["thinkingLevel"]).lower()
    fitted = {k: v for k, v in thinking.items() if k != "thinkingLevel"}
    if level in LEVEL_TO_BUDGET and "thinkingBudget" not in fitted:
        fitted["thinkingBudget"] = LEVEL_TO_BUDGET[level]
    body["generationConfig"] = {**config, "thinkingConfig": fitted}
