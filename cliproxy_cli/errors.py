"""The exception tree of cliproxy.

    CliproxyError
    ├── ConfigError
    ├── CredentialError
    │   ├── NoCredentialsError
    │   ├── AccountNotFoundError
    │   └── StoreUnavailableError
    ├── LoginError
    │   ├── OAuthError
    │   └── CallbackTimeoutError
    ├── UpstreamError            (kind, status, retry_after, provider)
    ├── TranslationError
    │   └── UnsupportedFeatureError
    ├── NoAccountAvailableError  (retry_after)
    └── ClientRequestError       (bad inbound request; http_status varies)
        ├── UnknownModelError
        ├── PayloadTooLargeError
        └── UnsupportedMediaTypeError

Class attributes carry the mapping to exit codes (CLI) and HTTP status / error type (server);
instances carry facts and an optional ``hint`` naming the fix.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar


class ErrorKind(StrEnum):
    """How an upstream failure is classified; routing acts on it."""

    QUOTA = "quota"
    AUTH = "auth"
    TRANSIENT = "transient"
    BAD_REQUEST = "bad_request"


class CliproxyError(Exception):
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500
    error_type: ClassVar[str] = "server_error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(CliproxyError):
    exit_code = 2


class CredentialError(CliproxyError):
    exit_code = 3
    http_status = 401
    error_type = "authentication_error"


class NoCredentialsError(CredentialError):
    pass


class AccountNotFoundError(CredentialError):
    http_status = 404
    error_type = "not_found_error"


class StoreUnavailableError(CredentialError):
    http_status = 500
    error_type = "server_error"


class LoginError(CliproxyError):
    exit_code = 4


class OAuthError(LoginError):
    pass


class CallbackTimeoutError(LoginError):
    pass


class UpstreamError(CliproxyError):
    """A provider answered with an error (or could not be reached)."""

    http_status = 502
    error_type = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind,
        status: int,
        provider: str,
        retry_after: float | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        hint: str | None = None,
        bootstrap: bool = False,
        scope: str = "model",
    ) -> None:
        super().__init__(message, hint=hint)
        self.bootstrap = bootstrap  # failed before the first byte of a stream
        # "model" when the upstream's quota is per model (Gemini), "account" when one limit
        # covers every model of the account (Claude, Codex, Qwen subscriptions)
        self.scope = scope
        self.kind = kind
        self.status = status
        self.provider = provider
        self.retry_after = retry_after
        self.body = body
        self.content_type = content_type


class TranslationError(CliproxyError):
    http_status = 400
    error_type = "invalid_request_error"


class UnsupportedFeatureError(TranslationError):
    http_status = 501
    error_type = "not_implemented"


class NoAccountAvailableError(CliproxyError):
    """Every account that serves the model is cooling down (or unusable)."""

    http_status = 429
    error_type = "rate_limit_error"

    def __init__(
        self, message: str, *, retry_after: float | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


class ClientRequestError(CliproxyError):
    """The inbound request is malformed: the client's fault, a 4xx."""

    http_status = 400
    error_type = "invalid_request_error"

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status if status is not None else type(self).http_status


class UnknownModelError(ClientRequestError):
    http_status = 404
    error_type = "not_found_error"


class PayloadTooLargeError(ClientRequestError):
    http_status = 413
    error_type = "request_too_large"


class UnsupportedMediaTypeError(ClientRequestError):
    http_status = 415
    error_type = "invalid_request_error"


class AuthenticationRequiredError(ClientRequestError):
    http_status = 401
    error_type = "authentication_error"


class TokenRevokedError(CredentialError):
    """The provider refused the refresh token (revoked / invalid_grant): log in again."""
