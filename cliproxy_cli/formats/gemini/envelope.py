"""The Gemini CLI Cloud Code Assist envelope (``cloudcode-pa …/v1internal:*``).

Requests are ``{"model", "project", "request": <generateContent body>}``; every response body
and SSE chunk is ``{"response": <GenerateContentResponse>, "traceId"}``. ``countTokens`` takes
``{"request": {"model": "models/<m>", "contents"}}`` (what Gemini CLI's ``toCountTokenRequest``
sends) and answers a bare ``{"totalTokens"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy_cli.formats.gemini import _wire as w


def wrap_request(body: Mapping[str, Any], model: str, project: str) -> dict[str, Any]:
    return {"model": model, "project": project, "request": dict(body)}


def unwrap_request(envelope: Mapping[str, Any]) -> tuple[dict[str, Any], str, str]:
    """(generateContent body, model, project) of a Cloud Code request."""
    envelope = w.as_map(envelope, "envelope")
    body = w.as_map(envelope.get("request"), "envelope.request")
    model = w.opt_str(envelope.get("model"), "envelope.model") or ""
    project = w.opt_str(envelope.get("project"), "envelope.project") or ""
    return dict(body), model, project


def wrap_count_tokens(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """``body`` is a generateContent or countTokens body (``{contents}`` or
    ``{generateContentRequest}``); Cloud Code counts ``contents`` only."""
    body = w.as_map(body, "countTokens body")
    inner = w.field(body, "generateContentRequest")
    contents = w.field(inner if isinstance(inner, Mapping) else body, "contents")
    qualified = model if model.startswith("models/") else f"models/{model}"
    return {"request": {"model": qualified, "contents": list(contents or [])}}


def wrap_response(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"response": dict(body)}


def unwrap_response(body: Mapping[str, Any]) -> dict[str, Any]:
    """The GenerateContentResponse inside ``{"response": …, "traceId"}`` (a body that is not
    wrapped, such as an error, comes back as it is)."""
    body = w.as_map(body, "response")
    inner = body.get("response")
    return dict(inner) if isinstance(inner, Mapping) else dict(body)


__all__ = ["unwrap_request", "unwrap_response", "wrap_count_tokens", "wrap_request",
           "wrap_response"]
