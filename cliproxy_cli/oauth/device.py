"""The device authorization grant (RFC 8628): show a code, poll the token endpoint.

Polling honours the server's ``interval`` (CLIProxyAPI ignores it and polls every 5 s),
``authorization_pending`` (keep going), ``slow_down`` (+5 s for this and every later poll, as the
RFC says), ``expired_token`` and ``access_denied`` (stop, with a clear message). Sleep and clock
are injected so tests never wait.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import anyio
import httpx

from cliproxy_cli.errors import LoginError, OAuthError
from cliproxy_cli.oauth.flow import Clock, Sleep, vendor_failure, vendor_message
from cliproxy_cli.redact import mask

logger = logging.getLogger(__name__)

DEVICE_GRANT: Final = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL: Final = 5.0
DEFAULT_EXPIRES_IN: Final = 600.0
SLOW_DOWN_STEP: Final = 5.0
MAX_INTERVAL: Final = 60.0
MAX_TRANSPORT_FAILURES: Final = 3


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """The device authorization answer. The repr masks the device code."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str = ""
    expires_in: float = DEFAULT_EXPIRES_IN
    interval: float = DEFAULT_INTERVAL

    def __repr__(self) -> str:
        return (f"DeviceCode(device_code={mask(self.device_code)!r}, user_code={self.user_code!r},"
                f" verification_uri={self.verification_uri!r})")

    @property
    def browser_url(self) -> str:
        """Where to send the person: the URL with the code filled in, when the vendor gives one."""
        return self.verification_uri_complete or self.verification_uri

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, vendor: str) -> DeviceCode:
        device_code, user_code = data.get("device_code"), data.get("user_code")
        uri = data.get("verification_uri_complete") or data.get("verification_uri")
        if not (isinstance(device_code, str) and device_code and isinstance(user_code, str)
                and isinstance(uri, str) and uri):
            said = vendor_message(data) or "no device_code/user_code/verification_uri in the answer"
            raise OAuthError(f"{vendor} did not start the device login: {said}",
                             hint="the message above is the vendor's own")
        return cls(
            device_code=device_code,
            user_code=user_code,
            verification_uri=str(data.get("verification_uri") or uri),
            verification_uri_complete=str(data.get("verification_uri_complete") or ""),
            expires_in=_positive(data.get("expires_in"), DEFAULT_EXPIRES_IN),
            interval=_positive(data.get("interval"), DEFAULT_INTERVAL),
        )


def _positive(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


async def poll_for_token(
    client: httpx.AsyncClient,
    url: str,
    form: Mapping[str, str],
    *,
    vendor: str,
    interval: float = DEFAULT_INTERVAL,
    expires_in: float = DEFAULT_EXPIRES_IN,
    headers: Mapping[str, str] | None = None,
    sleep: Sleep = anyio.sleep,
    clock: Clock = time.monotonic,
) -> dict[str, Any]:
    """Poll ``url`` with ``form`` until the person approves; return the token answer."""
    deadline = clock() + expires_in
    failures = 0
    while True:
        await sleep(interval)
        if clock() >= deadline:
            raise expired_error(vendor)
        try:
            response = await client.post(url, data=dict(form), headers=dict(headers or {}))
        except httpx.TransportError as exc:
            failures += 1
            logger.debug("device poll transport error vendor=%s error=%s", vendor,
                         type(exc).__name__)
            if failures >= MAX_TRANSPORT_FAILURES:
                raise LoginError(
                    f"could not reach {vendor} while waiting for the approval "
                    f"({type(exc).__name__})",
                    hint="check the network and `proxy-url`, then log in again",
                ) from exc
            continue
        failures = 0
        data = _json_object(response)
        if response.is_success and data.get("access_token"):
            return data
        error = data.get("error")
        if isinstance(error, dict):  # some vendors nest it: {"error": {"code": …}}
            error = error.get("code") or error.get("type")
        match error:
            case "authorization_pending":
                continue
            case "slow_down":
                interval = min(interval + SLOW_DOWN_STEP, MAX_INTERVAL)
                logger.debug("device poll slow_down vendor=%s interval=%s", vendor, interval)
                continue
            case "expired_token":
                raise expired_error(vendor)
            case "access_denied":
                raise OAuthError(f"{vendor} authorization was denied (access_denied)",
                                 hint="run the login again and approve the access")
            case _:
                raise vendor_failure(vendor, "device login", response)


def expired_error(vendor: str) -> LoginError:
    return LoginError(f"the {vendor} device code expired before it was approved",
                      hint="run the login again and confirm the code in the browser sooner")
