"""Fake authorization servers, one per vendor, speaking each vendor's real wire shapes.

Each fake is a callable ``httpx.Request -> httpx.Response`` (use it with ``httpx.MockTransport``)
and, with ``start()``, a real HTTP server on 127.0.0.1 (ephemeral port, own thread) for
subprocess tests. Every request is recorded. Authorize endpoints answer with a 302 to
``redirect_uri`` carrying ``code`` and ``state`` (or ``error=access_denied`` when ``deny`` is set);
token endpoints check the grant type, client id, redirect URI, PKCE verifier (S256) and client
secret / Basic auth where the vendor uses them, and reject anything else with a vendor-shaped
error. ``endpoints()`` gives the ``endpoints`` table entries pointing at the fake.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from cliproxy_cli.endpoints import env_var
from cliproxy_cli.oauth.clients import CLAUDE, CODEX, GOOGLE, IFLOW, QWEN


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def make_jwt(claims: Mapping[str, Any]) -> str:
    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(dict(claims))}.{'c2ln' * 8}"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    state: str
    challenge: str = ""
    method: str = ""


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


class FakeAuthServer:
    """The shared machinery: routing, recording, codes, the optional real HTTP server."""

    vendor: ClassVar[str] = ""
    host: ClassVar[str] = "fake.test"

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.codes: dict[str, Grant] = {}
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.deny = False
        self.token_error: tuple[int, Any] | None = None  # (status, body) for the next exchanges
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.routes: dict[tuple[str, str], Callable[[Recorded], httpx.Response]] = {}

    # -- the callable ---------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        recorded = Recorded(request.method, request.url.path, dict(request.url.params.items()),
                            {k.lower(): v for k, v in request.headers.items()}, body)
        self.requests.append(recorded)
        handler = self.routes.get((request.method, request.url.path))
        if handler is None:
            return _json(404, {"error": "not_found", "path": request.url.path})
        return handler(recorded)

    def calls(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # -- the real server ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            return f"http://{self.vendor}.{self.host}"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeAuthServer:
        app = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(self.command, f"http://{self.headers['Host']}{self.path}",
                                        headers=list(self.headers.items()), content=body)
                response = app(request)
                content = response.read()
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeAuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def endpoints(self) -> dict[str, str]:
        raise NotImplementedError

    def environ(self) -> dict[str, str]:
        """``CLIPROXY_ENDPOINT_*`` variables pointing every endpoint of this vendor here."""
        return {env_var(name): url for name, url in self.endpoints().items()}

    # -- authorize ------------------------------------------------------------------------------

    def authorize(self, request: Recorded, *, client_id: str, redirect_key: str = "redirect_uri",
                  pkce: bool = True, required: Mapping[str, str] | None = None) -> httpx.Response:
        q = request.query
        problems = [k for k, v in (required or {}).items() if q.get(k) != v]
        if q.get("client_id") != client_id:
            problems.append("client_id")
        if not q.get(redirect_key, "").startswith("http://localhost:"):
            problems.append(redirect_key)
        if not q.get("state"):
            problems.append("state")
        if pkce and (q.get("code_challenge_method") != "S256" or not q.get("code_challenge")):
            problems.append("code_challenge")
        if problems:
            return httpx.Response(400, text=f"bad authorize request: {', '.join(problems)}")
        redirect, state = q[redirect_key], q["state"]
        if self.deny:
            params = {"error": "access_denied", "error_description": "The user denied access",
                      "state": state}
        else:
            code = f"{self.vendor}-code-{secrets.token_hex(8)}"
            self.codes[code] = Grant(client_id, redirect, state, q.get("code_challenge", ""),
                                     q.get("code_challenge_method", ""))
            params = {"code": code, "state": state}
        return httpx.Response(302, headers={"Location": f"{redirect}?{urlencode(params)}"})

    def check_code(self, fields: Mapping[str, str], *, client_id: str,
                   pkce: bool = True) -> str | None:
        """The reason an authorization_code exchange is invalid, or None when it is good."""
        if fields.get("grant_type") != "authorization_code":
            return "grant_type"
        grant = self.codes.pop(fields.get("code", ""), None)
        if grant is None:
            return "unknown or reused code"
        if fields.get("client_id") != client_id or grant.client_id != client_id:
            return "client_id"
        if fields.get("redirect_uri") != grant.redirect_uri:
            return "redirect_uri"
        if pkce and s256(fields.get("code_verifier", "")) != grant.challenge:
            return "code_verifier"
        return None

    def issue(self, prefix: str) -> tuple[str, str]:
        access = f"{prefix}access-{secrets.token_hex(12)}"
        refresh = f"{prefix}refresh-{secrets.token_hex(12)}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return access, refresh

    def bearer_ok(self, request: Recorded) -> bool:
        auth = request.headers.get("authorization", "")
        return auth.startswith("Bearer ") and auth[7:] in self.access_tokens


# -- Claude ----------------------------------------------------------------------------------------


class FakeClaude(FakeAuthServer):
    vendor = "claude"

    def __init__(self, *, email: str = "claude-user@example.com") -> None:
        super().__init__()
        self.email = email
        self.routes = {("GET", "/oauth/authorize"): self._authorize,
                       ("POST", "/v1/oauth/token"): self._token}

    def endpoints(self) -> dict[str, str]:
        return {"claude.authorize": f"{self.base_url}/oauth/authorize",
                "claude.token": f"{self.base_url}/v1/oauth/token"}

    def _authorize(self, request: Recorded) -> httpx.Response:
        return self.authorize(request, client_id=CLAUDE.client_id,
                              required={"code": "true", "response_type": "code",
                                        "scope": " ".join(CLAUDE.scopes)})

    def _token(self, request: Recorded) -> httpx.Response:
        if request.headers.get("content-type") != "application/json":
            return _json(400, {"error": "invalid_request", "error_description": "JSON body"})
        body = request.json()
        if self.token_error:
            return _json(*self.token_error)
        if body.get("grant_type") == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return _json(400, {"error": "invalid_grant",
                                   "error_description": "Refresh token not found or invalid"})
            return self._tokens()
        grant = self.codes.get(body.get("code", ""))
        if grant is not None and body.get("state") != grant.state:
            return _json(400, {"error": "invalid_grant", "error_description": "state mismatch"})
        problem = self.check_code(body, client_id=CLAUDE.client_id)
        if problem:
            return _json(400, {"error": "invalid_grant", "error_description": problem})
        return self._tokens()

    def _tokens(self) -> httpx.Response:
        access, refresh = self.issue("sk-ant-oat01-")
        return _json(200, {
            "token_type": "Bearer", "access_token": access, "expires_in": 28800,
            "refresh_token": refresh, "scope": "user:inference user:profile",
            "organization": {"uuid": "org-0000", "name": "Example Org"},
            "account": {"uuid": "acct-0000", "email_address": self.email},
        })


# -- Codex -----------------------------------------------------------------------------------------


class FakeCodex(FakeAuthServer):
    vendor = "codex"

    def __init__(self, *, email: str = "codex-user@example.com", plan: str = "plus",
                 account_id: str = "00000000-1111-2222-3333-444444444444") -> None:
        super().__init__()
        self.email, self.plan, self.account_id = email, plan, account_id
        self.routes = {("GET", "/oauth/authorize"): self._authorize,
                       ("POST", "/oauth/token"): self._token}

    def endpoints(self) -> dict[str, str]:
        return {"codex.authorize": f"{self.base_url}/oauth/authorize",
                "codex.token": f"{self.base_url}/oauth/token"}

    def _authorize(self, request: Recorded) -> httpx.Response:
        return self.authorize(request, client_id=CODEX.client_id, required={
            "response_type": "code", "scope": " ".join(CODEX.scopes), "prompt": "login",
            "id_token_add_organizations": "true", "codex_cli_simplified_flow": "true"})

    def id_token(self) -> str:
        claims: dict[str, Any] = {"iss": "https://auth.openai.com", "aud": [CODEX.client_id],
                                  "exp": 2_000_000_000, "iat": 1_700_000_000,
                                  "https://api.openai.com/auth": {
                                      "chatgpt_account_id": self.account_id,
                                      "chatgpt_plan_type": self.plan,
                                      "chatgpt_user_id": "user-0000"}}
        if self.email:
            claims["email"] = self.email
        return make_jwt(claims)

    def _token(self, request: Recorded) -> httpx.Response:
        if not request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"):
            return _json(400, {"error": "invalid_request"})
        fields = request.form()
        if self.token_error:
            return _json(*self.token_error)
        problem = self.check_code(fields, client_id=CODEX.client_id)
        if problem:
            return _json(400, {"error": "invalid_grant", "error_description": problem})
        access, refresh = self.issue("")
        return _json(200, {"id_token": self.id_token(), "access_token": make_jwt({"a": access}),
                           "refresh_token": f"rt_{refresh}", "expires_in": 864000,
                           "token_type": "Bearer"})


# -- Google + Code Assist --------------------------------------------------------------------------


@dataclass
class CodeAssistScript:
    """How the fake Code Assist answers. ``mode``: ``existing`` (onboarded, with a project),
    ``onboard`` (not yet: onboardUser runs ``pending_polls`` times ``done:false``), ``ineligible``
    (Google's structured reasons), ``needs_project`` (a tier, no project), ``refused`` (403)."""

    mode: str = "existing"
    project: str = "cheerful-fox-12345"
    tier: str = "free-tier"
    pending_polls: int = 1
    named_operation: bool = True
    loads: list[dict[str, Any]] = field(default_factory=list)
    onboards: list[dict[str, Any]] = field(default_factory=list)


INELIGIBLE_REASON = ("Gemini Code Assist for individuals is no longer available through Gemini "
                     "CLI sign-in for this account.")


class FakeGoogle(FakeAuthServer):
    vendor = "google"

    def __init__(self, *, email: str = "gemini-user@example.com",
                 code_assist: CodeAssistScript | None = None) -> None:
        super().__init__()
        self.email = email
        self.code_assist = code_assist or CodeAssistScript()
        self._polls = 0
        self.routes = {
            ("GET", "/o/oauth2/v2/auth"): self._authorize,
            ("POST", "/token"): self._token,
            ("GET", "/oauth2/v1/userinfo"): self._userinfo,
            ("POST", "/v1internal:loadCodeAssist"): self._load,
            ("POST", "/v1internal:onboardUser"): self._onboard,
            ("GET", "/v1internal/operations/onboard-1"): self._operation,
        }

    def endpoints(self) -> dict[str, str]:
        return {"google.authorize": f"{self.base_url}/o/oauth2/v2/auth",
                "google.token": f"{self.base_url}/token",
                "google.userinfo": f"{self.base_url}/oauth2/v1/userinfo",
                "gemini.code-assist": self.base_url}

    def _authorize(self, request: Recorded) -> httpx.Response:
        return self.authorize(request, client_id=GOOGLE.client_id, required={
            "response_type": "code", "scope": " ".join(GOOGLE.scopes),
            "access_type": "offline", "prompt": "consent"})

    def _token(self, request: Recorded) -> httpx.Response:
        fields = request.form()
        if self.token_error:
            return _json(*self.token_error)
        if fields.get("client_secret") != GOOGLE.client_secret:
            return _json(401, {"error": "invalid_client", "error_description": "Unauthorized"})
        problem = self.check_code(fields, client_id=GOOGLE.client_id)
        if problem:
            return _json(400, {"error": "invalid_grant", "error_description": problem})
        access, refresh = self.issue("ya29.")
        return _json(200, {"access_token": access, "expires_in": 3599, "refresh_token": refresh,
                           "scope": " ".join(GOOGLE.scopes), "token_type": "Bearer",
                           "id_token": make_jwt({"email": self.email})})

    def _userinfo(self, request: Recorded) -> httpx.Response:
        if not self.bearer_ok(request):
            return _json(401, {"error": {"code": 401, "message": "Invalid Credentials",
                                         "status": "UNAUTHENTICATED"}})
        return _json(200, {"id": "1234567890", "email": self.email, "verified_email": True,
                           "picture": "https://example.com/p.png"})

    def _load(self, request: Recorded) -> httpx.Response:
        if not self.bearer_ok(request):
            return _json(401, {"error": {"code": 401, "message": "Request had invalid "
                                         "authentication credentials.",
                                         "status": "UNAUTHENTICATED"}})
        script = self.code_assist
        script.loads.append(request.json())
        free = {"id": "free-tier", "name": "Gemini Code Assist for individuals",
                "isDefault": True, "userDefinedCloudaicompanionProject": False}
        standard = {"id": "standard-tier", "name": "Gemini Code Assist Standard",
                    "userDefinedCloudaicompanionProject": True}
        match script.mode:
            case "existing":
                return _json(200, {"currentTier": {**free, "id": script.tier},
                                   "allowedTiers": [free, standard],
                                   "cloudaicompanionProject": script.project})
            case "needs_project":
                return _json(200, {"currentTier": standard, "allowedTiers": [standard]})
            case "onboard":
                return _json(200, {"allowedTiers": [free, standard]})
            case "ineligible":
                return _json(200, {"allowedTiers": [standard], "ineligibleTiers": [{
                    "reasonCode": "INELIGIBLE_ACCOUNT", "reasonMessage": INELIGIBLE_REASON,
                    "tierId": "free-tier", "tierName": "Gemini Code Assist for individuals"}]})
            case "refused":
                return _json(403, {"error": {
                    "code": 403, "status": "PERMISSION_DENIED",
                    "message": "The caller does not have permission",
                    "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                 "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}]}})
        raise AssertionError(script.mode)

    def _onboard(self, request: Recorded) -> httpx.Response:
        if not self.bearer_ok(request):
            return _json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED",
                                         "message": "bad token"}})
        self.code_assist.onboards.append(request.json())
        return self._operation(request)

    def _operation(self, request: Recorded) -> httpx.Response:
        script = self.code_assist
        if self._polls < script.pending_polls:
            self._polls += 1
            body: dict[str, Any] = {"done": False}
            if script.named_operation:
                body["name"] = "operations/onboard-1"
            return _json(200, body)
        return _json(200, {"name": "operations/onboard-1", "done": True, "response": {
            "@type": "type.googleapis.com/google.internal.cloud.code.v1internal."
                     "OnboardUserResponse",
            "cloudaicompanionProject": {"id": script.project, "name": script.project}}})


# -- Qwen ------------------------------------------------------------------------------------------


class FakeQwen(FakeAuthServer):
    """Device flow. Polls answer ``script`` first (e.g. ``["authorization_pending",
    "slow_down"]``), then ``authorization_pending`` until the verification page was visited
    (``approve()``), then tokens. ``refuse`` makes the device endpoint answer an error body."""

    vendor = "qwen"

    def __init__(self, *, script: list[str] | None = None, require_approval: bool = True,
                 interval: int = 5) -> None:
        super().__init__()
        self.script = list(script or [])
        self.interval = interval
        self.require_approval = require_approval
        self.approved = False
        self.refuse: tuple[int, Any] | None = None
        self.device: dict[str, str] = {}
        self.routes = {("POST", "/api/v1/oauth2/device/code"): self._device,
                       ("POST", "/api/v1/oauth2/token"): self._token,
                       ("GET", "/authorize"): self._verify}

    def endpoints(self) -> dict[str, str]:
        return {"qwen.device-code": f"{self.base_url}/api/v1/oauth2/device/code",
                "qwen.token": f"{self.base_url}/api/v1/oauth2/token"}

    def approve(self) -> None:
        self.approved = True

    def _device(self, request: Recorded) -> httpx.Response:
        if self.refuse:
            return _json(*self.refuse)
        fields = request.form()
        if (fields.get("client_id") != QWEN.client_id
                or fields.get("scope") != " ".join(QWEN.scopes)
                or fields.get("code_challenge_method") != "S256"
                or not fields.get("code_challenge")):
            return _json(400, {"error": "invalid_request"})
        user_code = "ABCD-1234"
        self.device = {"device_code": f"dev-{secrets.token_hex(8)}",
                       "challenge": fields["code_challenge"]}
        return _json(200, {
            "device_code": self.device["device_code"], "user_code": user_code,
            "verification_uri": f"{self.base_url}/authorize",
            "verification_uri_complete": f"{self.base_url}/authorize?user_code={user_code}"
                                         "&client=qwen-code",
            "expires_in": 900, "interval": self.interval})

    def _verify(self, request: Recorded) -> httpx.Response:
        self.approve()
        return httpx.Response(200, text="<html>Approved</html>")

    def _token(self, request: Recorded) -> httpx.Response:
        fields = request.form()
        if (fields.get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code"
                or fields.get("client_id") != QWEN.client_id
                or fields.get("device_code") != self.device.get("device_code")):
            return _json(400, {"error": "invalid_request", "error_description": "bad poll"})
        if s256(fields.get("code_verifier", "")) != self.device.get("challenge"):
            return _json(400, {"error": "invalid_grant", "error_description": "code_verifier"})
        if self.script:
            error = self.script.pop(0)
            return _json(400, {"error": error, "error_description": f"fake {error}"})
        if self.require_approval and not self.approved:
            return _json(400, {"error": "authorization_pending",
                               "error_description": "The authorization request is pending"})
        access, refresh = self.issue("")
        return _json(200, {"access_token": access, "refresh_token": refresh,
                           "token_type": "Bearer", "resource_url": "portal.qwen.ai",
                           "expires_in": 21600})


# -- iFlow -----------------------------------------------------------------------------------------


class FakeIflow(FakeAuthServer):
    vendor = "iflow"

    def __init__(self, *, email: str = "", phone: str = "13800000000",
                 api_key: str = "sk-iflow-fake-api-key-0001") -> None:
        super().__init__()
        self.email, self.phone, self.api_key = email, phone, api_key
        self.userinfo_refusal: dict[str, Any] | None = None
        self.routes = {("GET", "/oauth"): self._authorize, ("POST", "/oauth/token"): self._token,
                       ("GET", "/api/oauth/getUserInfo"): self._userinfo}

    def endpoints(self) -> dict[str, str]:
        return {"iflow.authorize": f"{self.base_url}/oauth",
                "iflow.token": f"{self.base_url}/oauth/token",
                "iflow.userinfo": f"{self.base_url}/api/oauth/getUserInfo"}

    def _authorize(self, request: Recorded) -> httpx.Response:
        return self.authorize(request, client_id=IFLOW.client_id, redirect_key="redirect",
                              pkce=False, required={"loginMethod": "phone", "type": "phone"})

    def _token(self, request: Recorded) -> httpx.Response:
        expected = "Basic " + base64.b64encode(
            f"{IFLOW.client_id}:{IFLOW.client_secret}".encode()).decode()
        if self.token_error:
            return _json(*self.token_error)
        fields = request.form()
        if (request.headers.get("authorization") != expected
                or fields.get("client_secret") != IFLOW.client_secret):
            return _json(401, {"error": "invalid_client"})
        problem = self.check_code(fields, client_id=IFLOW.client_id, pkce=False)
        if problem:
            return _json(400, {"error": "invalid_grant", "error_description": problem})
        access, refresh = self.issue("")
        return _json(200, {"access_token": access, "refresh_token": refresh,
                           "expires_in": 172800, "token_type": "bearer", "scope": "read"})

    def _userinfo(self, request: Recorded) -> httpx.Response:
        if self.userinfo_refusal is not None:
            return _json(200, self.userinfo_refusal)
        if request.query.get("accessToken") not in self.access_tokens:
            return _json(200, {"success": False, "code": "401", "message": "token invalid"})
        return _json(200, {"success": True, "code": "200", "message": "ok", "data": {
            "apiKey": self.api_key, "email": self.email, "phone": self.phone,
            "nickname": "fake"}})


FAKES: dict[str, type[FakeAuthServer]] = {
    "gemini": FakeGoogle, "claude": FakeClaude, "codex": FakeCodex, "qwen": FakeQwen,
    "iflow": FakeIflow,
}


def callback_from_authorize(fake: FakeAuthServer, url: str) -> str:
    """What a browser does at the consent page: the fake's redirect ``Location``."""
    response = fake(httpx.Request("GET", url))
    assert response.status_code == 302, response.text
    return response.headers["location"]


def tamper_state(location: str) -> str:
    parts = urlsplit(location)
    params = dict(parse_qsl(parts.query))
    params["state"] = "forged-state"
    return parts._replace(query=urlencode(params)).geturl()
