"""OpenAI Responses upstreams: ``codex-api-key`` entries and ChatGPT (Codex) login accounts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Final

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
)

CODEX_VERSION: Final = "0.101.0"
CODEX_USER_AGENT: Final = f"codex_cli_rs/{CODEX_VERSION} (Mac OS 26.0.1; arm64) Apple_Terminal/464"
# The ChatGPT backend rejects these (anchor §5.4).
_DROPPED_FOR_OAUTH: Final = ("previous_response_id", "prompt_cache_retention", "safety_identifier",
                             "max_output_tokens", "temperature", "top_p")


class CodexProvider:
    name = "codex"

    def wire_format(self, credential: Credential) -> Format:
        return Format.OPENAI_RESPONSES

    def can_count_tokens(self, credential: Credential) -> bool:
        return False

    def build(self, call: UpstreamCall, endpoints: EndpointTable) -> UpstreamRequest:
        cred = call.credential
        body = call.body
        body["model"] = call.upstream_model
        headers = {"content-type": "application/json"}
        if cred.kind == "api_key":
            base = cred.base_url or endpoints.url("codex.api")
            body["stream"] = call.stream
            headers["authorization"] = f"Bearer {cred.api_key}"
            stream = call.stream
        else:
            assert call.secret is not None and cred.account is not None
            base = endpoints.url("codex.api")
            # The ChatGPT Codex backend only streams and keeps nothing: store false, instructions set.
            body["stream"] = True
            body["store"] = False
            body.setdefault("instructions", "")
            for key in _DROPPED_FOR_OAUTH:
                body.pop(key, None)
            include = body.get("include")
            if isinstance(include, list) and "reasoning.encrypted_content" not in include:
                include.append("reasoning.encrypted_content")
            elif include is None:
                body["include"] = ["reasoning.encrypted_content"]
            headers.update({
                "authorization": f"Bearer {call.secret.access_token}",
                "chatgpt-account-id": cred.account.account_id,
                "originator": "codex_cli_rs",
                "version": CODEX_VERSION,
                "session_id": call.client_headers.get("session_id", str(uuid.uuid4())),
                "user-agent": CODEX_USER_AGENT,
            })
            stream = True
        headers["accept"] = "text/event-stream" if stream else "application/json"
        merge_headers(headers, cred.headers)
        return UpstreamRequest(url=join_url(base, "/responses"), headers=headers,
                               body=orjson.dumps(body), stream=stream)

    def classify(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        err = default_classify(self.name, status, headers, body)
        data = json_body(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or error.get("type") or "")
            if code in ("usage_limit_reached", "rate_limit_exceeded", "insufficient_quota",
                        "usage_not_included"):
                err.kind = ErrorKind.QUOTA
                resets = error.get("resets_in_seconds")
                if isinstance(resets, int | float) and err.retry_after is None:
                    err.retry_after = float(resets)
            elif code in ("invalid_api_key", "token_expired", "invalid_token"):
                err.kind = ErrorKind.AUTH
            elif code in ("invalid_request_error", "context_length_exceeded", "model_not_found"):
                err.kind = ErrorKind.BAD_REQUEST
        return err
